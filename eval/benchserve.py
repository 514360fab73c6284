"""The service side of the scale benchmark: `ragqa serve` as a subprocess on a loopback port,
timed from process start to its first answer, then asked over HTTP one at a time and 16 at a
time (threads, one client each). Peak RSS is the server's own high-water mark (VmHWM).

Percentiles are nearest-rank over the client's wall times (loopback HTTP included); the bench
client runs on the same cores as the server, so these are what one small machine does alone.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .metrics import answer_contains

START_TIMEOUT_S = 1800.0  # a 1M-chunk index takes minutes to load


@dataclass(frozen=True)
class Query:
    """A question with what counts as its answer (gold format: answers, must_all, refs)."""

    question: str
    answers: tuple[str, ...] = ()
    must_all: bool = False
    refs: tuple[tuple[str, int, int], ...] = ()

    @staticmethod
    def from_gold(row: dict[str, Any]) -> Query:
        refs = tuple((r["doc"], int(r["start_line"]), int(r["end_line"])) for r in row.get("refs", []))
        return Query(row["question"], tuple(row.get("answers", [])), bool(row.get("must_all")), refs)


def load_queries(path: Path, limit: int | None = None) -> list[Query]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Query.from_gold(r) for r in rows][:limit]


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile `q` (0..1) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ragqa() -> list[str]:
    script = Path(sys.executable).with_name("ragqa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ragqa.service.cli"]


def cpu_s(pid: int) -> float:
    """User + system CPU seconds process `pid` has used (/proc/PID/stat), 0 when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def vm_kib(pid: int, field_name: str) -> int | None:
    """A field of /proc/PID/status in KiB (VmHWM: peak resident set; VmRSS: now)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class Server:
    """A `ragqa serve` subprocess; `started` is the moment before it was spawned."""

    url: str
    process: subprocess.Popen[bytes]
    started: float
    log: Path
    first_answer_s: float | None = None
    loaded: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(index: Path, question: str, log: Path, cache_dir: Path, env: dict[str, str] | None = None) -> Server:
    """Spawn `ragqa serve --index INDEX` and wait until POST /v1/ask answers `question`;
    `first_answer_s` is spawn to that answer. Raises RuntimeError with the log's tail if the
    process dies or does not answer within START_TIMEOUT_S."""
    port = _free_port()
    run_env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
    run_env.update({"RAGQA_CACHE_DIR": str(cache_dir), "RAGQA_LLM_BACKEND": "extractive", "PYTHONUNBUFFERED": "1"})
    run_env.update(env or {})
    cmd = [*_ragqa(), "serve", "--index", str(index), "--port", str(port), "--log-level", "warning"]
    out = log.open("wb")
    started = time.perf_counter()
    process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=run_env)
    server = Server(f"http://127.0.0.1:{port}", process, started, log)
    with httpx.Client(timeout=60) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"ragqa serve exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
            if time.perf_counter() - started > START_TIMEOUT_S:
                server.stop()
                raise RuntimeError(f"ragqa serve did not answer within {START_TIMEOUT_S:.0f} s")
            try:
                response = client.post(server.url + "/v1/ask", json={"question": question})
            except httpx.TransportError:
                time.sleep(0.01)
                continue
            if response.status_code == 200:
                server.first_answer_s = time.perf_counter() - started
                break
            time.sleep(0.01)
        health = client.get(server.url + "/healthz")
        server.loaded = health.json() if health.status_code == 200 else {}
    return server


def _timed(client: httpx.Client, url: str, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    t = time.perf_counter()
    response = client.post(url, json=body)
    elapsed = (time.perf_counter() - t) * 1000
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return elapsed, data


def _hit(passages: list[dict[str, Any]], refs: tuple[tuple[str, int, int], ...], k: int = 5) -> bool:
    return any(p["doc"] == d and p["start_line"] <= e and s <= p["end_line"] for p in passages[:k] for d, s, e in refs)


def measure(server: Server, queries: list[Query], concurrent: int = 16, rounds16: int = 4) -> dict[str, Any]:
    """Search and ask latency (one at a time; then `concurrent` threads asking `rounds16` times
    as many questions as there are threads, cycling the list), hit@5 of the searches and the
    answers' accuracy (gold answers contained, not refused) over the answerable queries."""
    out: dict[str, Any] = {"queries": len(queries), "load1": os.getloadavg()[0]}
    search, ask, hits, right, answerable = [], [], 0, 0, 0
    pid = server.process.pid
    with httpx.Client(timeout=300) as client:
        for q in queries[:3]:
            client.post(server.url + "/v1/search", json={"query": q.question, "top_k": 5})
        cpu = cpu_s(pid)
        for q in queries:
            ms, data = _timed(client, server.url + "/v1/search", {"query": q.question, "top_k": 5})
            search.append(ms)
            hits += bool(q.refs) and _hit(data["passages"], q.refs)
        cpu, out["search_cpu_ms"] = cpu_s(pid), (cpu_s(pid) - cpu) * 1000 / len(queries)
        for q in queries:
            ms, data = _timed(client, server.url + "/v1/ask", {"question": q.question})
            ask.append(ms)
            if q.answers:
                answerable += 1
                right += not data["refused"] and answer_contains(data["answer"], q.answers, q.must_all)
        out["ask_cpu_ms"] = (cpu_s(pid) - cpu) * 1000 / len(queries)
    with_refs = sum(1 for q in queries if q.refs)
    out.update(
        search_p50_ms=statistics.median(search), search_p95_ms=pct(search, 0.95),
        ask_c1_p50_ms=statistics.median(ask), ask_c1_p95_ms=pct(ask, 0.95),
        hit_at_5=hits / with_refs if with_refs else None, answer_accuracy=right / answerable if answerable else None,
    )  # fmt: skip
    out.update(_concurrent(server.url, queries, concurrent, rounds16))
    out["peak_rss_mb"] = (vm_kib(server.process.pid, "VmHWM") or 0) / 1024
    out["rss_mb"] = (vm_kib(server.process.pid, "VmRSS") or 0) / 1024
    return out


