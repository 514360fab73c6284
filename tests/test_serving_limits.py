"""What a real `ragqa serve` process does at its edge: request ids and JSON logs, read timeouts
for slow or half-open clients, and closing the upstream LLM stream when the client leaves."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from . import serving


@pytest.fixture(scope="module")
def edge(hash_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.Service]:
    log = tmp_path_factory.mktemp("edge") / "serve.log"
    service = serving.start(hash_index, [], {"RAGQA_HEADER_TIMEOUT_S": "1", "RAGQA_BODY_TIMEOUT_S": "1"}, log)
    yield service
    serving.stop(service)


def test_every_response_carries_a_request_id_that_the_json_log_names(edge: serving.Service) -> None:
    mine = httpx.post(f"{edge.url}/v1/ask", json={"question": "东阳2023年GDP目标增长多少?"}, headers={"X-Request-ID": "trace-42"})
    assert mine.headers["x-request-id"] == "trace-42"
    made = httpx.post(f"{edge.url}/v1/ask", content=b"{bad json", headers={"content-type": "application/json", "X-Request-ID": "x" * 300})
    assert made.status_code == 422 and len(made.headers["x-request-id"]) == 32  # an insane id is replaced
    big = httpx.post(f"{edge.url}/v1/ask", content=b"x" * 200_000, headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.headers["x-request-id"]
    time.sleep(0.3)
    entries = [json.loads(line) for line in edge.log.read_text().splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "ragqa.access"]
    assert {"request_id": "trace-42", "method": "POST", "path": "/v1/ask", "status": 200}.items() <= next(
        e for e in access if e["request_id"] == "trace-42"
    ).items()
    assert any(e["request_id"] == made.headers["x-request-id"] and e["status"] == 422 for e in access)
    assert all(set(e) >= {"ts", "level", "logger", "msg", "request_id"} for e in entries)


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(4096):
            continue
        return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_half_open_and_trickling_clients_are_cut_off(edge: serving.Service) -> None:
    host, port = edge.url.removeprefix("http://").split(":")
    silent = [socket.create_connection((host, int(port))) for _ in range(20)]
    trickle = socket.create_connection((host, int(port)))
    trickle.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\n")  # headers never finished
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(b"POST /v1/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"qu")
    for sock in [*silent, trickle, stalled]:
        assert _closed_by_server(sock, within=4.0), "a connection that sent no complete request was kept open"
        sock.close()
    assert httpx.get(f"{edge.url}/healthz").status_code == 200


class _EndlessLLM(http.server.BaseHTTPRequestHandler):
    """Streams one token every 50 ms for up to 20 s; records when the reader went away."""

    gone: threading.Event
    started: threading.Event

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        self.started.set()
        try:
            for _ in range(400):
                chunk = {"choices": [{"index": 0, "delta": {"content": "东阳"}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            self.gone.set()

    def log_message(self, format: str, *args: object) -> None:
        return


def test_a_client_that_leaves_closes_the_upstream_llm_stream(hash_index: Path, tmp_path: Path) -> None:
    handler = type("Endless", (_EndlessLLM,), {"gone": threading.Event(), "started": threading.Event()})
    llm = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=llm.serve_forever, daemon=True).start()
    env = {"RAGQA_LLM_BACKEND": "openai", "RAGQA_LLM_BASE_URL": f"http://127.0.0.1:{llm.server_address[1]}/v1",
           "RAGQA_LLM_MODEL": "endless", "RAGQA_LLM_RETRIES": "0"}
    service = serving.start(hash_index, [], env, tmp_path / "serve.log")
    try:
        for path, body in (("/v1/ask", {"question": "东阳2023年GDP目标增长多少?", "stream": True}),
                           ("/v1/chat/completions", {"model": "ragqa", "stream": True, "messages": [{"role": "user", "content": "东阳GDP目标?"}]})):
            handler.gone.clear()
            handler.started.clear()
            with httpx.stream("POST", f"{service.url}{path}", json=body, timeout=30) as response:
                for line in response.iter_lines():
                    if "东阳" in line:
                        break  # one delta read; now hang up
            assert handler.started.is_set()
            assert handler.gone.wait(5.0), f"{path}: the upstream LLM stream went on after the client left"
    finally:
        serving.stop(service)
        llm.shutdown()


def test_a_refused_upload_still_reaches_a_client_that_sends_its_body_late(edge: serving.Service) -> None:
    """The refusal must not be lost to a connection reset while the client is still sending its
    body (before the fix, 26 of 30 such uploads lost their answer to a reset)."""

    async def upload_without_key() -> list[int | str]:
        seen: list[int | str] = []
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(20):
                try:
                    response = await client.post(f"{edge.url}/v1/documents", headers={"Connection": "close"},
                                                 files={"files": ("a.txt", b"x" * 3000, "text/plain")})
                    seen.append(response.status_code)
                except httpx.TransportError as exc:
                    seen.append(type(exc).__name__)
        return seen

    with ThreadPoolExecutor(1) as pool:  # its own event loop, whatever the test session runs
        assert pool.submit(asyncio.run, upload_without_key()).result() == [403] * 20  # admin_disabled: no key here


def test_a_refused_upload_is_not_read_in_full(edge: serving.Service) -> None:
    """A 50 MB upload without the admin key: the server answers from the headers, reads at most
    1 MB of the body (dropped), and closes; the client cannot push the rest."""
    host, port = edge.url.removeprefix("http://").split(":")
    size = 50 << 20
    head = (f"POST /v1/documents HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n").encode()
    sent = 0
    with socket.create_connection((host, int(port))) as sock:
        sock.settimeout(10)
        sock.sendall(head)
        try:
            while sent < size:
                sock.sendall(b"x" * 65536)
                sent += 65536
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            pass
    assert sent < 16 << 20, f"the server took {sent >> 20} MB of a refused upload"
