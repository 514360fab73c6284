"""The `ragqa` command as a person runs it: real process, real index, one-line errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT


def ragqa(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ragqa.service.cli", *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env=env
    )


def test_help_teaches_with_examples() -> None:
    out = ragqa("--help")
    assert out.returncode == 0 and "ragqa ingest samples/corpus" in out.stdout
    assert "example" in ragqa("search", "--help").stdout


def test_serving_does_not_import_the_eval_tools() -> None:
    """`ragqa serve` builds a parser without eval's and train's arguments, which would import the
    evaluation tools; `ragqa eval --help` and `ragqa train --help` still show theirs."""
    probe = (
        "import sys\nfrom ragqa.service.cli import build_parser\n"
        "args = build_parser('serve').parse_args(['serve', '--port', '8001'])\n"
        "print(args.port, sorted(m for m in sys.modules if m.startswith('ragqa.eval') or m == 'httpx'))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120, check=True)
    assert done.stdout.split() == ["8001", "[]"]
    assert "--min METRIC=VALUE" in ragqa("eval", "--help").stdout
    assert "--gold GOLD.jsonl=INDEX_DIR" in ragqa("--debug", "train", "--help").stdout


def test_ingest_then_search_both_scripts(tmp_path: Path, tiny_corpus: Path) -> None:
    index = tmp_path / "idx"
    out = ragqa("ingest", str(tiny_corpus), "--index", str(index), "--embedder", "hash:32")
    assert out.returncode == 0, out.stderr
    assert "indexed 4 documents (5 files, 1 skipped)" in out.stdout
    assert "binary.txt" in out.stderr
    found = ragqa("search", "縣發改局負責什麼", "--index", str(index), "--json")
    assert found.returncode == 0, found.stderr
    passages = json.loads(found.stdout)["passages"]
    assert passages[0]["doc"] == "計劃.md"
    text = ragqa("search", "大数据局", "--index", str(index), "--top-k", "1")
    shown = re.search(r"规定\.txt:(\d+)(?:-(\d+))?", text.stdout)
    assert shown and "passages in" in text.stderr, text.stdout
    start, end = int(shown[1]), int(shown[2] or shown[1])
    assert start <= 7 <= end, "the passage shows line 7, the clause that matched (with the lines around it)"


def test_errors_are_one_line_and_nonzero(tmp_path: Path) -> None:
    out = ragqa("search", "问题", "--index", str(tmp_path / "none"))
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "ragqa ingest" in out.stderr and "Traceback" not in out.stderr
    bad = ragqa("ingest", str(tmp_path / "missing"), "--index", str(tmp_path / "i"))
    assert bad.returncode == 1 and "no such file" in bad.stderr


def test_bench_prints_json_timings_and_refuses_missing_inputs(tmp_path: Path, tiny_corpus: Path) -> None:
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"id": "t1", "question": "县发改局负责什么", "answers": [], "refs": [], "type": "unanswerable"}) + "\n",
        encoding="utf-8",
    )
    env = {**os.environ, "RAGQA_EMBEDDER": "hash:32", "RAGQA_CACHE_DIR": str(ROOT / ".ragqa" / "cache")}
    out = ragqa("bench", "--corpus", str(tiny_corpus), "--gold", str(gold), "--rounds", "2", env=env)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["chunks"] > 0 and report["ask_requests"] == 2 and report["ask_p50_ms"] > 0
    assert report["served_ask_p50_ms"] > 0 and report["served_ask_p95_ms"] >= report["served_ask_p50_ms"]
    assert "asking 1 questions" in out.stderr
    missing = ragqa("bench", "--gold", str(tmp_path / "none.jsonl"), env=env)
    assert missing.returncode == 1 and "none.jsonl does not exist" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