def _concurrent(url: str, queries: list[Query], threads: int, rounds: int) -> dict[str, Any]:
    total = max(len(queries), threads * rounds)
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        with httpx.Client(timeout=600) as client:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                try:
                    ms, _ = _timed(client, url + "/v1/ask", {"question": queries[i % len(queries)].question})
                except httpx.HTTPError as exc:
                    with lock:
                        errors.append(str(exc))
                    continue
                with lock:
                    times.append(ms)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    return {
        f"ask_c{threads}_p50_ms": statistics.median(times) if times else None,
        f"ask_c{threads}_p95_ms": pct(times, 0.95) if times else None,
        f"ask_c{threads}_rps": len(times) / wall,
        f"ask_c{threads}_errors": len(errors),
    }


def serve_and_measure(index: Path, queries: list[Query], work: Path, cache_dir: Path, cold_starts: int = 1) -> dict[str, Any]:
    """Start the service once to let it adopt the index into a document store (the first start
    of a new index), then `cold_starts` times more, timing each to its first answer; measure on
    the last one."""
    first = start_server(index, queries[0].question, work / "serve-first.log", cache_dir)
    figures: dict[str, Any] = {"first_start_s": first.first_answer_s}
    first.stop()
    colds = []
    server = None
    for i in range(cold_starts):
        if server is not None:
            server.stop()
        server = start_server(index, queries[i % len(queries)].question, work / f"serve-{i}.log", cache_dir)
        colds.append(server.first_answer_s or 0.0)
    assert server is not None
    try:
        figures.update(cold_start_s=statistics.median(colds), cold_starts_s=colds, loaded=server.loaded)
        figures.update(measure(server, queries))
    finally:
        server.stop()
    return figures


def emit_json(figures: object, path: Path | None) -> None:
    """Write a tool's figures as JSON to `path`, or to standard output when there is none."""
    text = json.dumps(figures, ensure_ascii=False, indent=1)
    if path:
        path.write_text(text, encoding="utf-8")
    else:
        print(text)
