"""Bounded soak / load test of the ragqa HTTP API (what `make load` runs).

Many concurrent clients send a realistic mix of well-formed requests for a fixed time, while an
admin client uploads and deletes documents (each one rebuilds the index), a share of requests is
deliberately malformed, and a few clients read streamed answers very slowly. The server's resident
memory (VmRSS) is sampled every second. The run passes when

* no well-formed request failed (non-2xx other than the expected ones, transport error, timeout,
  or a stream that ended without its final event),
* no malformed request was answered 5xx or had its connection dropped,
* the server's RSS grew by less than 100 MiB between the end of the warm-up and the end of the load.

Exit code 0 when all targets are met, 1 otherwise (also when the server cannot be started).
Questions come from gold files; they are never printed (failures name the gold item's id).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

REPO = Path(__file__).resolve().parent.parent
DEFAULT_GOLD = REPO / "eval" / "gold" / "dev.jsonl"
DEFAULT_INDEX = ".ragqa/index"
RSS_TARGET_MIB = 100.0
MAX_FAILURE_DETAILS = 25
BODY_EXCERPT = 300

# Well-formed traffic mix (relative weights).
WELL_FORMED_WEIGHTS: dict[str, float] = {
    "POST /v1/ask": 22,
    "POST /v1/ask (stream)": 12,
    "POST /v1/search": 20,
    "GET /v1/documents": 8,
    "GET /v1/documents/{doc}/lines": 12,
    "GET /healthz": 6,
    "POST /v1/chat/completions": 12,
    "POST /v1/chat/completions (stream)": 8,
}


class SoakError(Exception):
    """The soak cannot run at all (bad arguments, no gold questions, server does not start)."""


# --------------------------------------------------------------------------------------------
# recording


@dataclass
class RouteStats:
    count: int = 0
    ok: int = 0
    failed: int = 0
    accepted: int = 0  # malformed requests answered 2xx (not a failure; listed for review)
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "ok": self.ok,
            "failed": self.failed,
            "accepted_2xx": self.accepted,
            "statuses": dict(sorted(self.statuses.items())),
            "p50_ms": _ms(percentile(self.latencies, 0.50)),
            "p95_ms": _ms(percentile(self.latencies, 0.95)),
            "max_ms": _ms(max(self.latencies) if self.latencies else None),
        }


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


class Recorder:
    """Counts per route and class, plus the first few failures with detail. Thread-safe."""

    CLASSES = ("well-formed", "malformed", "admin", "slow-reader")

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.lock = threading.Lock()
        self.stats: dict[str, dict[str, RouteStats]] = {c: {} for c in self.CLASSES}
        self.failures: list[dict[str, Any]] = []
        self.failure_count: Counter[str] = Counter()
        self.notes: Counter[str] = Counter()

    def record(
        self,
        cls: str,
        route: str,
        status: int | str,
        seconds: float | None,
        problem: str | None,
        request: str,
        *,
        accepted: bool = False,
        excerpt: str | None = None,
    ) -> None:
        with self.lock:
            st = self.stats[cls].setdefault(route, RouteStats())
            st.count += 1
            st.statuses[str(status)] += 1
            if seconds is not None:
                st.latencies.append(seconds)
            if problem is None:
                st.ok += 1
                if accepted:
                    st.accepted += 1
                return
            st.failed += 1
            self.failure_count[cls] += 1
            if len(self.failures) < MAX_FAILURE_DETAILS:
                item: dict[str, Any] = {
                    "t_s": round(time.monotonic() - self.t0, 1),
                    "class": cls,
                    "route": route,
                    "request": request,
                    "status": status,
                    "problem": problem,
                }
                if excerpt:
                    item["response_excerpt"] = excerpt[:BODY_EXCERPT]
                self.failures.append(item)

    def totals(self) -> dict[str, int]:
        with self.lock:
            requests = sum(s.count for per in self.stats.values() for s in per.values())
            return {
                "requests": requests,
                "failed_well_formed": self.failure_count["well-formed"]
                + self.failure_count["admin"]
                + self.failure_count["slow-reader"],
                "malformed_server_failures": self.failure_count["malformed"],
                "malformed": sum(s.count for s in self.stats["malformed"].values()),
            }


# --------------------------------------------------------------------------------------------
# memory


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return 0  # a zombie has no VmRSS line


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def server_rss_kib(pid: int) -> int | None:
    """VmRSS of the server process plus any child processes it started, in KiB."""
    own = _rss_kib(pid)
    if own is None:
        return None
    return own + sum(_rss_kib(child) or 0 for child in _descendants(pid))


@dataclass
class RssTrack:
    pid: int | None
    samples: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, KiB)
    start: int | None = None
    end: int | None = None

    def sample(self, t: float) -> int | None:
        if self.pid is None:
            return None
        kib = server_rss_kib(self.pid)
        if kib is not None:
            self.samples.append((round(t, 1), kib))
        return kib

    @property
    def peak(self) -> int | None:
        return max((k for _, k in self.samples), default=None)

    def as_dict(self) -> dict[str, Any]:
        def mib(k: int | None) -> float | None:
            return None if k is None else round(k / 1024.0, 1)

        growth = None if self.start is None or self.end is None else self.end - self.start
        peak_growth = None if self.start is None or self.peak is None else self.peak - self.start
        return {
            "pid": self.pid,
            "measured": self.start is not None and self.end is not None,
            "start_mib": mib(self.start),
            "peak_mib": mib(self.peak),
            "end_mib": mib(self.end),
            "growth_mib": mib(growth),
            "peak_growth_mib": mib(peak_growth),
            "samples": [[t, mib(k)] for t, k in self.samples],
        }


# --------------------------------------------------------------------------------------------
# the server under test


class OwnServer:
    """`ragqa serve` on a copy of an index, on a free loopback port, with a random admin key."""

    def __init__(self, index: Path, admin_key: str, log_level: str, start_timeout: float) -> None:
        source = index.resolve()
        if not source.is_dir():
            raise SoakError(
                f"index folder {index} does not exist; build one with 'ragqa ingest' or pass --url"
            )
        self.tmp = Path(tempfile.mkdtemp(prefix="ragqa-soak-"))
        self.index = self.tmp / "index"
        shutil.copytree(source, self.index)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = admin_key
        self.log_path = self.tmp / "server.log"
        env = dict(os.environ)
        env["RAGQA_ADMIN_KEY"] = admin_key
        env.pop("RAGQA_DATA_DIR", None)  # never touch a real document store
        cmd = [
            sys.executable, "-m", "ragqa.service.cli", "serve",
            "--index", str(self.index),
            "--data", str(self.tmp / "index.data"),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--log-level", log_level,
        ]  # fmt: skip
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.proc.pid
        self._wait_ready(start_timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SoakError(
                    f"the server exited with code {self.proc.returncode} during start-up:\n{self.log_tail(30)}"
                )
            try:
                if httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise SoakError(
            f"the server did not answer GET /healthz with 200 within {timeout:.0f} s:\n{self.log_tail(30)}"
        )

    def log_tail(self, lines: int) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode

    def log_findings(self) -> dict[str, Any]:
        """Tracebacks and 5xx access lines in the server log (the log itself is kept if there are any)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return {}
        starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
        errors = [line for line in lines if line.startswith(("ERROR", "CRITICAL"))]
        first: list[str] = []
        if starts:
            i = starts[0]
            j = i + 1
            while j < len(lines) and (lines[j].startswith((" ", "\t")) or not lines[j].strip()):
                j += 1
            first = lines[max(0, i - 2) : min(len(lines), j + 1)]
        return {"tracebacks": len(starts), "error_lines": len(errors), "first_traceback": first[-40:]}

    def cleanup(self, keep_log: bool) -> Path | None:
        kept = None
        if keep_log and self.log_path.exists():
            kept = Path(tempfile.gettempdir()) / f"{self.tmp.name}-server.log"
            shutil.copyfile(self.log_path, kept)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return kept


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# run context


