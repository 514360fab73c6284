"""HttpAsker over httpx.MockTransport (retries, errors, paging) and InProcessAsker's adapter."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import httpx
import pytest
from pydantic import BaseModel
from ragqa.eval.askers import HttpAsker, InProcessAsker
from ragqa.eval.errors import AskerError, DocumentNotFound

ASK = {
    "answer": "增长7.5%以上[1]。",
    "refused": False,
    "citations": [],
    "passages": [],
    "llm": {"backend": "extractive", "model": None},
    "timings_ms": {"total": 5.2},
}
DOCS = {"documents": [{"doc": "sub/a b.txt", "title": "A", "lines": 3, "chunks": 1}]}
LINES = ["第一行", "第二行", "第三行"]

Handler = Callable[[httpx.Request], httpx.Response]


def make(handler: Handler, retries: int = 3) -> tuple[HttpAsker, list[float]]:
    sleeps: list[float] = []
    client = httpx.Client(transport=httpx.MockTransport(handler))
    asker = HttpAsker("http://svc:8000/", client=client, retries=retries, sleep=sleeps.append)
    return asker, sleeps


def test_retries_a_503_then_succeeds() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(503, json={"error": {"code": "busy", "message": "warming up"}})
        return httpx.Response(200, json=ASK)

    asker, sleeps = make(handler)
    assert asker.ask("东阳GDP?", 5) == ASK
    assert len(calls) == 2 and sleeps == [0.5]
    assert calls[0].url == "http://svc:8000/v1/ask"
    assert json.loads(calls[1].content) == {"question": "东阳GDP?", "top_k": 5}


def test_gives_up_after_retries_with_backoff() -> None:
    asker, sleeps = make(lambda r: httpx.Response(502, text="bad gateway"), retries=2)
    with pytest.raises(AskerError, match=r"answered 502: bad gateway \(gave up after 3 attempts\)"):
        asker.search("q", 10)
    assert sleeps == [0.5, 1.0]


def test_retries_connection_errors() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, json={"passages": []})

    asker, sleeps = make(handler)
    assert asker.search("q", 10) == {"passages": []}
    assert sleeps == [0.5, 1.0]


def test_client_errors_are_not_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(422, json={"error": {"code": "bad", "message": "top_k must be 1-50"}})

    asker, _ = make(handler)
    with pytest.raises(AskerError, match="answered 422: top_k must be 1-50") as info:
        asker.ask("q", 99)
    assert not isinstance(info.value, DocumentNotFound) and calls == [1]


def test_documents_and_paged_lines() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/v1/documents":
            return httpx.Response(200, json=DOCS)
        start, end = int(request.url.params["start"]), int(request.url.params["end"])
        end = min(end, start + 1)
        rows = [{"n": n, "text": LINES[n - 1]} for n in range(start, end + 1)]
        body = {"doc": "sub/a b.txt", "title": "A", "total_lines": 3, "start": start, "end": end}
        return httpx.Response(200, json={**body, "lines": rows})

    asker, _ = make(handler)
    assert asker.documents() == {"sub/a b.txt": 3}
    assert asker.document_lines("sub/a b.txt") == LINES
    assert seen[1:] == [
        "http://svc:8000/v1/documents/sub%2Fa%20b.txt/lines?start=1&end=3",
        "http://svc:8000/v1/documents/sub%2Fa%20b.txt/lines?start=3&end=3",
    ]
    with pytest.raises(DocumentNotFound, match=re.escape("'zzz.txt' is not in")):
        asker.document_lines("zzz.txt")


def test_malformed_documents_and_bad_url() -> None:
    asker, _ = make(lambda r: httpx.Response(200, json={"docs": []}))
    with pytest.raises(AskerError, match="did not answer"):
        asker.documents()
    with pytest.raises(AskerError, match="must start with http"):
        HttpAsker("svc:8000")


def test_config_reports_url_and_health() -> None:
    asker, _ = make(lambda r: httpx.Response(200, json={"status": "ok"}))
    assert asker.config() == {"mode": "http", "url": "http://svc:8000", "healthz": {"status": "ok"}}


class Info(BaseModel):
    doc: str
    title: str
    lines: int
    chunks: int


class Hit(BaseModel):
    doc: str
    start_line: int
    end_line: int
    clause: str
    score: float
    text: str


class FakePipeline:
    def ask(self, question: str, top_k: int, history: object = ()) -> BaseModel:
        raise RuntimeError("index not loaded")

    def search(self, query: str, top_k: int) -> list[Hit]:
        return [Hit(doc="a.txt", start_line=1, end_line=2, clause="一", score=0.5, text="t")][
            :top_k
        ]

    def documents(self) -> list[Info]:
        return [Info(doc="a.txt", title="A", lines=3, chunks=1)]

    def document_lines(self, doc: str) -> list[str]:
        return LINES

    def config(self) -> dict[str, object]:
        return {"embedder": "fake"}


def test_in_process_asker_dumps_pydantic_models_and_wraps_errors() -> None:
    asker = InProcessAsker(pipeline=FakePipeline())
    assert asker.concurrency == 1
    assert asker.search("q", 10)["passages"][0]["clause"] == "一"
    assert asker.documents() == {"a.txt": 3}
    assert asker.document_lines("a.txt") == LINES
    assert asker.config() == {"mode": "in-process", "embedder": "fake"}
    with pytest.raises(AskerError, match=re.escape("pipeline.ask failed: RuntimeError: index not loaded")):
        asker.ask("q", 5)
    with pytest.raises(DocumentNotFound):
        asker.document_lines("b.txt")
