"""The HTTP API in-process (TestClient): every endpoint, and the one error shape."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline
from ragqa.service.schemas import CitationsEvent, DeltaEvent, parse_sse

from .conftest import settings_for

DOC = "003_9350541e24857315.txt"


@pytest.fixture(scope="module")
def client(hash_index: Path) -> Iterator[TestClient]:
    settings = settings_for(hash_index, admin_key="s3cret")
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as c:
        yield c


def _error(response: object, status: int, code: str) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert "Traceback" not in body["error"]["message"] and body["error"]["message"]
    return str(body["error"]["message"])


def test_ask_answers_with_a_citation_whose_quote_is_the_source_line(client: TestClient) -> None:
    r = client.post("/v1/ask", json={"question": "东阳2023年地区生产总值增长目标是多少?"})
    assert r.status_code == 200
    body = r.json()
    assert body["refused"] is False and "7.5%以上" in body["answer"] and "[1]" in body["answer"]
    cite = body["citations"][0]
    assert (cite["doc"], cite["start_line"], cite["end_line"]) == (DOC, 23, 23)
    lines = client.get(f"/v1/documents/{DOC}/lines", params={"start": 23, "end": 23}).json()["lines"]
    assert cite["quote"] == lines[0]["text"]
    assert body["llm"] == {"backend": "extractive", "model": None, "fallback": False, "reason": None}
    assert set(body["timings_ms"]) == {"retrieve", "generate", "total"} and len(body["passages"]) == 5


def test_ask_refuses_when_documents_do_not_cover_it(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": "火星探测器的发射窗口是哪一年？"}).json()
    assert body["refused"] is True and body["citations"] == [] and "没有找到" in body["answer"]
    trad = client.post("/v1/ask", json={"question": "火星探測器的發射窗口是哪一年？"}).json()
    assert trad["refused"] is True and "沒有找到" in trad["answer"]


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n "}, "empty"),
        ({"question": "问" * 2001}, "2000"),
        ({"question": 42}, "question"),
        ({"question": "GDP", "top_k": 0}, "top_k"),
        ({"question": "GDP", "top_k": 51}, "top_k"),
        ({"question": "GDP", "top_k": "five"}, "top_k"),
        ({"question": "GDP", "stream": "maybe"}, "stream"),
        ({"question": "GDP", "colour": "red"}, "colour"),
        ({}, "question"),
    ],
)
def test_bad_ask_input_is_a_422_with_a_message(client: TestClient, payload: dict[str, object], needle: str) -> None:
    assert needle in _error(client.post("/v1/ask", json=payload), 422, "invalid_request")


def test_malformed_json_and_wrong_method(client: TestClient) -> None:
    _error(client.post("/v1/ask", content=b"{not json", headers={"content-type": "application/json"}), 422, "invalid_request")
    _error(client.get("/v1/ask"), 405, "method_not_allowed")
    _error(client.get("/v1/nothing"), 404, "not_found")


def test_search_and_documents(client: TestClient) -> None:
    passages = client.post("/v1/search", json={"query": "缙云 中医药产业", "top_k": 3}).json()["passages"]
    assert len(passages) == 3 and passages[0]["doc"] == "002_c48d23b415dc882a.txt"
    assert {"doc", "start_line", "end_line", "clause", "score", "text", "match_start_line", "match_end_line"} == set(passages[0])
    for p in passages:  # the matched chunk's lines lie within the lines shown
        assert p["start_line"] <= p["match_start_line"] <= p["match_end_line"] <= p["end_line"], p
    _error(client.post("/v1/search", json={"query": " "}), 422, "invalid_request")
    docs = client.get("/v1/documents").json()["documents"]
    assert [d["doc"] for d in docs][:1] == ["000_f32850ce6c833049.txt"] and all(d["lines"] and d["chunks"] for d in docs)


def test_document_lines_and_their_errors(client: TestClient) -> None:
    body = client.get(f"/v1/documents/{DOC}/lines", params={"start": 21, "end": 25}).json()
    assert [line["n"] for line in body["lines"]] == [21, 22, 23, 24, 25] and body["total_lines"] == 665
    assert "665" in _error(client.get(f"/v1/documents/{DOC}/lines", params={"start": 700}), 400, "bad_line_range")
    _error(client.get(f"/v1/documents/{DOC}/lines", params={"start": 30, "end": 20}), 400, "bad_line_range")
    _error(client.get(f"/v1/documents/{DOC}/lines", params={"start": 0}), 422, "invalid_request")
    _error(client.get("/v1/documents/missing.txt/lines"), 404, "not_found")


def test_stream_sends_deltas_then_citations_then_done(client: TestClient) -> None:
    with client.stream("POST", "/v1/ask", json={"question": "缙云每年要新增出让多少亩工业用地？", "stream": True}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = parse_sse(raw)
    names = [e.event for e in events]
    assert names[-2:] == ["citations", "done"] and set(names[:-2]) == {"delta"} and len(names) > 3
    final = events[-2]
    assert isinstance(final, CitationsEvent)
    text = "".join(e.text for e in events if isinstance(e, DeltaEvent))
    assert text == final.answer and "600畝" in text
    assert final.citations[0].start_line == 18


def test_healthz_and_metrics(client: TestClient) -> None:
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["documents"] == 5 and health["embedder"] == "hash:64"
    client.post("/v1/ask", json={"question": "东阳2023年地区生产总值增长目标是多少?"})
    metrics = client.get("/metrics").text
    assert 'ragqa_requests_total{method="POST",outcome="ok",route="/v1/ask"}' in metrics
    assert "ragqa_retrieve_seconds_bucket" in metrics and 'ragqa_answers_total{backend="extractive",result="answered"}' in metrics


def test_admin_upload_and_delete(client: TestClient) -> None:
    files = {"files": ("新规定.txt", "第一条 本市设立数据局，负责数据统筹。\n".encode(), "text/plain")}
    _error(client.post("/v1/documents", files=files), 401, "unauthorized")
    _error(client.post("/v1/documents", files=files, headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    ok = client.post("/v1/documents", files=files, headers={"Authorization": "Bearer s3cret"})
    assert ok.status_code == 200 and ok.json()["added"] == ["新规定.txt"]
    found = client.post("/v1/search", json={"query": "数据局 数据统筹", "top_k": 1}).json()["passages"][0]
    assert found["doc"] == "新规定.txt"
    bad = {"files": ("x.bin", b"\x00\x01\x02", "application/octet-stream")}
    _error(client.post("/v1/documents", files=bad, headers={"Authorization": "Bearer s3cret"}), 400, "unreadable_document")
    assert client.delete("/v1/documents/新规定.txt", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    _error(client.delete("/v1/documents/新规定.txt", headers={"Authorization": "Bearer s3cret"}), 404, "not_found")
    assert len(client.get("/v1/documents").json()["documents"]) == 5


def test_openai_compatible_endpoint_carries_footnotes(client: TestClient) -> None:
    body = client.post("/v1/chat/completions", json={"model": "ragqa", "messages": [{"role": "user", "content": "缙云每年要新增出让多少亩工业用地？"}]}).json()
    content = body["choices"][0]["message"]["content"]
    assert "600畝" in content and "[1] 《" in content and "002_c48d23b415dc882a.txt 第18行" in content
    _error(client.post("/v1/chat/completions", json={"messages": [{"role": "system", "content": "hi"}]}), 422, "invalid_request")


@pytest.mark.parametrize(
    "question",
    ["？？？！！！", "😀😀🎉", "东阳" * 1000, "What is the GDP growth target of Dongyang in 2023?", "《不存在的文件》第三条规定了什么？"],
    ids=["punctuation", "emoji", "2000-chars", "english", "unknown-document"],
)
def test_odd_questions_get_an_answer_or_a_refusal_not_an_error(client: TestClient, question: str) -> None:
    response = client.post("/v1/ask", json={"question": question})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["refused"] == (body["citations"] == []), body
    if question.strip("？！😀🎉") == "":
        assert body["refused"], body


def test_lone_surrogates_and_control_characters_are_cleaned_not_a_500(client: TestClient) -> None:
    raw = b'{"question": "\\ud800\\u0007\xe4\xb8\x9c\xe9\x98\xb32023\xe5\xb9\xb4GDP\xe7\x9b\xae\xe6\xa0\x87\xe5\xa2\x9e\xe9\x95\xbf\xe5\xa4\x9a\xe5\xb0\x91?"}'
    for path in ("/v1/ask", "/v1/search"):
        body = raw if path == "/v1/ask" else raw.replace(b'"question"', b'"query"')
        response = client.post(path, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200, (path, response.text)
    chat = b'{"messages": [{"role": "user", "content": "\\udfff\xe4\xb8\x9c\xe9\x98\xb3GDP?"}]}'
    response = client.post("/v1/chat/completions", content=chat, headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


def test_chat_rejects_an_over_long_question_like_ask(client: TestClient) -> None:
    long = {"messages": [{"role": "user", "content": "问" * 2001}]}
    message = _error(client.post("/v1/chat/completions", json=long), 422, "invalid_request")
    assert "2000" in message
    many = {"messages": [{"role": "user", "content": "问"}] * 65}
    assert "64" in _error(client.post("/v1/chat/completions", json=many), 422, "invalid_request")


def test_metric_labels_stay_bounded_under_made_up_methods(client: TestClient) -> None:
    for i in range(5):
        client.request(f"BREW{i}", "/v1/ask")
    metrics = client.get("/metrics").text
    assert "BREW" not in metrics and 'method="OTHER"' in metrics


def test_healthz_shows_the_index_path_only_to_the_admin(client: TestClient) -> None:
    assert "index" not in client.get("/healthz").json()
    assert "index" not in client.get("/healthz", headers={"Authorization": "Bearer wrong"}).json()
    assert client.get("/healthz", headers={"Authorization": "Bearer s3cret"}).json()["index"]


def test_deleting_the_last_document_is_a_conflict(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "唯一.txt").write_text("第一条 本办法自公布之日起施行。\n", encoding="utf-8")
    ingest_paths([corpus], tmp_path / "index", HashEmbedder(16))
    settings = settings_for(tmp_path / "index", admin_key="k")
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as one:
        message = _error(one.delete("/v1/documents/唯一.txt", headers={"Authorization": "Bearer k"}), 409, "last_document")
        assert "upload another" in message


def test_an_upload_name_over_255_bytes_is_a_400(client: TestClient) -> None:
    files = {"files": ("长" * 100 + ".txt", "第一条 内容。\n".encode(), "text/plain")}
    _error(client.post("/v1/documents", files=files, headers={"Authorization": "Bearer s3cret"}), 400, "unreadable_document")


def test_an_over_large_body_is_a_413_before_it_is_read(client: TestClient) -> None:
    big = b'{"question": "' + "问".encode() * 40_000 + b'"}'
    _error(client.post("/v1/ask", content=big, headers={"content-type": "application/json"}), 413, "request_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"question": "'
        for _ in range(100):
            yield "问".encode() * 1000
        yield b'"}'

    streamed = client.post("/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    _error(streamed, 413, "request_too_large")


def test_an_unauthenticated_upload_is_refused(client: TestClient) -> None:
    # (How little of its body is read is measured on a real server: tests/test_serving_limits.py.)
    response = client.post("/v1/documents", content=b"x" * 4096, headers={"content-type": "multipart/form-data; boundary=b"})
    _error(response, 401, "unauthorized")


def test_an_upload_name_with_a_folder_is_refused_not_rewritten(client: TestClient) -> None:
    files = {"files": ("etc/cron.d/003_9350541e24857315.txt", "第一条 覆盖。\n".encode(), "text/plain")}
    message = _error(client.post("/v1/documents", files=files, headers={"Authorization": "Bearer s3cret"}), 400, "unreadable_document")
    assert "folder" in message
    assert len(client.get("/v1/documents/003_9350541e24857315.txt/lines", params={"start": 1, "end": 1}).json()["lines"]) == 1
    assert len(client.get("/v1/documents").json()["documents"]) == 5


def test_an_unreadable_file_in_an_upload_is_skipped_with_its_reason_and_the_rest_added(client: TestClient) -> None:
    files = [
        ("files", ("好文件.txt", "第一条 本市设立夜航管理所。\n".encode(), "text/plain")),
        ("files", ("坏文件.txt", b"\x00\x01\x02\x03", "text/plain")),
        ("files", ("图片.png", b"\x89PNG", "image/png")),
    ]
    response = client.post("/v1/documents", files=files, headers={"Authorization": "Bearer s3cret"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["added"] == ["好文件.txt"] and body["job"]["state"] == "done"
    reasons = {s["name"]: s["reason"] for s in body["skipped"]}
    assert set(reasons) == {"坏文件.txt", "图片.png"} and "NUL" in reasons["坏文件.txt"] and "not a readable image" in reasons["图片.png"]
    assert client.delete("/v1/documents/好文件.txt", headers={"Authorization": "Bearer s3cret"}).status_code == 200


def test_docs_assets_are_served_gzipped_with_an_etag(client: TestClient) -> None:
    """Swagger UI's files, compressed on their first request rather than at start."""
    import fastapi_offline

    bundle = (Path(fastapi_offline.__file__).parent / "static" / "swagger-ui-bundle.js").read_bytes()
    first = client.get("/docs/assets/swagger-ui-bundle.js", headers={"accept-encoding": "gzip"})
    assert first.status_code == 200 and first.headers["content-encoding"] == "gzip" and first.content == bundle
    again = client.get("/docs/assets/swagger-ui-bundle.js", headers={"if-none-match": first.headers["etag"]})
    assert again.status_code == 304
    plain = client.get("/docs/assets/swagger-ui.css", headers={"accept-encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    _error(client.get("/docs/assets/nothing.js"), 404, "not_found")