@dataclass
class Question:
    ref: str  # "dev.jsonl #12 (ga004)": what failure reports show instead of the text
    text: str


@dataclass
class Ctx:
    url: str
    questions: list[Question]
    docs: list[str]
    rec: Recorder
    timeout: float
    malformed: float
    deadline: float = 0.0
    think: float = 0.0
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    stop_flag: threading.Event = field(default_factory=threading.Event)
    admin: Admin | None = None  # for the progress line


def load_questions(paths: list[Path]) -> list[Question]:
    found: list[Question] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SoakError(f"cannot read gold file {path}: {exc.strerror}") from exc
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError:
                continue
            q = item.get("question") if isinstance(item, dict) else None
            if isinstance(q, str) and q.strip():
                found.append(Question(f"{path.name} #{n} ({item.get('id', '?')})", q))
    if not found:
        raise SoakError(
            f"no questions in {', '.join(map(str, paths))}; pass --gold FILE.jsonl with 'question' fields"
        )
    return found


def _excerpt(text: str) -> str:
    return " ".join(text.split())[:BODY_EXCERPT]


# --------------------------------------------------------------------------------------------
# well-formed requests: each returns (status, problem or None, response excerpt for failures)

Outcome = tuple[int, str | None, str | None]


def _check_json(r: httpx.Response, key: str) -> Outcome:
    if r.status_code != 200:
        return r.status_code, f"HTTP {r.status_code}", _excerpt(r.text)
    try:
        data = r.json()
    except ValueError:
        return r.status_code, "200 with a body that is not JSON", _excerpt(r.text)
    if not isinstance(data, dict) or key not in data:
        return r.status_code, f"200 without '{key}' in the JSON body", _excerpt(r.text)
    return r.status_code, None, None


async def _ask(c: httpx.AsyncClient, q: Question) -> Outcome:
    return _check_json(await c.post("/v1/ask", json={"question": q.text}), "answer")


async def _search(c: httpx.AsyncClient, q: Question) -> Outcome:
    r = await c.post("/v1/search", json={"query": q.text, "top_k": 5})
    if r.status_code != 200:
        return r.status_code, f"HTTP {r.status_code}", _excerpt(r.text)
    try:
        r.json()
    except ValueError:
        return r.status_code, "200 with a body that is not JSON", _excerpt(r.text)
    return 200, None, None


async def _chat(c: httpx.AsyncClient, q: Question) -> Outcome:
    body = {"model": "ragqa", "messages": [{"role": "user", "content": q.text}]}
    return _check_json(await c.post("/v1/chat/completions", json=body), "choices")


