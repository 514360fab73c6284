"""ragqa as an OpenAI-compatible model, driven by the official `openai` Python client against a
real `ragqa serve` process on a loopback port: the way Open WebUI, LobeChat and the like use it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openai
import pytest
from ragqa.eval.textnorm import normalize
from ragqa.service.answering import REFUSAL_SIMPLIFIED

from .conftest import DEV_GOLD
from .serving import Service, StartService

FOOTNOTE = re.compile(r"^\[(\d+)\] 《(.+?)》 (\S+) 第(\d+)(?:-(\d+))?行(?: · (.+))?$", re.MULTILINE)


def gold(item_id: str) -> dict[str, Any]:
    for line in DEV_GOLD.read_text(encoding="utf-8").splitlines():
        item: dict[str, Any] = json.loads(line)
        if item["id"] == item_id:
            return item
    raise AssertionError(f"{item_id} not in {DEV_GOLD}")


@pytest.fixture(scope="module")
def service(use_index: Path, start_service: StartService) -> Service:
    return start_service(use_index, [])


@pytest.fixture(scope="module")
def client(service: Service) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{service.url}/v1", api_key="not-needed", max_retries=0, timeout=60)


def assert_answer_with_footnotes(content: str, item: dict[str, Any]) -> None:
    answer, _, notes = content.partition("\n\n---\n")
    assert any(normalize(a) in normalize(answer) for a in item["answers"]), content
    found = FOOTNOTE.findall(notes)
    assert found, f"no footnotes in {content!r}"
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", answer)}
    assert markers == {int(f[0]) for f in found}, "every [n] in the answer has its footnote and no other"
    ref = item["refs"][0]
    spans = [(doc, int(start), int(end or start)) for _, _, doc, start, end, _ in found]
    assert any(
        doc == ref["doc"] and start <= ref["end_line"] and end >= ref["start_line"] for doc, start, end in spans
    ), f"no footnote points at {ref}: {spans}"


def test_models_lists_ragqa(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["ragqa"]


@pytest.mark.parametrize("item_id", ["gb001", "ga063"])
def test_completion_cites_source_lines_as_footnotes(client: openai.OpenAI, item_id: str) -> None:
    item = gold(item_id)
    reply = client.chat.completions.create(model="ragqa", messages=[{"role": "user", "content": item["question"]}])
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content is not None
    assert_answer_with_footnotes(choice.message.content, item)
    assert reply.usage is not None and reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 0


def test_streamed_completion_carries_the_same_footnotes(client: openai.OpenAI) -> None:
    item = gold("gb001")
    messages: Any = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "你好"},
        {"role": "assistant", "content": "你好，请问有什么可以帮您？"},
        {"role": "user", "content": item["question"]},
    ]
    pieces: list[str] = []
    finish = []
    with client.chat.completions.create(model="ragqa", messages=messages, stream=True) as stream:
        for chunk in stream:
            assert chunk.model == "ragqa"
            for choice in chunk.choices:
                pieces.append(choice.delta.content or "")
                finish.append(choice.finish_reason)
    streamed = "".join(pieces)
    assert len([p for p in pieces if p]) >= 2, "answer and footnotes arrive as separate chunks"
    assert finish[-1] == "stop" and set(finish[:-1]) == {None}
    assert_answer_with_footnotes(streamed, item)
    whole = client.chat.completions.create(model="ragqa", messages=messages)
    assert whole.choices[0].message.content == streamed


def test_unanswerable_question_is_refused_without_footnotes(client: openai.OpenAI) -> None:
    # A question the documents are not about at all: how a refusal reads, not how often (ragqa eval).
    reply = client.chat.completions.create(model="ragqa", messages=[{"role": "user", "content": "火星探测器的发射窗口是哪一年？"}])
    content = reply.choices[0].message.content or ""
    assert "---" not in content and not FOOTNOTE.search(content)
    assert content == REFUSAL_SIMPLIFIED


def test_request_without_user_text_is_a_clear_client_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        client.chat.completions.create(model="ragqa", messages=[{"role": "system", "content": "只有系统消息"}])
    assert caught.value.code == "invalid_request"
    assert "no user message" in caught.value.message
