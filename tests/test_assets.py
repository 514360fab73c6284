"""The browser scripts the service serves are the esbuild build of service/static/src.

service/static/dist/chat.js (the page's script) and dist/widget.js (/widget.js) are committed.
The build is rebuilt here into a temporary folder with the esbuild version pinned in package.json
(installed by `npm ci`, which `make test` runs first) and compared byte for byte, so editing a
module without `make assets` fails the suite. Node, npm or the installed esbuild missing: the
rebuild skips, unless the environment variable CI is set, where it fails. The other checks read
files only and always run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STATIC = REPO / "service" / "static"
SRC = STATIC / "src"
DIST = STATIC / "dist"
BUNDLES = ("chat.js", "widget.js")
BANNED = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function")
LIMIT = 60


def _pinned() -> str:
    return str(json.loads((REPO / "package.json").read_text(encoding="utf-8"))["devDependencies"]["esbuild"])


def _missing(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _missing("node or npm not found: install Node.js 18 or newer (Debian: apt-get install -y nodejs npm)")
    assert node is not None
    installed = REPO / "node_modules" / "esbuild" / "package.json"
    if not installed.exists():
        _missing("esbuild is not installed: run 'npm ci' (make test and make assets do)")
    version = json.loads(installed.read_text(encoding="utf-8"))["version"]
    assert version == _pinned(), f"node_modules holds esbuild {version}, package.json pins {_pinned()}: run 'npm ci'"
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([node, str(SRC / "build.mjs"), str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the build failed:\n{done.stdout}{done.stderr}"
    return out


@pytest.mark.parametrize("name", BUNDLES)
def test_committed_bundle_is_the_build_of_the_sources(rebuilt: Path, name: str) -> None:
    fresh, committed = (rebuilt / name).read_bytes(), (DIST / name).read_bytes()
    assert fresh == committed, f"service/static/dist/{name} is not the build of service/static/src: run 'make assets'"


def test_esbuild_is_pinned_exactly_and_locked() -> None:
    pinned = _pinned()
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"pin an exact esbuild version, not {pinned!r}"
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/esbuild"]["version"] == pinned
    assert lock["packages"][""]["devDependencies"]["esbuild"] == pinned


@pytest.mark.parametrize("name", BUNDLES)
def test_bundle_is_one_strict_function_scope(name: str) -> None:
    text = (DIST / name).read_text(encoding="utf-8")
    banner, strict, code = text.split("\n", 2)
    assert banner.startswith("/*! ragqa ") and banner.endswith("*/") and strict == '"use strict";'
    assert code.startswith("(()=>{") and code.endswith("})();\n")


def test_no_markup_is_ever_parsed() -> None:
    for path in [*sorted(SRC.glob("*.js")), *(DIST / name for name in BUNDLES)]:
        text = path.read_text(encoding="utf-8")
        for banned in BANNED:
            assert banned not in text, f"{path.relative_to(REPO)} uses {banned}"


def test_refusal_is_read_from_the_refused_field_only() -> None:
    """The refusal notice is chosen by the answer's `refused` field, never by the answer's wording."""
    calls = [
        (path.name, line.strip())
        for path in sorted(SRC.glob("*.js"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if "refusalNotice()" in line and "function refusalNotice" not in line
    ]
    assert len(calls) == 1 and calls[0][0] == "thread.js" and "if (t.res && t.res.refused)" in calls[0][1], calls
    wording = re.compile(r"(indexOf|includes|match|test|search|startsWith)\([^)]*(没有找到|沒有找到|无法回答|未找到)")
    for path in sorted(SRC.glob("*.js")):
        assert not wording.search(path.read_text(encoding="utf-8")), f"{path.name} looks at refusal wording"


def test_no_module_function_is_over_60_lines() -> None:
    """Top-level functions of the modules (the only ones: callbacks inside them are short)."""
    start = re.compile(r"^(export )?(async )?function (\w+)")
    long = []
    for path in sorted(SRC.glob("*.js")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = start.match(line)
            if m:
                end = next(j for j in range(i, len(lines)) if lines[j] == "}")
                if end - i + 1 > LIMIT:
                    long.append(f"{path.name}:{i + 1} {m.group(3)} ({end - i + 1} lines)")
    assert not long, "functions over 60 lines: " + "; ".join(long)