def sse_events(text: str) -> list[tuple[str, str]]:
    """(event, data) pairs of a server-sent event stream."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
        if data or name != "message":
            events.append((name, "\n".join(data)))
    return events


def check_ask_stream(text: str) -> str | None:
    events = sse_events(text)
    names = [e for e, _ in events]
    for name, data in events:
        if name == "error":
            return f"stream sent an error event: {_excerpt(data)}"
    if "done" not in names:
        return f"stream ended without a 'done' event (events: {', '.join(names[-5:]) or 'none'})"
    if "citations" not in names:
        return "stream has no 'citations' event"
    return None


def check_chat_stream(text: str) -> str | None:
    events = sse_events(text)
    datas = [d for _, d in events]
    for data in datas:
        if data == "[DONE]":
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            return f"stream chunk is not JSON: {_excerpt(data)}"
        if isinstance(chunk, dict) and "error" in chunk:
            return f"stream sent an error: {_excerpt(data)}"
    if not datas or datas[-1] != "[DONE]":
        return "stream ended without 'data: [DONE]'"
    return None


async def _stream(
    c: httpx.AsyncClient, path: str, body: dict[str, Any], check: Callable[[str], str | None]
) -> Outcome:
    async with c.stream("POST", path, json=body) as r:
        parts = []
        async for piece in r.aiter_text():
            parts.append(piece)
        text = "".join(parts)
        if r.status_code != 200:
            return r.status_code, f"HTTP {r.status_code}", _excerpt(text)
        if not r.headers.get("content-type", "").startswith("text/event-stream"):
            return (
                r.status_code,
                f"200 with content-type {r.headers.get('content-type')!r}, not an event stream",
                _excerpt(text),
            )
        problem = check(text)
        return r.status_code, problem, (_excerpt(text[-BODY_EXCERPT:]) if problem else None)


async def _ask_stream(c: httpx.AsyncClient, q: Question) -> Outcome:
    return await _stream(c, "/v1/ask", {"question": q.text, "stream": True}, check_ask_stream)


async def _chat_stream(c: httpx.AsyncClient, q: Question) -> Outcome:
    body = {"model": "ragqa", "stream": True, "messages": [{"role": "user", "content": q.text}]}
    return await _stream(c, "/v1/chat/completions", body, check_chat_stream)


def describe_exc(exc: BaseException) -> str:
    """'ReadError <- BrokenResourceError' plus the first message found along the cause chain."""
    chain, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    names = " <- ".join(dict.fromkeys(type(e).__name__ for e in chain))
    message = next((str(e) for e in chain if str(e)), "")
    hint = " (connection dropped)" if isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError)) else ""
    return f"{names}{': ' + message if message else ''}{hint}"


async def _timed(
    ctx: Ctx,
    cls: str,
    route: str,
    request: str,
    fn: Callable[[], Awaitable[Outcome]],
    timeout: float | None = None,
) -> Outcome | None:
    """Run one request, classify transport errors, record it; returns the outcome (None on transport error)."""
    limit = ctx.timeout if timeout is None else timeout
    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(limit):
            status, problem, excerpt = await fn()
    except TimeoutError:
        ctx.rec.record(
            cls,
            route,
            "timeout",
            time.perf_counter() - t0,
            f"no complete answer within {limit:.0f} s",
            request,
        )
        return None
    except httpx.TimeoutException as exc:
        ctx.rec.record(
            cls,
            route,
            "timeout",
            time.perf_counter() - t0,
            f"{type(exc).__name__} (limit {limit:.0f} s)",
            request,
        )
        return None
    except httpx.HTTPError as exc:
        ctx.rec.record(cls, route, "transport", time.perf_counter() - t0, describe_exc(exc), request)
        return None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # a reply the soak could not read
        ctx.rec.record(
            cls, route, "bad reply", time.perf_counter() - t0, f"{type(exc).__name__}: {exc}", request
        )
        return None
    ctx.rec.record(cls, route, status, time.perf_counter() - t0, problem, request, excerpt=excerpt)
    return status, problem, excerpt


async def well_formed(ctx: Ctx, c: httpx.AsyncClient, rng: random.Random, route: str) -> None:
    q = rng.choice(ctx.questions)
    qref = f"<question {q.ref}>"
    fn: Callable[[], Awaitable[Outcome]]
    if route == "POST /v1/ask":
        fn, req = (lambda: _ask(c, q)), f'POST /v1/ask {{"question": {qref}}}'
    elif route == "POST /v1/ask (stream)":
        fn, req = (lambda: _ask_stream(c, q)), f'POST /v1/ask {{"question": {qref}, "stream": true}}'
    elif route == "POST /v1/search":
        fn, req = (lambda: _search(c, q)), f'POST /v1/search {{"query": {qref}, "top_k": 5}}'
    elif route == "GET /v1/documents":
        fn, req = (lambda: _get_json(c, "/v1/documents", "documents")), "GET /v1/documents"
    elif route == "GET /v1/documents/{doc}/lines":
        path = f"/v1/documents/{quote(rng.choice(ctx.docs), safe='')}/lines?start=1&end=20"
        fn, req = (lambda: _get_json(c, path, "lines")), f"GET {path}"
    elif route == "GET /healthz":
        fn, req = (lambda: _get_json(c, "/healthz", "status")), "GET /healthz"
    elif route == "POST /v1/chat/completions":
        fn, req = (lambda: _chat(c, q)), f"POST /v1/chat/completions {{user: {qref}}}"
    elif route == "POST /v1/chat/completions (stream)":
        fn, req = (lambda: _chat_stream(c, q)), f"POST /v1/chat/completions {{user: {qref}, stream: true}}"
    else:  # pragma: no cover
        raise AssertionError(route)
    await _timed(ctx, "well-formed", route, req, fn)


async def _get_json(c: httpx.AsyncClient, path: str, key: str) -> Outcome:
    return _check_json(await c.get(path), key)


# --------------------------------------------------------------------------------------------
# malformed requests: any 4xx is right; 5xx or a dropped connection is a server failure

JSON = {"content-type": "application/json"}


@dataclass
class Bad:
    kind: str
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] | None = None
    also_ok_2xx: bool = False  # documented leniency (lone surrogates are cleaned at the edge)

    @property
    def description(self) -> str:
        size = f" ({len(self.body):,} bytes)" if self.body is not None and len(self.body) > 200 else ""
        shown = (
            ""
            if self.body is None
            else " " + (self.body[:80].decode("utf-8", "replace") + ("…" if len(self.body) > 80 else ""))
        )
        if self.files:
            names = ", ".join(f[0] for f in self.files.values())
            shown = f" multipart files={names}"
        auth = self.headers.get("authorization")
        auth_note = f"Authorization: {auth}" if auth else "no Authorization header"
        extra = f" [{auth_note}]" if self.kind == "upload without key" else ""
        return f"{self.method} {self.path}{shown}{size}{extra} [Connection: close]"


def malformed_requests(rng: random.Random, docs: list[str], run_id: str) -> Bad:
    doc = quote(rng.choice(docs), safe="") if docs else "none.txt"
    big_q = "压" * 24_000  # 72 KB in UTF-8: over the 64 KB JSON body limit
    long_q = "东阳" * 1_300  # 2,600 characters (7.8 KB): over the 2,000-character question limit
    upload = {
        "files": (f"soak-{run_id}-nokey-{rng.randrange(10**6)}.txt", "未授权上传\n".encode(), "text/plain")
    }
    choices: list[Bad] = [
        # invalid JSON
        Bad("invalid JSON", "POST", "/v1/ask", b'{"question": "\xe4\xb8\x9c', JSON),
        Bad("invalid JSON", "POST", "/v1/search", b"query=grant&top_k=5", JSON),
        Bad(
            "invalid JSON",
            "POST",
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": }]}',
            JSON,
        ),
        Bad("invalid JSON", "POST", "/v1/ask", b"\xff\xfe\x00{", JSON),
        Bad("invalid JSON", "POST", "/v1/ask", b"question", {"content-type": "text/plain"}),
        # wrong types / out of range
        Bad("wrong type", "POST", "/v1/ask", b'{"question": 5}', JSON),
        Bad("wrong type", "POST", "/v1/ask", b'{"question": "x", "top_k": 0}', JSON),
        Bad("wrong type", "POST", "/v1/search", b'{"query": ["a"], "top_k": "five"}', JSON),
        Bad("wrong type", "POST", "/v1/search", b'{"query": "a", "top_k": 1000}', JSON),
        Bad("wrong type", "POST", "/v1/chat/completions", b'{"messages": "hello"}', JSON),
        Bad(
            "wrong type",
            "POST",
            "/v1/chat/completions",
            b'{"messages": [{"role": "wizard", "content": "x"}]}',
            JSON,
        ),
        Bad("wrong type", "POST", "/v1/ask", b'[{"question": "x"}]', JSON),
        Bad("wrong type", "POST", "/v1/ask", b'{"question": "x", "unknown_field": 1}', JSON),
        # missing fields / empty
        Bad("missing field", "POST", "/v1/ask", b"{}", JSON),
        Bad("missing field", "POST", "/v1/ask", b'{"question": "   "}', JSON),
        Bad("missing field", "POST", "/v1/search", b'{"top_k": 5}', JSON),
        Bad("missing field", "POST", "/v1/chat/completions", b'{"model": "ragqa"}', JSON),
        Bad("missing field", "POST", "/v1/chat/completions", b'{"messages": []}', JSON),
        Bad("missing field", "POST", "/v1/ask", None, JSON),
        # a lone surrogate escaped in JSON: cleaned at the edge (README), so 2xx is fine too
        Bad(
            "lone surrogate",
            "POST",
            "/v1/ask",
            b'{"question": "\\ud800\\u4e1c\\u9633"}',
            JSON,
            also_ok_2xx=True,
        ),
        Bad(
            "lone surrogate",
            "POST",
            "/v1/search",
            b'{"query": "\\udfff", "top_k": 5}',
            JSON,
            also_ok_2xx=True,
        ),
        Bad(
            "lone surrogate",
            "POST",
            "/v1/chat/completions",
            b'{"messages": [{"role": "user", "content": "\\ud800"}], "stream": true}',
            JSON,
            also_ok_2xx=True,
        ),
        # oversized bodies / questions
        Bad(
            "oversized body",
            "POST",
            "/v1/ask",
            json.dumps({"question": big_q}, ensure_ascii=False).encode(),
            JSON,
        ),
        Bad(
            "oversized body",
            "POST",
            "/v1/chat/completions",
            json.dumps({"messages": [{"role": "user", "content": big_q}]}).encode(),
            JSON,
        ),
        Bad(
            "question too long",
            "POST",
            "/v1/search",
            json.dumps({"query": long_q}, ensure_ascii=False).encode(),
            JSON,
        ),
        # unknown methods
        Bad("unknown method", "PATCH", "/v1/ask", b'{"question": "x"}', JSON),
        Bad("unknown method", "PUT", "/healthz"),
        Bad("unknown method", "BREW", "/v1/search"),
        Bad("unknown method", "DELETE", "/v1/search"),
        # bad line ranges
        Bad("bad line range", "GET", f"/v1/documents/{doc}/lines?start=20&end=3"),
        Bad("bad line range", "GET", f"/v1/documents/{doc}/lines?start=0"),
        Bad("bad line range", "GET", f"/v1/documents/{doc}/lines?start=abc"),
        Bad("bad line range", "GET", f"/v1/documents/{doc}/lines?start=999999"),
        Bad("bad line range", "GET", f"/v1/documents/{doc}/lines?start=1&end=-4"),
        Bad("bad line range", "GET", f"/v1/documents/soak-{run_id}-no-such-doc.txt/lines?start=1&end=20"),
        # uploads and deletes without (the right) admin key
        Bad("upload without key", "POST", "/v1/documents", files=upload),
        Bad(
            "upload without key",
            "POST",
            "/v1/documents",
            headers={"authorization": "Bearer wrong-key"},
            files=upload,
        ),
        Bad("upload without key", "DELETE", f"/v1/documents/soak-{run_id}-no-such-doc.txt"),
    ]
    return rng.choice(choices)


async def malformed(ctx: Ctx, c: httpx.AsyncClient, rng: random.Random, run_id: str) -> None:
    bad = malformed_requests(rng, ctx.docs, run_id)
    # Connection: close, so a connection the server closes after an early 4xx is never reused by mistake.
    headers = {"connection": "close", **bad.headers}

    async def send() -> Outcome:
        r = await c.request(bad.method, bad.path, content=bad.body, headers=headers, files=bad.files)
        if r.status_code >= 500:
            return r.status_code, f"malformed request answered {r.status_code}", _excerpt(r.text)
        return r.status_code, None, None

    out = await _timed(ctx, "malformed", bad.kind, bad.description, send)
    if out is not None and 200 <= out[0] < 300 and not bad.also_ok_2xx:
        with ctx.rec.lock:
            ctx.rec.stats["malformed"][bad.kind].accepted += 1
            ctx.rec.notes[f"malformed accepted with {out[0]}: {bad.description[:120]}"] += 1


# --------------------------------------------------------------------------------------------
# clients


async def client_loop(ctx: Ctx, i: int, seed: int, run_id: str) -> None:
    rng = random.Random(seed * 1_000 + i)
    routes, weights = list(WELL_FORMED_WEIGHTS), list(WELL_FORMED_WEIGHTS.values())
    timeout = httpx.Timeout(ctx.timeout)
    async with (
        httpx.AsyncClient(base_url=ctx.url, timeout=timeout) as good,
        httpx.AsyncClient(base_url=ctx.url, timeout=timeout) as bad,
    ):
        while time.monotonic() < ctx.deadline:
            if rng.random() < ctx.malformed:
                await malformed(ctx, bad, rng, run_id)
            else:
                await well_formed(ctx, good, rng, rng.choices(routes, weights)[0])
            if ctx.think > 0:
                await asyncio.sleep(rng.uniform(0, 2 * ctx.think))


async def warm_up(ctx: Ctx, n: int) -> None:
    """n sequential well-formed requests over every route, so start-up allocations are not counted as growth."""
    routes = list(WELL_FORMED_WEIGHTS)
    rng = random.Random(0)
    async with httpx.AsyncClient(base_url=ctx.url, timeout=httpx.Timeout(ctx.timeout)) as c:
        for k in range(n):
            await well_formed(ctx, c, rng, routes[k % len(routes)])


def upload_text(name: str, token: str) -> bytes:
    return (
        f"压力测试文档 {name}\n"
        f"一、总则\n"
        f"第一条 本文件由 ragqa 压力测试自动生成，编号 {token}，用于检验上传与删除期间服务的稳定性。\n"
        f"第二条 本文件在测试结束前删除，不包含任何真实政策内容。\n"
        f"二、附则\n"
        f"第三条 测试编号 {token} 仅供核对。\n"
    ).encode()


class Admin:
    """The admin client: uploads generated documents and deletes them again, until the deadline.

    Each change rebuilds the index, so each takes seconds; they are counted on their own rows."""

    def __init__(self, ctx: Ctx, key: str, interval: float, op_timeout: float, run_id: str) -> None:
        self.ctx, self.interval, self.op_timeout, self.run_id = ctx, interval, op_timeout, run_id
        self.auth = {"authorization": f"Bearer {key}"}
        self.live: list[str] = []  # uploaded and not (yet) deleted
        self.busy: Counter[str] = Counter()  # what is running now, for the progress line

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.ctx.url, timeout=httpx.Timeout(self.op_timeout), headers=self.auth
        )

    async def _upload(self, c: httpx.AsyncClient, name: str) -> Outcome:
        files = {"files": (name, upload_text(name, secrets.token_hex(4)), "text/plain")}
        r = await c.post("/v1/documents", files=files)
        if r.status_code == 202:  # an asynchronous job: poll it
            job_id = r.json()["job"]["id"]
            while True:
                await asyncio.sleep(1.0)
                j = await c.get(f"/v1/jobs/{job_id}")
                if j.status_code != 200:
                    return j.status_code, f"GET /v1/jobs/{job_id} answered {j.status_code}", _excerpt(j.text)
                state = j.json().get("state")
                if state != "running":
                    if state == "done":
                        return 200, None, None
                    return j.status_code, f"upload job ended {state}", _excerpt(j.text)
        if r.status_code != 200:
            return r.status_code, f"HTTP {r.status_code}", _excerpt(r.text)
        data = r.json()
        state = (data.get("job") or {}).get("state", "done")
        if name not in data.get("added", []) or state != "done":
            problem = f"upload answered 200 but job state {state!r}, added {data.get('added')}"
            return r.status_code, problem, _excerpt(r.text)
        return 200, None, None

    async def _delete(self, c: httpx.AsyncClient, name: str) -> Outcome:
        r = await c.delete(f"/v1/documents/{quote(name, safe='')}")
        if r.status_code == 200:
            return 200, None, None
        if r.status_code == 409 and "last_document" in r.text:
            return 409, None, None
        return r.status_code, f"HTTP {r.status_code}", _excerpt(r.text)

    async def _verify(self, c: httpx.AsyncClient, name: str) -> Outcome:
        return _check_json(await c.get(f"/v1/documents/{quote(name, safe='')}/lines?start=1&end=20"), "lines")

    async def upload(
        self, c: httpx.AsyncClient, name: str, route: str = "POST /v1/documents (upload)"
    ) -> bool:
        self.busy["upload"] += 1
        try:
            out = await _timed(
                self.ctx,
                "admin",
                route,
                f"POST /v1/documents files={name} (with the admin key)",
                functools.partial(self._upload, c, name),
                self.op_timeout,
            )
        finally:
            self.busy["upload"] -= 1
        if out is None or out[1] is not None:
            return False
        self.live.append(name)
        await _timed(
            self.ctx,
            "admin",
            "GET /v1/documents/{uploaded}/lines",
            f"GET /v1/documents/{name}/lines?start=1&end=20 (just uploaded)",
            functools.partial(self._verify, c, name),
        )
        return True

    async def delete(self, c: httpx.AsyncClient, name: str) -> None:
        self.busy["delete"] += 1
        try:
            out = await _timed(
                self.ctx,
                "admin",
                "DELETE /v1/documents/{doc}",
                f"DELETE /v1/documents/{name} (with the admin key)",
                functools.partial(self._delete, c, name),
                self.op_timeout,
            )
        finally:
            self.busy["delete"] -= 1
        if out is not None and out[1] is None:
            self.live.remove(name)

    async def prepare(self) -> None:
        """After the warm-up: upload one document, so the delete lane has something to delete at once."""
        async with self.client() as c:
            await self.upload(
                c, f"soak-{self.run_id}-seed.txt", "POST /v1/documents (upload, before the load)"
            )

    async def run(self) -> None:
        """Two lanes until the deadline: one uploads new documents, one deletes uploaded ones. A change
        takes tens of seconds under load (the server runs them one after the other), so with one lane a
        60 s run would see a single change; the change in flight at the deadline is allowed to finish."""
        async with self.client() as c:
            await _sleep_until(self.ctx, min(self.interval, 2.0))
            await asyncio.gather(self._upload_lane(c), self._delete_lane(c))

    async def _upload_lane(self, c: httpx.AsyncClient) -> None:
        n = 0
        while time.monotonic() < self.ctx.deadline:
            await self.upload(c, f"soak-{self.run_id}-{n:03d}.txt")
            n += 1
            await _sleep_until(self.ctx, self.interval)

    async def _delete_lane(self, c: httpx.AsyncClient) -> None:
        while time.monotonic() < self.ctx.deadline:
            if self.live:
                await self.delete(c, self.live[0])
                await _sleep_until(self.ctx, self.interval)
            else:
                await _sleep_until(self.ctx, 1.0)

    async def clean_up(self) -> list[str]:
        """Delete what the soak uploaded and is still there; returns what could not be deleted."""
        async with self.client() as c:
            for name in self.live.copy():
                await self.delete(c, name)
        return self.live


async def _sleep_until(ctx: Ctx, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(
            ctx.stop.wait(), timeout=max(0.0, min(seconds, ctx.deadline - time.monotonic()))
        )


# --------------------------------------------------------------------------------------------
# slow readers: a raw socket with a small receive buffer, read a few bytes at a time


@dataclass
class SlowStats:
    streams: int = 0
    completed: int = 0
    abandoned: int = 0  # closed mid-stream on purpose (every third stream)
    cut_at_end: int = 0  # still reading when the run ended
    bytes_read: int = 0
    longest_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "longest_s": round(self.longest_s, 1)}


def _dechunk(body: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(body):
        j = body.find(b"\r\n", i)
        if j < 0:
            break
        size = int(body[i:j].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += body[j + 2 : j + 2 + size]
        i = j + 2 + size + 2
    return bytes(out)


def slow_stream_once(
    ctx: Ctx,
    host: str,
    port: int,
    q: Question,
    read_bytes: int,
    interval: float,
    slow_for: float,
    abandon: bool,
    stats: SlowStats,
) -> None:
    """One streamed /v1/ask with top_k 50 (a ~40 KB stream, more than the socket buffers hold), read
    read_bytes every interval seconds for slow_for seconds, then either closed (abandon) or read to the end."""
    body = json.dumps({"question": q.text, "stream": True, "top_k": 50}, ensure_ascii=False).encode()
    request = (
        f"POST /v1/ask HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    ).encode() + body
    desc = f'slow read of POST /v1/ask {{"question": <question {q.ref}>, "stream": true, "top_k": 50}}'
    route = "POST /v1/ask (stream, slow reader)"
    data = bytearray()
    t0 = time.monotonic()
    outcome = "completed"
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            s.settimeout(ctx.timeout)
            s.connect((host, port))
            s.sendall(request)
            s.settimeout(1.0)  # wake up every second to notice the end of the run
            idle = 0.0
            while True:
                if ctx.stop_flag.is_set():
                    outcome = "cut"
                    break
                slow = time.monotonic() - t0 < slow_for
                if not slow and abandon:
                    outcome = "abandoned"
                    break
                try:
                    chunk = s.recv(read_bytes if slow else 65536)
                except TimeoutError:
                    idle += 1.0
                    if idle >= ctx.timeout:
                        raise
                    continue
                idle = 0.0
                if not chunk:
                    break
                data += chunk
                if slow:
                    time.sleep(interval)
    except TimeoutError:
        _slow_done(ctx, stats, data, t0)
        ctx.rec.record(
            "slow-reader",
            route,
            "timeout",
            None,
            f"no bytes for {ctx.timeout:.0f} s after {len(data)} bytes",
            desc,
        )
        return
    except OSError as exc:
        _slow_done(ctx, stats, data, t0)
        ctx.rec.record(
            "slow-reader",
            route,
            "transport",
            None,
            f"{type(exc).__name__}: {exc} after {len(data)} bytes",
            desc,
        )
        return
    _slow_done(ctx, stats, data, t0)
    head, _, raw = bytes(data).partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    status: int | str = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else "no status yet"
    if outcome != "completed":
        # Stopped reading on purpose (closed mid-stream, or the run ended): only a non-200 status is wrong.
        with ctx.rec.lock:
            if outcome == "cut":
                stats.cut_at_end += 1
            else:
                stats.abandoned += 1
        problem = None if status in (200, "no status yet") else f"HTTP {status}"
        ctx.rec.record(
            "slow-reader",
            route,
            status,
            None,
            problem,
            desc,
            excerpt=_excerpt(raw.decode("utf-8", "replace")) if problem else None,
        )
        return
    if status != 200:
        problem = (
            f"HTTP {status}"
            if isinstance(status, int)
            else f"connection closed after {len(data)} bytes, no status line"
        )
        ctx.rec.record(
            "slow-reader",
            route,
            status,
            None,
            problem,
            desc,
            excerpt=_excerpt(raw.decode("utf-8", "replace")),
        )
        return
    text = (_dechunk(raw) if b"chunked" in head.lower() else raw).decode("utf-8", "replace")
    problem = check_ask_stream(text)
    if problem is None:
        with ctx.rec.lock:
            stats.completed += 1
    ctx.rec.record(
        "slow-reader",
        route,
        status,
        None,
        problem,
        desc,
        excerpt=_excerpt(text[-BODY_EXCERPT:]) if problem else None,
    )


def _slow_done(ctx: Ctx, stats: SlowStats, data: bytearray, t0: float) -> None:
    with ctx.rec.lock:
        stats.streams += 1
        stats.bytes_read += len(data)
        stats.longest_s = max(stats.longest_s, time.monotonic() - t0)


async def slow_reader(
    ctx: Ctx, i: int, seed: int, read_bytes: int, interval: float, slow_for: float, stats: SlowStats
) -> None:
    parts = urlsplit(ctx.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    rng = random.Random(seed * 7_919 + i)
    k = 0
    while time.monotonic() < ctx.deadline:
        k += 1
        q = rng.choice(ctx.questions)
        await asyncio.to_thread(
            slow_stream_once, ctx, host, port, q, read_bytes, interval, slow_for, k % 3 == 0, stats
        )


# --------------------------------------------------------------------------------------------
# progress and memory sampling


async def sampler(ctx: Ctx, rss: RssTrack, t0: float) -> None:
    while not ctx.stop.is_set():
        rss.sample(time.monotonic() - t0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ctx.stop.wait(), timeout=1.0)


def _progress_line(ctx: Ctx, rss: RssTrack, t0: float) -> str:
    tot = ctx.rec.totals()
    elapsed = time.monotonic() - t0
    line = (
        f"[{elapsed:5.0f} s] {tot['requests']:6d} requests ({tot['malformed']} malformed), "
        f"{tot['failed_well_formed']} failed well-formed, {tot['malformed_server_failures']} malformed 5xx/dropped"
    )
    admin = ctx.rec.stats["admin"]
    ups = admin.get("POST /v1/documents (upload)")
    dels = admin.get("DELETE /v1/documents/{doc}")
    running = "+".join(k for k, v in sorted(ctx.admin.busy.items()) if v) if ctx.admin else ""
    line += f", uploads done {ups.count if ups else 0}, deletes done {dels.count if dels else 0}"
    line += f" ({running} running)" if running else ""
    if rss.samples and rss.start is not None:
        now = rss.samples[-1][1]
        line += f", RSS {now / 1024:.0f} MiB ({(now - rss.start) / 1024:+.0f})"
    return line


async def progress(ctx: Ctx, rss: RssTrack, t0: float, every: float) -> None:
    while not ctx.stop.is_set():
        try:
            await asyncio.wait_for(ctx.stop.wait(), timeout=every)
        except TimeoutError:
            print(_progress_line(ctx, rss, t0), file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# the run


@dataclass
class Options:
    url: str | None
    index: Path
    pid: int | None
    clients: int
    seconds: float
    malformed: float
    slow_clients: int
    admin_key: str | None
    json_out: Path | None
    gold: list[Path]
    timeout: float
    admin_timeout: float
    admin_interval: float
    warmup: int
    think: float
    seed: int
    slow_read_bytes: int
    slow_read_interval: float
    slow_phase: float
    server_log_level: str
    start_timeout: float
    progress_every: float
    rss_target_mib: float


async def run_load(
    opts: Options, url: str, pid: int | None, admin_key: str | None, run_id: str
) -> dict[str, Any]:
    questions = load_questions(opts.gold)
    rec = Recorder()
    ctx = Ctx(
        url=url,
        questions=questions,
        docs=[],
        rec=rec,
        timeout=opts.timeout,
        malformed=opts.malformed,
        think=opts.think,
    )
    async with httpx.AsyncClient(base_url=url, timeout=opts.timeout) as c:
        try:
            r = await c.get("/v1/documents")
            r.raise_for_status()
            ctx.docs = [d["doc"] for d in r.json()["documents"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            raise SoakError(
                f"GET {url}/v1/documents failed ({exc}); is a ragqa server running there?"
            ) from exc
    if not ctx.docs:
        raise SoakError(f"{url} has no documents; the soak needs an index with at least one")

    rss = RssTrack(pid)
    ctx.deadline = time.monotonic() + 3600  # warm-up is not bounded by the run's deadline
    await warm_up(ctx, opts.warmup)
    t_rss = time.monotonic()
    rss.start = rss.sample(0.0)
    sampling = asyncio.create_task(sampler(ctx, rss, t_rss))
    admin = Admin(ctx, admin_key, opts.admin_interval, opts.admin_timeout, run_id) if admin_key else None
    if admin is not None:
        # inside the RSS window: the first index rebuild's memory counts as growth
        print("soak: uploading one document before the load …", file=sys.stderr, flush=True)
        await admin.prepare()
    t0 = time.monotonic()
    ctx.deadline = t0 + opts.seconds
    print(
        f"soak: {opts.clients} clients + {opts.slow_clients} slow readers"
        f"{' + 1 admin (uploads/deletes)' if admin_key else ''} for {opts.seconds:.0f} s against {url}"
        f"{f', server pid {pid}, RSS after warm-up {rss.start / 1024:.0f} MiB' if rss.start else ''}",
        file=sys.stderr,
        flush=True,
    )

    slow_stats = SlowStats()
    background = [
        sampling,
        asyncio.create_task(progress(ctx, rss, t0, opts.progress_every)),
    ]
    load = [asyncio.create_task(client_loop(ctx, i, opts.seed, run_id)) for i in range(opts.clients)]
    load += [
        asyncio.create_task(
            slow_reader(
                ctx, i, opts.seed, opts.slow_read_bytes, opts.slow_read_interval, opts.slow_phase, slow_stats
            )
        )
        for i in range(opts.slow_clients)
    ]
    admin_task = asyncio.create_task(admin.run()) if admin else None
    ctx.admin = admin
    left: list[str] = []
    try:
        await asyncio.sleep(max(0.0, ctx.deadline - time.monotonic()))
        ctx.stop_flag.set()  # slow readers stop reading at the deadline
        await asyncio.gather(*load)
        load_end = time.monotonic()
        if admin_task is not None:
            await admin_task  # the upload or delete in flight at the deadline finishes
        end = time.monotonic()
        rss.end = rss.sample(end - t_rss)
        if admin is not None and opts.url is not None:
            left = await admin.clean_up()  # after the RSS window; a throw-away server needs none
        elif admin is not None:
            left = admin.live
    finally:
        ctx.stop.set()
        ctx.stop_flag.set()
        for task in [*background, *load, *([admin_task] if admin_task else [])]:
            if not task.done():
                task.cancel()
        await asyncio.gather(*background, return_exceptions=True)

    tot = rec.totals()
    rss_d = rss.as_dict()
    growth = rss_d["growth_mib"]
    targets = {
        "failed_well_formed": {
            "value": tot["failed_well_formed"],
            "target": 0,
            "met": tot["failed_well_formed"] == 0,
        },
        "malformed_server_failures": {
            "value": tot["malformed_server_failures"],
            "target": 0,
            "met": tot["malformed_server_failures"] == 0,
        },
        "rss_growth_mib": {
            "value": growth,
            "target": f"< {opts.rss_target_mib:g}",
            "met": None if growth is None else growth < opts.rss_target_mib,
        },
    }
    return {
        "url": url,
        "config": {
            "clients": opts.clients,
            "seconds": opts.seconds,
            "malformed": opts.malformed,
            "slow_clients": opts.slow_clients,
            "admin": bool(admin_key),
            "timeout_s": opts.timeout,
            "warmup": opts.warmup,
            "seed": opts.seed,
            "questions": len(questions),
            "gold": [str(p) for p in opts.gold],
            "slow_read": {
                "bytes": opts.slow_read_bytes,
                "interval_s": opts.slow_read_interval,
                "slow_phase_s": opts.slow_phase,
            },
        },
        "load_s": round(load_end - t0, 1),
        "wall_s": round(end - t0, 1),
        "totals": tot,
        "throughput_rps": round((tot["requests"] - opts.warmup) / max(1e-9, load_end - t0), 1),
        "routes": {k: v.as_dict() for k, v in sorted(rec.stats["well-formed"].items())},
        "malformed": {k: v.as_dict() for k, v in sorted(rec.stats["malformed"].items())},
        "admin": {k: v.as_dict() for k, v in rec.stats["admin"].items()},
        "admin_documents_left": left,
        "admin_cleaned_up": opts.url is not None,
        "slow_readers": {
            **slow_stats.as_dict(),
            **{k: v.as_dict() for k, v in rec.stats["slow-reader"].items()},
        },
        "malformed_accepted": dict(rec.notes),
        "rss": rss_d,
        "failures": rec.failures,
        "targets": targets,
        "passed": all(t["met"] is not False for t in targets.values()),
    }


# --------------------------------------------------------------------------------------------
# output


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    return str(v)


def _route_row(label: str, s: dict[str, Any]) -> list[str]:
    """One row of the well-formed requests' table: a route's (or an admin action's) counts and latencies."""
    return [label, str(s["count"]), str(s["ok"]), str(s["failed"]), _fmt(s["p50_ms"]), _fmt(s["p95_ms"]), _fmt(s["max_ms"]), _statuses(s["statuses"])]


def _table(rows: list[list[str]], right_from: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        cells = [
            c.ljust(w) if i < right_from else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        out.append("  " + "  ".join(cells).rstrip())
        if n == 0:
            out.append("  " + "  ".join("-" * w for w in widths))
    return out


def _exit(code: int | None) -> str:
    if code in (0, -signal.SIGTERM):
        return "stopped cleanly on SIGTERM"
    return f"exit code {code} after SIGTERM (killed or crashed)"


def _statuses(d: dict[str, int]) -> str:
    return " ".join(f"{k}:{v}" for k, v in d.items())


def summary(result: dict[str, Any]) -> str:
    cfg = result["config"]
    lines = [
        "",
        (
            f"ragqa soak: {cfg['clients']} clients, {cfg['slow_clients']} slow readers, "
            f"{'1 admin' if cfg['admin'] else 'no admin (no --admin-key)'}, {cfg['malformed']:.0%} malformed, "
            f"{cfg['seconds']:.0f} s against {result['url']} (seed {cfg['seed']})"
        ),
        (
            f"{result['totals']['requests']} requests (incl. {cfg['warmup']} warm-up; "
            f"{result['throughput_rps']} req/s while the clients ran); clients done after {result['load_s']:.0f} s, "
            f"the admin's last change after {result['wall_s']:.0f} s"
        ),
        "",
        "well-formed requests",
    ]
    head = ["route", "n", "ok", "failed", "p50 ms", "p95 ms", "max ms", "statuses"]
    rows = [head]
    rows += [_route_row(name, s) for name, s in result["routes"].items()]
    rows += [_route_row(f"admin: {name}", s) for name, s in result["admin"].items()]
    lines += _table(rows)
    sr = result["slow_readers"]
    lines += [
        "",
        (
            f"slow readers ({cfg['slow_read']['bytes']} bytes every {cfg['slow_read']['interval_s']} s for "
            f"{cfg['slow_read']['slow_phase_s']:g} s, then read to the end; every third one closed mid-stream): "
            f"{sr['streams']} streams, {sr['completed']} complete and valid, {sr['abandoned']} closed on purpose, "
            f"{sr['cut_at_end']} cut at the end, {sr['bytes_read']:,} bytes, longest {sr['longest_s']} s"
        ),
    ]
    lines += ["", "malformed requests (any 4xx is right; 5xx or a dropped connection is a server failure)"]
    rows = [["kind", "n", "server failures", "2xx", "p95 ms", "statuses"]]
    for name, s in result["malformed"].items():
        rows.append(
            [
                name,
                str(s["count"]),
                str(s["failed"]),
                str(s["accepted_2xx"]),
                _fmt(s["p95_ms"]),
                _statuses(s["statuses"]),
            ]
        )
    lines += _table(rows)
    if result["malformed_accepted"]:
        lines += ["  accepted with 2xx (not counted as failures; review):"]
        lines += [f"    {n}x {what}" for what, n in result["malformed_accepted"].items()]
    r = result["rss"]
    lines += [""]
    if r["measured"]:
        lines += [
            (
                f"server RSS (pid {r['pid']} and children): start {_fmt(r['start_mib'])} MiB (after warm-up), "
                f"peak {_fmt(r['peak_mib'])}, end {_fmt(r['end_mib'])}; growth end-start "
                f"{r['growth_mib']:+.1f} MiB, peak-start {r['peak_growth_mib']:+.1f} MiB"
            )
        ]
    else:
        lines += ["server RSS: not measured (pass --pid with --url)"]
    if result.get("server_log"):
        log = result["server_log"]
        lines += [
            f"server: {_exit(log.get('exit_code'))}; log: {log.get('tracebacks', 0)} "
            f"tracebacks, {log.get('error_lines', 0)} ERROR lines"
            + (f"; kept at {log['kept_at']}" if log.get("kept_at") else "")
        ]
        if log.get("first_traceback"):
            lines += ["  first traceback:"] + [f"    {x}" for x in log["first_traceback"]]
    if result["admin_documents_left"]:
        left = ", ".join(result["admin_documents_left"])
        if result["admin_cleaned_up"]:
            lines += [f"documents the soak uploaded and could not delete: {left}"]
        else:
            lines += [f"uploaded at the end of the run and left in the throw-away index: {left}"]
    if result["failures"]:
        total = result["totals"]["failed_well_formed"] + result["totals"]["malformed_server_failures"]
        lines += ["", f"failures (first {len(result['failures'])} of {total}):"]
        for f in result["failures"]:
            lines += [
                f"  t={f['t_s']}s [{f['class']}] {f['request']}",
                f"      -> {f['status']}: {f['problem']}",
            ]
            if f.get("response_excerpt"):
                lines += [f"      response: {f['response_excerpt']}"]
    lines += ["", "targets"]
    rows = [["target", "value", "goal", "result"]]
    names = {
        "failed_well_formed": "failed well-formed requests",
        "malformed_server_failures": "malformed answered 5xx / dropped",
        "rss_growth_mib": "server RSS growth (MiB)",
    }
    for key, t in result["targets"].items():
        verdict = "not measured" if t["met"] is None else ("PASS" if t["met"] else "FAIL")
        value = (
            "-"
            if t["value"] is None
            else (f"{t['value']:+.1f}" if isinstance(t["value"], float) else str(t["value"]))
        )
        rows.append([names[key], value, str(t["target"]), verdict])
    lines += _table(rows)
    lines += ["", "PASS" if result["passed"] else "FAIL"]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# command line

EPILOG = """\
what it does:
  --clients closed-loop clients (no think time) send a weighted mix of well-formed requests:
  POST /v1/ask (plain and "stream": true, read to the end), POST /v1/search, GET /v1/documents,
  GET /v1/documents/{doc}/lines?start=1&end=20, GET /healthz and POST /v1/chat/completions (plain
  and streaming), with questions from the gold file(s). --malformed of their requests are broken on
  purpose (invalid JSON, wrong types, missing fields, a lone surrogate, bodies over 64 KB, unknown
  methods, bad line ranges, uploads without the admin key). --slow-clients open streamed answers and
  read them a few bytes at a time. An admin client uploads a small generated .txt after the
  warm-up, then alternately deletes and uploads one, a change every few seconds (each change
  rebuilds the index and can take a minute under load; they have their own rows). Malformed
  requests are sent with 'Connection: close', each on a connection of its own.

targets (exit 0 only if all are met):
  0 failed well-formed requests (non-2xx, timeout, dropped connection, stream without its end),
  0 malformed requests answered 5xx or dropped, server RSS growth (end - start) < 100 MiB.
  RSS is the server's VmRSS (plus child processes), sampled every second; start = after the warm-up.

the server:
  by default the soak starts its own: it copies --index (default .ragqa/index; a symlink is
  resolved) to a temporary folder and runs 'python -m ragqa.service.cli serve' on a free loopback
  port with a random RAGQA_ADMIN_KEY, then stops it. With --url it uses a running server; RSS is
  then measured only with --pid, and uploads/deletes run only with --admin-key (or RAGQA_ADMIN_KEY);
  documents it uploaded are deleted at the end.

examples:
  python -m ragqa.eval.soak                                  # the issue's run: 32 clients, 60 s
  python -m ragqa.eval.soak --seconds 15 --clients 8         # a quick smoke run
  python -m ragqa.eval.soak --json out/soak.json             # also write every figure as JSON
  python -m ragqa.eval.soak --url http://127.0.0.1:8000 --pid $(pgrep -f 'ragqa serve') \\
      --admin-key "$RAGQA_ADMIN_KEY"                          # against a server you started
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m ragqa.eval.soak",
        description="Bounded soak/load test of the ragqa HTTP API: concurrent clients, uploads and deletes, "
        "malformed requests and slow readers for a fixed time; reports failures per route, latency and "
        "server memory growth against targets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument(
        "--url", metavar="URL", help="base URL of a running server, e.g. http://127.0.0.1:8000"
    )
    where.add_argument(
        "--index",
        type=Path,
        metavar="PATH",
        default=Path(DEFAULT_INDEX),
        help=f"index folder to serve from a temporary copy (default: {DEFAULT_INDEX})",
    )
    p.add_argument(
        "--pid", type=int, metavar="PID", help="with --url: the server's process id, to sample its RSS"
    )
    p.add_argument("--clients", type=int, metavar="N", default=32, help="concurrent clients (default: 32)")
    p.add_argument(
        "--seconds", type=float, metavar="S", default=60.0, help="length of the load (default: 60)"
    )
    p.add_argument(
        "--malformed",
        type=float,
        metavar="SHARE",
        default=0.05,
        help="share of malformed requests (default: 0.05)",
    )
    p.add_argument(
        "--slow-clients", type=int, metavar="N", default=2, help="slow-reading streaming clients (default: 2)"
    )
    p.add_argument(
        "--admin-key",
        metavar="KEY",
        help="admin key for uploads/deletes (with --url; default: RAGQA_ADMIN_KEY; "
        "without --url a random key is used)",
    )
    p.add_argument(
        "--json", type=Path, dest="json_out", metavar="OUT.json", help="write all figures to this file"
    )
    p.add_argument(
        "--gold",
        type=Path,
        action="append",
        metavar="FILE",
        help=f"gold JSONL file(s) the questions come from (default: {DEFAULT_GOLD.relative_to(REPO)})",
    )
    p.add_argument(
        "--timeout", type=float, metavar="S", default=30.0, help="per-request limit in seconds (default: 30)"
    )
    p.add_argument(
        "--admin-timeout",
        type=float,
        metavar="S",
        default=180.0,
        help="limit for one upload or delete, which rebuild the index (default: 180)",
    )
    p.add_argument(
        "--admin-interval",
        type=float,
        metavar="S",
        default=3.0,
        help="pause between admin changes (default: 3)",
    )
    p.add_argument(
        "--warmup",
        type=int,
        metavar="N",
        default=20,
        help="requests before the RSS start sample (default: 20)",
    )
    p.add_argument(
        "--think",
        type=float,
        metavar="S",
        default=0.0,
        help="mean pause between a client's requests (default: 0)",
    )
    p.add_argument(
        "--seed", type=int, metavar="N", help="random seed (default: random, printed in the summary)"
    )
    p.add_argument(
        "--slow-read-bytes",
        type=int,
        metavar="N",
        default=16,
        help="bytes per read of a slow reader (default: 16)",
    )
    p.add_argument(
        "--slow-read-interval",
        type=float,
        metavar="S",
        default=0.5,
        help="seconds between its reads (default: 0.5)",
    )
    p.add_argument(
        "--slow-phase",
        type=float,
        metavar="S",
        default=10.0,
        help="seconds a slow reader reads slowly before reading the rest at once (default: 10)",
    )
    p.add_argument(
        "--server-log-level",
        default="warning",
        metavar="LEVEL",
        choices=["critical", "error", "warning", "info", "debug"],
        help="log level of the server the soak starts (default: warning)",
    )
    p.add_argument(
        "--start-timeout",
        type=float,
        metavar="S",
        default=180.0,
        help="seconds to wait for /healthz (default: 180)",
    )
    p.add_argument(
        "--progress-every",
        type=float,
        metavar="S",
        default=10.0,
        help="seconds between progress lines (default: 10)",
    )
    p.add_argument(
        "--rss-target",
        type=float,
        metavar="MIB",
        default=RSS_TARGET_MIB,
        dest="rss_target_mib",
        help=f"largest acceptable RSS growth in MiB (default: {RSS_TARGET_MIB:g})",
    )
    return p


def parse_options(argv: list[str] | None) -> Options:
    p = build_parser()
    a = p.parse_args(argv)
    if a.clients < 0 or a.slow_clients < 0 or a.seconds <= 0 or not 0 <= a.malformed <= 1:
        p.error("--clients and --slow-clients must be >= 0, --seconds > 0, --malformed between 0 and 1")
    if a.url and a.slow_clients and not a.url.startswith("http://"):
        p.error("slow readers speak plain HTTP: give an http:// --url, or --slow-clients 0")
    if a.pid is not None and a.url is None:
        p.error("--pid goes with --url (without --url the soak measures the server it starts)")
    return Options(
        url=a.url.rstrip("/") if a.url else None,
        index=a.index,
        pid=a.pid,
        clients=a.clients,
        seconds=a.seconds,
        malformed=a.malformed,
        slow_clients=a.slow_clients,
        admin_key=a.admin_key,
        json_out=a.json_out,
        gold=a.gold or [DEFAULT_GOLD],
        timeout=a.timeout,
        admin_timeout=a.admin_timeout,
        admin_interval=a.admin_interval,
        warmup=a.warmup,
        think=a.think,
        seed=a.seed if a.seed is not None else random.randrange(10**6),
        slow_read_bytes=max(1, a.slow_read_bytes),
        slow_read_interval=a.slow_read_interval,
        slow_phase=a.slow_phase,
        server_log_level=a.server_log_level,
        start_timeout=a.start_timeout,
        progress_every=a.progress_every,
        rss_target_mib=a.rss_target_mib,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_options(argv)
    run_id = secrets.token_hex(3)
    server: OwnServer | None = None
    try:
        if opts.url:
            url, pid = opts.url, opts.pid
            admin_key = opts.admin_key or os.environ.get("RAGQA_ADMIN_KEY") or None
            if not admin_key:
                print(
                    "soak: no --admin-key or RAGQA_ADMIN_KEY: uploads and deletes are not tested",
                    file=sys.stderr,
                )
        else:
            print(f"soak: starting a server on a copy of {opts.index} …", file=sys.stderr, flush=True)
            server = OwnServer(
                opts.index,
                opts.admin_key or secrets.token_urlsafe(24),
                opts.server_log_level,
                opts.start_timeout,
            )
            url, pid, admin_key = server.url, server.pid, server.admin_key
        result = asyncio.run(run_load(opts, url, pid, admin_key, run_id))
    except SoakError as exc:
        print(f"soak: {exc}", file=sys.stderr)
        if server is not None:
            server.stop()
            kept = server.cleanup(keep_log=True)
            print(f"soak: server log kept at {kept}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        if server is not None:
            server.stop()
            server.cleanup(keep_log=False)
        print("soak: interrupted", file=sys.stderr)
        return 1
    if server is not None:
        code = server.stop()
        log = server.log_findings()
        bad = bool(log.get("tracebacks") or log.get("error_lines")) or not result["passed"]
        kept = server.cleanup(keep_log=bad)
        result["server_log"] = {**log, "exit_code": code, "kept_at": str(kept) if kept else None}
    print(summary(result))
    if opts.json_out:
        opts.json_out.parent.mkdir(parents=True, exist_ok=True)
        opts.json_out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"figures written to {opts.json_out}")
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
