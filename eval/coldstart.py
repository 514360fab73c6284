"""Where a cold start's time goes: the steps `ragqa serve` takes before its first answer, timed
one by one in a fresh process, and the first question profiled (what it loads lazily).

    python -m ragqa.eval.coldstart --index .ragqa/index [--question 东阳2023年GDP增速目标是多少？]

The steps follow `Pipeline.from_settings`: import the app, settings, jieba, load the index, build
and warm the embedder, the rest of the pipeline (answer model), the app; then two questions.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any


def parts(index: Path, question: str, cache: Path) -> dict[str, Any]:
    """Seconds per step, and the first question's slowest functions (cumulative seconds)."""
    out: dict[str, Any] = {}
    t = time.perf_counter()

    def step(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        out[name] = now - t
        t = now

    from ragqa.service import app as app_module  # noqa: F401  (the import is the step)

    step("import_app")
    from ragqa.index.embedders import make_embedder
    from ragqa.index.keyword import configure_jieba
    from ragqa.index.store import load_index, read_manifest
    from ragqa.service.app import create_app
    from ragqa.service.pipeline import Pipeline
    from ragqa.service.settings import get_settings

    settings = get_settings(index_dir=index, cache_dir=cache)
    step("settings")
    configure_jieba(settings.cache_dir / "jieba")
    step("jieba")
    loaded = load_index(index)
    step("load_index")
    embedder = make_embedder(str(read_manifest(index).get("embedder")), settings.embed_threads, settings.cache_dir / "models")
    warm = getattr(embedder, "warm", None)
    if warm is not None:
        warm()
    step("embedder")
    pipeline = Pipeline(settings, loaded, embedder)
    step("pipeline")
    create_app(settings, pipeline)
    step("create_app")
    profile = cProfile.Profile()
    profile.enable()
    pipeline.ask(question)
    profile.disable()
    step("first_question")
    pipeline.ask(question)
    step("second_question")
    stats = pstats.Stats(profile)
    rows = []
    for (filename, line, func), (_, _, _, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        if cumulative >= 0.05:
            rows.append({"function": f"{Path(filename).name}:{line}:{func}", "cumulative_s": round(cumulative, 3)})
    out["first_question_profile"] = sorted(rows, key=lambda r: -float(r["cumulative_s"]))[:25]
    return out


def import_times(modules: str = "ragqa.service.cli, uvicorn, ragqa.service.app, ragqa.service.documents", top: int = 12) -> dict[str, Any]:
    """What `ragqa serve` imports before it can load anything: `python -X importtime` in a fresh
    process; the total, and the slowest third-party packages (cumulative seconds of each one's
    outermost import, what it pulls in included, so the figures overlap)."""
    import subprocess

    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {modules}"], capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        if cumulative.strip().isdigit():
            rows.append((len(name) - len(name.lstrip()) - 1, name.strip(), int(cumulative) / 1e6))
    total = sum(seconds for depth, _, seconds in rows if depth == 0)
    heavy: dict[str, float] = {}
    for _, name, seconds in rows:
        if not name.startswith(("ragqa", "_", "encodings")):
            package = name.split(".")[0]
            heavy[package] = max(heavy.get(package, 0.0), seconds)  # its outermost import is the largest
    ranked = sorted(heavy.items(), key=lambda kv: -kv[1])[:top]
    return {"total_s": total, "slowest_packages_s": dict(ranked)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ragqa.eval.coldstart", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--question", default="东阳2023年地区GDP增速的预期目标定的是多少？")
    parser.add_argument("--cache", type=Path, default=Path(".ragqa/cache"))
    args = parser.parse_args(argv)
    report = parts(args.index, args.question, args.cache)
    report["imports"] = import_times()
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
