"""Feedback: the answer log, the SQLite store, POST /v1/feedback, its metrics and the gold export.

Answers come from the real pipeline on the sample corpus (hash embedder); the route is tested
in-process with TestClient; the export runs the real CLI and is read back by the eval gold loader.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ragqa.eval.goldset import parse_gold
from ragqa.service import cli
from ragqa.service.app import create_app
from ragqa.service.feedback import (
    AnswerLog,
    Feedback,
    FeedbackLimit,
    FeedbackStore,
    FeedbackUnavailable,
    LoggedAnswer,
    index_version,
    remember,
)
from ragqa.service.pipeline import Pipeline
from ragqa.service.schemas import AskResponse, Citation, CitationsEvent, LLMInfo, Timings, parse_sse

from .conftest import settings_for

DOC = "003_9350541e24857315.txt"
QUESTION = "东阳2023年地区生产总值增长目标是多少?"


@pytest.fixture(scope="module")
def pipe(hash_index: Path) -> Pipeline:
    return Pipeline.from_settings(settings_for(hash_index))


@pytest.fixture
def app(pipe: Pipeline, hash_index: Path, tmp_path: Path) -> FastAPI:
    return create_app(settings_for(hash_index, feedback_db=tmp_path / "feedback.sqlite"), pipe)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def rated(app: FastAPI, pipe: Pipeline, question: str = QUESTION) -> AskResponse:
    """An answer of the real pipeline, remembered as the /v1/ask route remembers it."""
    response = pipe.ask(question)
    remember(app.state.answers, response, question, index_version(pipe.index.manifest))
    return response


def cite(n: int, start: int, end: int | None = None, doc: str = DOC) -> Citation:
    return Citation(id=n, doc=doc, title="t", start_line=start, end_line=end or start, clause="c", quote="q")


def logged(answer_id: str, *, citations: tuple[Citation, ...] = (), suggestions: tuple[Citation, ...] = (),
           question: str = "问题", rewritten: str | None = None, at: float = 0.0) -> LoggedAnswer:
    return LoggedAnswer(
        id=answer_id, question=question, rewritten=rewritten, answer="答", refused=not citations, citations=citations,
        suggestions=suggestions, index_version="v1", at=at,
    )


def error_of(response: object, status: int, code: str) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and body["error"]["code"] == code
    return str(body["error"]["message"])


# --- the answer log -------------------------------------------------------------------------


def test_answer_log_keeps_the_newest_answers_for_a_while() -> None:
    now = [1000.0]
    log = AnswerLog(capacity=2, max_age_s=60, clock=lambda: now[0])
    for n in range(3):
        log.add(logged(f"a{n}", at=1000.0 + n))
    assert log.get("a0") is None and len(log) == 2
    a1 = log.get("a1")
    assert a1 is not None and a1.id == "a1"
    now[0] = 1061.5  # a1 answered at 1001: 60.5 s ago
    assert log.get("a1") is None
    a2 = log.get("a2")
    assert a2 is not None and a2.id == "a2"
    assert log.get("never") is None


def test_answer_log_refuses_a_capacity_below_one() -> None:
    with pytest.raises(ValueError, match="capacity"):
        AnswerLog(capacity=0)


def test_remember_keeps_the_answer_and_gives_an_id_when_it_has_none() -> None:
    log = AnswerLog()
    response = AskResponse(
        answer="增长7.5%以上[1]", refused=False, citations=[cite(1, 23)], passages=[], llm=LLMInfo(backend="extractive"),
        timings_ms=Timings(), rewritten="东阳2023年GDP目标增长多少?",
    )
    answer_id = remember(log, response, "今年呢?", "v9")
    assert answer_id and response.id == answer_id
    kept = log.get(answer_id)
    assert kept is not None
    assert (kept.question, kept.rewritten, kept.answer, kept.index_version) == ("今年呢?", "东阳2023年GDP目标增长多少?", "增长7.5%以上[1]", "v9")
    assert kept.citations == (cite(1, 23),) and kept.source(1) == cite(1, 23) and kept.source(2) is None

    event = CitationsEvent(answer="", refused=True, citations=[], passages=[], llm=LLMInfo(backend="x"), id="a_given",
                           suggestions=[cite(1, 5)])
    assert remember(log, event, "q", "v9") == "a_given"
    refusal = log.get("a_given")
    assert refusal is not None and refusal.refused and refusal.source_ids() == [1]


def test_index_version_changes_with_the_documents_only() -> None:
    manifest: dict[str, object] = {"corpus": {"a.txt": "1"}, "embedder": "hash:64", "chunker": 3, "created_at": "x"}
    same = dict(manifest, created_at="later")
    other = dict(manifest, corpus={"a.txt": "2"})
    assert index_version(manifest) == index_version(same) != index_version(other)
    assert len(index_version(manifest)) == 12


# --- the store ------------------------------------------------------------------------------


def test_store_replaces_a_users_earlier_feedback_and_bounds_each_answer(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "sub" / "fb.sqlite", per_answer=3)
    answer = logged("a1", citations=(cite(1, 23),))
    first, replaced = store.put(Feedback(answer=answer, verdict="up"))
    assert not replaced
    again, replaced = store.put(Feedback(answer=answer, verdict="down", comment="不对", correct_answer="7.5%以上", citation=1))
    assert (again, replaced) == (first, True)
    store.put(Feedback(answer=answer, verdict="up", user="u1"))
    store.put(Feedback(answer=answer, verdict="up", user="u2"))
    with pytest.raises(FeedbackLimit, match="already has 3"):
        store.put(Feedback(answer=answer, verdict="down", user="u3"))
    assert store.put(Feedback(answer=answer, verdict="down", user="u2"))[1] is True
    store.put(Feedback(answer=logged("a2"), verdict="down", user="u3"))  # another answer is not bounded by a1's

    rows = store.all()
    assert [(r.feedback.answer.id, r.feedback.user, r.feedback.verdict) for r in rows] == [
        ("a1", None, "down"), ("a1", "u1", "up"), ("a1", "u2", "down"), ("a2", "u3", "down")
    ]
    anonymous = rows[0].feedback
    assert (anonymous.comment, anonymous.correct_answer, anonymous.citation) == ("不对", "7.5%以上", 1)
    assert anonymous.answer.citations == (cite(1, 23),) and anonymous.answer.index_version == "v1"
    store.close()
    with sqlite3.connect(tmp_path / "sub" / "fb.sqlite") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_store_takes_feedback_from_many_threads(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "fb.sqlite")
    ids: list[int] = []

    def rate(t: int) -> None:
        for n in range(10):
            ids.append(store.put(Feedback(answer=logged(f"a{t}-{n}"), verdict="up" if n % 2 else "down"))[0])

    threads = [threading.Thread(target=rate, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(ids) == len(set(ids)) == 80 and len(store.all()) == 80


def test_an_unusable_database_path_is_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    store = FeedbackStore(tmp_path / "file" / "fb.sqlite")
    with pytest.raises(FeedbackUnavailable, match="RAGQA_FEEDBACK_DB"):
        store.put(Feedback(answer=logged("a1"), verdict="up"))


# --- POST /v1/feedback ----------------------------------------------------------------------


def test_feedback_is_stored_with_the_answer_it_rates(app: FastAPI, client: TestClient, pipe: Pipeline) -> None:
    answer = rated(app, pipe)
    assert not answer.refused and answer.citations
    r = client.post(
        "/v1/feedback",
        json={"answer_id": answer.id, "verdict": "down", "comment": "  数字不全 ", "correct_answer": "7.5%以上", "citation": answer.citations[0].id},
        headers={"X-Ragqa-User": "zhang.san"},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body == {"id": body["id"], "answer_id": answer.id, "verdict": "down", "replaced": False} and body["id"] >= 1
    (stored,) = app.state.feedback.all()
    fb = stored.feedback
    assert (stored.id, fb.verdict, fb.comment, fb.correct_answer, fb.citation, fb.user) == (
        body["id"], "down", "数字不全", "7.5%以上", answer.citations[0].id, "zhang.san"
    )
    assert (fb.answer.question, fb.answer.answer, fb.answer.citations) == (QUESTION, answer.answer, tuple(answer.citations))
    assert fb.answer.index_version == index_version(pipe.index.manifest)

    r = client.post("/v1/feedback", json={"answer_id": answer.id, "verdict": "up"}, headers={"X-Ragqa-User": "zhang.san"})
    assert r.status_code == 201 and r.json()["replaced"] is True and r.json()["id"] == body["id"]
    assert [s.feedback.verdict for s in app.state.feedback.all()] == ["up"]


def test_unknown_or_expired_answer_is_a_404_that_says_what_to_do(client: TestClient) -> None:
    message = error_of(client.post("/v1/feedback", json={"answer_id": "a_0000000000000000", "verdict": "up"}), 404, "not_found")
    assert "a_0000000000000000" in message and "ask the question again" in message


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"verdict": "meh"}, "verdict"),
        ({"verdict": None}, "verdict"),
        ({"comment": "长" * 2001}, "2000"),
        ({"correct_answer": "长" * 2001}, "2000"),
        ({"citation": 99}, "not a source of this answer"),
        ({"citation": "first"}, "citation"),
        ({"answer_id": "has space"}, "answer_id"),
        ({"answer_id": "a" * 65}, "answer_id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_feedback_is_a_422_naming_the_field(
    app: FastAPI, client: TestClient, pipe: Pipeline, change: dict[str, object], needle: str
) -> None:
    payload: dict[str, object] = {"answer_id": rated(app, pipe).id, "verdict": "down", **change}
    payload = {k: v for k, v in payload.items() if v is not None}
    assert needle in error_of(client.post("/v1/feedback", json=payload), 422, "invalid_request")
    assert app.state.feedback.all() == []


def test_a_comment_of_exactly_the_limit_is_taken_and_an_overlong_user_header_is_not(
    app: FastAPI, client: TestClient, pipe: Pipeline
) -> None:
    answer_id = rated(app, pipe).id
    assert client.post("/v1/feedback", json={"answer_id": answer_id, "verdict": "down", "comment": "长" * 2000}).status_code == 201
    r = client.post("/v1/feedback", json={"answer_id": answer_id, "verdict": "up"}, headers={"X-Ragqa-User": "u" * 129})
    assert "X-Ragqa-User" in error_of(r, 422, "invalid_request")


def test_one_answer_takes_feedback_from_a_few_users(app: FastAPI, client: TestClient, pipe: Pipeline) -> None:
    answer_id = rated(app, pipe).id
    for n in range(5):
        r = client.post("/v1/feedback", json={"answer_id": answer_id, "verdict": "up"}, headers={"X-Ragqa-User": f"u{n}"})
        assert r.status_code == 201
    r = client.post("/v1/feedback", json={"answer_id": answer_id, "verdict": "down"}, headers={"X-Ragqa-User": "u5"})
    assert "already has 5" in error_of(r, 429, "too_many_feedbacks")
    r = client.post("/v1/feedback", json={"answer_id": answer_id, "verdict": "down"}, headers={"X-Ragqa-User": "u0"})
    assert r.status_code == 201 and r.json()["replaced"] is True


def test_a_broken_database_is_a_503_without_its_path(hash_index: Path, pipe: Pipeline, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    app = create_app(settings_for(hash_index, feedback_db=tmp_path / "file" / "fb.sqlite"), pipe)
    with TestClient(app) as client:
        r = client.post("/v1/feedback", json={"answer_id": rated(app, pipe).id, "verdict": "up"})
    message = error_of(r, 503, "feedback_unavailable")
    assert str(tmp_path) not in message and "try again" in message


def test_metrics_count_feedback_by_verdict(app: FastAPI, client: TestClient, pipe: Pipeline) -> None:
    def count(verdict: str) -> float:
        text = client.get("/metrics").text
        line = next(ln for ln in text.splitlines() if ln.startswith(f'ragqa_feedback_total{{verdict="{verdict}"}}'))
        return float(line.split()[-1])

    assert (count("up"), count("down")) == (0.0, 0.0)
    for verdict in ("up", "down", "down"):
        assert client.post("/v1/feedback", json={"answer_id": rated(app, pipe).id, "verdict": verdict}).status_code == 201
    client.post("/v1/feedback", json={"answer_id": "a_unknown", "verdict": "up"})
    assert (count("up"), count("down")) == (1.0, 2.0)


def test_asked_answers_carry_an_id_that_feedback_accepts(client: TestClient) -> None:
    """POST /v1/ask, as JSON and as a stream, gives each answer an id the feedback route knows."""
    body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert body["id"]
    assert client.post("/v1/feedback", json={"answer_id": body["id"], "verdict": "up"}).status_code == 201
    events = parse_sse(client.post("/v1/ask", json={"question": QUESTION, "stream": True}).text)
    final = next(e for e in events if isinstance(e, CitationsEvent))
    assert final.id and final.id != body["id"]
    assert client.post("/v1/feedback", json={"answer_id": final.id, "verdict": "down"}).status_code == 201


# --- ragqa feedback export ------------------------------------------------------------------


def test_export_writes_corrections_as_valid_gold_lines(
    app: FastAPI, client: TestClient, pipe: Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    picked = rated(app, pipe)
    unpicked = rated(app, pipe, "东阳2023年GDP目标增长多少?")
    posts = [
        {"answer_id": picked.id, "verdict": "down", "correct_answer": "7.5%以上", "citation": picked.citations[-1].id, "comment": "漏了以上"},
        {"answer_id": unpicked.id, "verdict": "down", "correct_answer": "增长7.5%以上"},
        {"answer_id": rated(app, pipe).id, "verdict": "up", "correct_answer": "ignored"},
        {"answer_id": rated(app, pipe).id, "verdict": "down", "comment": "no correct answer given"},
    ]
    for payload in posts:
        assert client.post("/v1/feedback", json=payload).status_code == 201
    store = app.state.feedback
    follow_up = logged("a_follow", citations=(cite(1, 23), cite(2, 23), cite(3, 30, 31)), question="那今年呢?", rewritten="东阳2023年GDP目标增长多少?")
    store.put(Feedback(answer=follow_up, verdict="down", correct_answer="7.5%以上"))
    store.put(Feedback(answer=logged("a_refused", suggestions=(cite(1, 24),)), verdict="down", correct_answer="见第24行", citation=1))
    store.put(Feedback(answer=logged("a_bare"), verdict="down", correct_answer="无处可指"))
    out = tmp_path / "out" / "candidates.jsonl"

    assert cli.main(["feedback", "export", "--db", str(store.path), "--out", str(out)]) == 0

    err = capsys.readouterr().err
    assert "4 gold-set candidates from 5 👎 with a correct answer" in err and "skipped feedback 7" in err
    text = out.read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    doc_lines = {doc: len(d.lines) for doc, d in pipe.index.documents.items()}
    gold = parse_gold(text, doc_lines)
    assert gold.problems == () and len(gold.items) == 4
    first = lines[0]
    c = picked.citations[-1]
    assert first == {
        "id": "feedback-1", "question": QUESTION, "answers": ["7.5%以上"], "must_all": False,
        "refs": [{"doc": c.doc, "start_line": c.start_line, "end_line": c.end_line}], "type": "feedback", "note": "漏了以上",
    }
    unpicked_refs = {(c.doc, c.start_line, c.end_line) for c in unpicked.citations}
    assert {(r["doc"], r["start_line"], r["end_line"]) for r in lines[1]["refs"]} == unpicked_refs
    assert lines[2]["question"] == "东阳2023年GDP目标增长多少?" and lines[2]["note"] == "原问：那今年呢?"
    assert lines[2]["refs"] == [{"doc": DOC, "start_line": 23, "end_line": 23}, {"doc": DOC, "start_line": 30, "end_line": 31}]
    assert lines[3]["refs"] == [{"doc": DOC, "start_line": 24, "end_line": 24}]
    assert [line["id"] for line in lines] == ["feedback-1", "feedback-2", "feedback-5", "feedback-6"]


def test_export_without_a_database_says_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["feedback", "export", "--db", str(tmp_path / "none.sqlite")]) == 1
    err = capsys.readouterr().err
    assert "none.sqlite" in err and "--db" in err and len(err.strip().splitlines()) == 1
