"""Access control on the answering endpoints (issue 15): for every reader, /v1/ask (JSON and
stream, with and without history), /v1/chat/completions and /v1/suggested-questions never show a
document the reader may not read, in answers, citations, passages, suggestions or rewrites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from .test_access import QUESTIONS, READERS, VISIBLE, access_client, assert_only_visible, build_access_index, reader_headers


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with access_client(build_access_index(tmp_path_factory.mktemp("access-answers"))) as c:
        yield c


def _cited_docs(body: dict[str, object]) -> set[str]:
    found: set[str] = set()
    for key in ("citations", "passages", "suggestions"):
        found |= {str(item["doc"]) for item in body.get(key, []) or []}  # type: ignore[union-attr]
    return found


@pytest.mark.parametrize("reader", sorted(READERS))
def test_answers_cite_only_documents_the_reader_may_read(client: TestClient, reader: str) -> None:
    headers = reader_headers(reader)
    history = [{"role": "user", "content": QUESTIONS[0]}, {"role": "assistant", "content": "（回答）"}]
    answered = 0
    for question in QUESTIONS:
        for extra in ({}, {"history": history}):
            resp = client.post("/v1/ask", json={"question": question, **extra}, headers=headers)
            assert resp.status_code == 200, resp.text
            body = resp.json()
            assert _cited_docs(body) <= VISIBLE[reader], (reader, question)
            assert_only_visible(resp.text, reader)
            answered += not body["refused"]
            with client.stream("POST", "/v1/ask", json={"question": question, "stream": True, **extra}, headers=headers) as stream:
                assert_only_visible("".join(stream.iter_text()), reader)
        chat = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}, headers=headers)
        assert chat.status_code == 200
        assert_only_visible(chat.text, reader)
    assert answered > 0  # every reader reads the public document, so something is answered


@pytest.mark.parametrize("reader", sorted(READERS))
def test_suggested_questions_come_only_from_readable_documents(client: TestClient, reader: str) -> None:
    resp = client.get("/v1/suggested-questions", headers=reader_headers(reader))
    assert resp.status_code == 200
    assert_only_visible(resp.text, reader)
