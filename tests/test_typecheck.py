"""mypy sees ragqa's real types: a deliberate type error across a ragqa.* import is caught.

If the package-dir mapping were invisible to mypy (the old configuration), `Document` would be
`Any` and this error would pass unnoticed, which is how `mypy --strict` once checked far less
than it claimed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINKS = REPO / ".ragqa" / "typecheck" / "ragqa"
PARTS = ("ingest", "index", "service", "prompts", "eval")


def test_mypy_resolves_ragqa_imports_and_catches_a_deliberate_error() -> None:
    LINKS.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        link = LINKS / part
        if not link.is_symlink():
            link.symlink_to(Path("../../..") / part)
    wrong = "from ragqa.ingest.model import Document\nn: int = Document('d', 't', ())\n"
    right = "from ragqa.ingest.model import Document\nd: Document = Document('d', 't', ())\n"
    runs = {}
    for name, code in (("wrong", wrong), ("right", right)):
        cmd = [sys.executable, "-m", "mypy", "-c", code]
        runs[name] = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, check=False)
    assert runs["right"].returncode == 0, runs["right"].stdout
    assert runs["wrong"].returncode == 1
    assert 'Incompatible types in assignment (expression has type "Document", variable has type "int")' in runs["wrong"].stdout
