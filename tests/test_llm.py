"""The openai backend against a fake OpenAI-compatible server (real HTTP), faults at the transport."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from ragqa.ingest.errors import ConfigError
from ragqa.service.app import create_app
from ragqa.service.errors import LLMError
from ragqa.service.llm import OpenAIChat
from ragqa.service.pipeline import Pipeline
from ragqa.service.schemas import CitationsEvent, DeltaEvent, parse_sse

from .conftest import settings_for
from .fake_openai import FakeOpenAI

QUESTION = "缙云每年要新增出让多少亩工业用地？"


@pytest.fixture()
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


def _pipeline(index: Path, url: str, client: httpx.Client | None = None) -> Pipeline:
    settings = settings_for(index, llm_backend="openai", llm_base_url=url, llm_model="fake-7b", llm_api_key="k", llm_retries=1)
    return Pipeline.from_settings(settings, http_client=client)


def test_llm_answer_is_cited_narrowed_and_dangling_markers_dropped(hash_index: Path, fake: FakeOpenAI) -> None:
    result = _pipeline(hash_index, fake.url).ask(QUESTION, 3)
    assert result.llm.backend == "openai" and result.llm.model == "fake-7b" and not result.llm.fallback
    assert "[9]" not in result.answer and "[1]" in result.answer
    assert [c.id for c in result.citations] == [1]
    passage = result.passages[0]
    cite = result.citations[0]
    assert passage.start_line <= cite.start_line <= cite.end_line <= passage.end_line
    sent = fake.requests[0]
    assert sent["auth"] == "Bearer k" and sent["body"]["model"] == "fake-7b"
    assert "[1] 《" in sent["body"]["messages"][1]["content"] and QUESTION in sent["body"]["messages"][1]["content"]


def test_llm_refusal_is_reported_as_refused(hash_index: Path, fake: FakeOpenAI) -> None:
    result = _pipeline(hash_index, fake.url).ask("不存在的事项是什么？", 3)
    assert result.refused and result.citations == []


def test_streaming_passes_llm_deltas_through(hash_index: Path, fake: FakeOpenAI) -> None:
    settings = settings_for(hash_index, llm_backend="openai", llm_base_url=fake.url, llm_model="fake-7b")
    with (
        TestClient(create_app(settings, Pipeline.from_settings(settings))) as client,
        client.stream("POST", "/v1/ask", json={"question": QUESTION, "stream": True, "top_k": 3}) as r,
    ):
        raw = "".join(r.iter_text())
    events = parse_sse(raw)
    deltas = [e.text for e in events if isinstance(e, DeltaEvent)]
    assert len(deltas) > 3 and "".join(deltas).startswith("根据资料")
    final = next(e for e in events if isinstance(e, CitationsEvent))
    assert final.llm.backend == "openai" and final.citations[0].id == 1


def test_stream_cut_midway_falls_back_to_extractive(hash_index: Path, fake: FakeOpenAI) -> None:
    fake.mode = "cut"
    events = list(_pipeline(hash_index, fake.url).ask_stream(QUESTION, 3))
    final = next(e for e in events if isinstance(e, CitationsEvent))
    assert final.llm.fallback is True and final.llm.reason and final.llm.reason.startswith("stream_cut")
    assert any(e.replace for e in events if isinstance(e, DeltaEvent)) and "600畝" in final.answer


def test_http_500_after_retries_falls_back_and_is_counted(hash_index: Path, fake: FakeOpenAI) -> None:
    fake.mode = "500"
    settings = settings_for(hash_index, llm_backend="openai", llm_base_url=fake.url, llm_model="m", llm_retries=1)
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as client:
        body = client.post("/v1/ask", json={"question": QUESTION}).json()
        metrics = client.get("/metrics").text
    assert body["llm"]["fallback"] is True and body["llm"]["reason"].startswith("http_500") and "600畝" in body["answer"]
    assert len(fake.requests) == 2
    assert 'ragqa_llm_errors_total{reason="http_500"} 1.0' in metrics


def _mock(handler: object) -> httpx.Client:
    return httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]


def test_faults_at_the_transport_each_fall_back_with_a_reason(hash_index: Path) -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def malformed(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": True})

    def uncited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"choices": [{"message": {"content": "大概是六百亩吧。"}}]})

    for handler, reason in [(timeout, "timeout"), (refused, "connect"), (malformed, "bad_body"), (uncited, "ungrounded")]:
        result = _pipeline(hash_index, "http://llm.invalid/v1", _mock(handler)).ask(QUESTION, 3)
        assert result.llm.fallback and result.llm.reason and result.llm.reason.startswith(reason), (reason, result.llm)
        assert result.llm.backend == "extractive" and "600畝" in result.answer


def test_429_is_retried_then_succeeds() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            return httpx.Response(429, headers={"retry-after": "0"})
        return httpx.Response(200, json={"choices": [{"message": {"content": "好[1]"}}]})

    llm = OpenAIChat("http://x/v1", "m", client=_mock(handler), retries=2, backoff=0)
    assert llm.complete([{"role": "user", "content": "q"}]) == "好[1]"
    assert len(calls) == 2


def test_400_is_not_retried_and_config_is_checked() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, text="bad model")

    with pytest.raises(LLMError, match="HTTP 400"):
        OpenAIChat("http://x/v1", "m", client=_mock(handler), retries=3, backoff=0).complete([])
    assert len(calls) == 1
    with pytest.raises(ConfigError, match="RAGQA_LLM_MODEL"):
        OpenAIChat("http://x/v1", "")


def test_a_delete_between_retrieval_and_prompting_does_not_break_the_answer(hash_index: Path, fake: FakeOpenAI, tmp_path: Path) -> None:
    """One index snapshot serves the whole request: the prompt is built from the state the
    passages came from, even when a delete swaps in a new index right after retrieval."""
    index = tmp_path / "index"
    shutil.copytree(hash_index.resolve(), tmp_path / "build")
    index.symlink_to(tmp_path / "build")
    pipe = _pipeline(index, fake.url)
    snap = pipe.retrieval.current  # what a request takes once, at its start
    hits = snap.search(QUESTION, 3)
    pipe.delete_document(hits[0].chunk.doc_id)  # lands between retrieval and the prompt
    result = pipe.answerer.answer(QUESTION, hits, snap)
    assert result.llm.backend == "openai" and not result.llm.fallback and result.citations
    assert hits[0].chunk.doc_id not in pipe.index.documents  # cited from the snapshot it was retrieved from  # cited from the snapshot it was retrieved from
