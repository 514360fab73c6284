"""`ragqa bench` (`make bench`): ingest time, index load time, and /v1/ask latency over a gold set's questions.

Latency is measured twice, each question asked `--rounds` times after one warm-up pass: through a
real `ragqa serve` (uvicorn) on a loopback port, one client asking one question at a time
(`served_ask_*`: what a user's request takes, sockets and JSON included), and through the HTTP
stack in-process (FastAPI TestClient: `ask_*`, `search_*`, `records_*`; its portal between threads
adds about 12 ms a request here). Memory is the bench process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ragqa.ingest.errors import ConfigError, ReadError

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from .pipeline import Pipeline


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _records_latency(client: TestClient, pipeline: Pipeline, rounds: int) -> dict[str, object]:
    """GET /v1/records latency: one query per leading official and per lead unit of the index."""
    book = pipeline.records()
    queries = [{"person": p} for p in sorted(book.persons)] + [{"unit": u, "role": "lead"} for u in sorted(book.unit_keys)[:40]]
    if not queries:
        return {"records_requests": 0}
    times = []
    for _ in range(rounds):
        for params in queries:
            t = time.perf_counter()
            client.get("/v1/records", params=params).raise_for_status()
            times.append((time.perf_counter() - t) * 1000)
    return {"records": len(book.records), "records_requests": len(times), "records_p50_ms": round(statistics.median(times), 1),
            "records_p95_ms": round(_pct(times, 0.95), 1)}  # fmt: skip


def _served_latency(index_dir: Path, questions: list[str], rounds: int, cache_dir: Path) -> dict[str, object]:
    """/v1/ask latency through `ragqa serve` on loopback (eval/benchserve.py starts and stops it)."""
    import httpx
    from ragqa.eval.benchserve import start_server

    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(index_dir, questions[0], Path(tmp) / "serve.log", cache_dir)
        try:
            with httpx.Client(timeout=60) as client:
                for q in questions:
                    client.post(server.url + "/v1/ask", json={"question": q}).raise_for_status()
                times = []
                for _ in range(rounds):
                    for q in questions:
                        t = time.perf_counter()
                        client.post(server.url + "/v1/ask", json={"question": q}).raise_for_status()
                        times.append((time.perf_counter() - t) * 1000)
        finally:
            server.stop()
    return {"served_ask_p50_ms": round(statistics.median(times), 1), "served_ask_p95_ms": round(_pct(times, 0.95), 1),
            "served_start_s": round(server.first_answer_s or 0.0, 2)}  # fmt: skip


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", default="samples/corpus", help="folder to ingest (default: samples/corpus)")
    parser.add_argument("--gold", default="eval/gold/dev.jsonl", help="gold set whose questions are asked")
    parser.add_argument("--index", help="benchmark this index instead of the one built from --corpus")
    parser.add_argument("--rounds", type=int, default=3, help="times each question is asked after a warm-up (default 3)")


def run(args: argparse.Namespace) -> int:
    """Print the benchmark as JSON on stdout; progress goes to stderr."""
    from fastapi.testclient import TestClient
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import make_embedder
    from ragqa.index.keyword import configure_jieba

    from .app import create_app
    from .pipeline import Pipeline
    from .settings import get_settings

    for path in (Path(args.corpus), Path(args.gold)):
        if not path.exists():
            raise ReadError(f"{path} does not exist; give --corpus FOLDER and --gold FILE.jsonl")
    if args.rounds < 1:
        raise ConfigError("--rounds must be at least 1")
    settings = get_settings(**({"index_dir": Path(args.index)} if args.index else {}))
    configure_jieba(settings.cache_dir / "jieba")
    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        print(f"bench: ingesting {args.corpus} …", file=sys.stderr)
        started = time.perf_counter()
        built = ingest_paths([Path(args.corpus)], Path(tmp) / "index", make_embedder(settings.embedder))
        report["ingest_s"] = round(time.perf_counter() - started, 2)
        report["chunks"] = built.chunks
        index_dir = Path(args.index) if args.index else Path(tmp) / "index"
        settings = get_settings(index_dir=index_dir)
        started = time.perf_counter()
        pipeline = Pipeline.from_settings(settings)
        report["load_s"] = round(time.perf_counter() - started, 2)
        questions = [json.loads(line)["question"] for line in Path(args.gold).read_text(encoding="utf-8").splitlines() if line.strip()]
        print(f"bench: asking {len(questions)} questions × {args.rounds} rounds …", file=sys.stderr)
        with TestClient(create_app(settings, pipeline)) as client:
            for q in questions:
                client.post("/v1/ask", json={"question": q})
            latencies, search = [], []
            for _ in range(args.rounds):
                for q in questions:
                    t = time.perf_counter()
                    client.post("/v1/ask", json={"question": q}).raise_for_status()
                    latencies.append((time.perf_counter() - t) * 1000)
                    t = time.perf_counter()
                    client.post("/v1/search", json={"query": q, "top_k": 10}).raise_for_status()
                    search.append((time.perf_counter() - t) * 1000)
            report.update(_records_latency(client, pipeline, args.rounds))
        print("bench: the same questions through `ragqa serve` on loopback …", file=sys.stderr)
        report.update(_served_latency(index_dir, questions, args.rounds, settings.cache_dir))
    report.update(
        {
            "ask_requests": len(latencies),
            "ask_p50_ms": round(statistics.median(latencies), 1),
            "ask_p95_ms": round(_pct(latencies, 0.95), 1),
            "search_p50_ms": round(statistics.median(search), 1),
            "search_p95_ms": round(_pct(search, 0.95), 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
    )
    print(json.dumps(report, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ragqa-bench", description=__doc__)
    configure_parser(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
