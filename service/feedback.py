"""Answer feedback: the recent answers a reader may rate, the ratings kept on disk, and the
corrections turned into gold-set candidates.

    POST /v1/ask       ─> remember(AnswerLog, answer, question, index_version)   in memory only
    POST /v1/feedback  ─> AnswerLog.get(answer id) ─> FeedbackStore.put(Feedback) ─> feedback.sqlite
    ragqa feedback export ─> read_feedback(path) ─> gold_candidates ─> JSONL in the eval/gold format

Nothing personal is kept: the question, the answer and its sources, the index version, the
verdict and what the reader typed, and the `X-Ragqa-User` header when a proxy or client sends one
(used only so that a person's later feedback on an answer replaces their earlier one).

Errors (RagqaError subclasses; the route turns them into HTTP statuses)::

    FeedbackError
     ├── FeedbackLimit        the answer already has MAX_PER_ANSWER feedbacks from others
     └── FeedbackUnavailable  the SQLite file cannot be opened, read or written
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, Request
from ragqa.ingest.errors import RagqaError

from .schemas import AskResponse, Citation, CitationsEvent
from .settings import Settings

LOG_CAPACITY = 10_000
LOG_MAX_AGE_S = 7 * 24 * 3600
MAX_PER_ANSWER = 5
Verdict = Literal["up", "down"]


class FeedbackError(RagqaError):
    """Base of the feedback errors."""


class FeedbackLimit(FeedbackError):
    """An answer already has MAX_PER_ANSWER feedbacks, none from this user."""


class FeedbackUnavailable(FeedbackError):
    """The feedback database cannot be opened, read or written."""


@dataclass(frozen=True)
class LoggedAnswer:
    """An answer as it was given, kept so that feedback can say what it rates."""

    id: str
    question: str
    rewritten: str | None
    answer: str
    refused: bool
    citations: tuple[Citation, ...]
    suggestions: tuple[Citation, ...]
    index_version: str
    at: float

    def source(self, citation_id: int) -> Citation | None:
        """The citation (or, for a refusal, the suggested passage) with this id."""
        return next((c for c in (*self.citations, *self.suggestions) if c.id == citation_id), None)

    def source_ids(self) -> list[int]:
        return [c.id for c in (*self.citations, *self.suggestions)]


class AnswerLog:
    """The last `capacity` answers of this process, each for `max_age_s`; safe across threads.

    Memory only: after a restart, or once an answer is pushed out, it can no longer be rated."""

    def __init__(self, capacity: int = LOG_CAPACITY, max_age_s: float = LOG_MAX_AGE_S, clock: Callable[[], float] = time.time) -> None:
        if capacity < 1 or max_age_s <= 0:
            raise ValueError(f"AnswerLog needs capacity >= 1 and max_age_s > 0, not {capacity} and {max_age_s}")
        self.capacity, self.max_age_s, self.clock = capacity, max_age_s, clock
        self._entries: OrderedDict[str, LoggedAnswer] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, entry: LoggedAnswer) -> None:
        with self._lock:
            self._entries[entry.id] = entry
            self._entries.move_to_end(entry.id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)

    def get(self, answer_id: str) -> LoggedAnswer | None:
        """The answer with this id; None when unknown, pushed out or older than max_age_s."""
        with self._lock:
            entry = self._entries.get(answer_id)
        if entry is None or self.clock() - entry.at > self.max_age_s:
            return None
        return entry

    def __len__(self) -> int:
        return len(self._entries)


def new_answer_id() -> str:
    """A fresh, unguessable answer id ("a_" and 16 hex digits)."""
    return "a_" + secrets.token_hex(8)


_version_cache: tuple[Mapping[str, object], str] | None = None


def index_version(manifest: Mapping[str, object]) -> str:
    """A short fingerprint of an index's documents and how they were indexed (12 hex digits):
    the same documents indexed the same way give the same version, any change another."""
    global _version_cache
    cached = _version_cache
    if cached is not None and cached[0] is manifest:
        return cached[1]
    keys = ("corpus", "embedder", "chunker", "records", "format")
    digest = hashlib.sha256(json.dumps({k: manifest.get(k) for k in keys}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    _version_cache = (manifest, digest)
    return digest


def remember(log: AnswerLog, response: AskResponse | CitationsEvent, question: str, index_version: str) -> str:
    """Keep `response` (an answer, or a stream's citations event) in `log` so it can be rated, and
    return its id. A response without an id is given one (`new_answer_id`) before it is kept."""
    if not response.id:
        response.id = new_answer_id()
    log.add(
        LoggedAnswer(
            id=response.id,
            question=question,
            rewritten=response.rewritten,
            answer=response.answer,
            refused=response.refused,
            citations=tuple(response.citations),
            suggestions=tuple(response.suggestions),
            index_version=index_version,
            at=time.time(),
        )
    )
    return response.id


def get_answer_log(request: Request) -> AnswerLog:
    log: AnswerLog = request.app.state.answers
    return log


def get_feedback_store(request: Request) -> FeedbackStore:
    store: FeedbackStore = request.app.state.feedback
    return store


Answers = Annotated[AnswerLog, Depends(get_answer_log)]


def feedback_path(settings: Settings) -> Path:
    """RAGQA_FEEDBACK_DB, else feedback.sqlite in the document store."""
    return settings.feedback_db if settings.feedback_db is not None else settings.data_path / "feedback.sqlite"


@dataclass(frozen=True)
class Feedback:
    """One reader's verdict on one answer, with what they typed (all optional but the verdict)."""

    answer: LoggedAnswer
    verdict: Verdict
    comment: str | None = None
    correct_answer: str | None = None
    citation: int | None = None
    user: str | None = None


@dataclass(frozen=True)
class StoredFeedback:
    id: int
    created_at: str
    feedback: Feedback


_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL,
    user TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL CHECK (verdict IN ('up', 'down')),
    comment TEXT,
    correct_answer TEXT,
    citation INTEGER,
    question TEXT NOT NULL,
    rewritten TEXT,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    suggestions TEXT NOT NULL,
    index_version TEXT NOT NULL,
    answered_at REAL NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (answer_id, user)
);
PRAGMA user_version = 1;
"""
_COLUMNS = (
    "id, answer_id, user, verdict, comment, correct_answer, citation, question, rewritten, answer, refused, "
    "citations, suggestions, index_version, answered_at, created_at"
)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _citations_json(citations: Iterable[Citation]) -> str:
    return json.dumps([c.model_dump(mode="json") for c in citations], ensure_ascii=False)


def _row(row: tuple[Any, ...]) -> StoredFeedback:
    (id_, answer_id, user, verdict, comment, correct, citation, question, rewritten, answer, refused,
     citations, suggestions, version, answered_at, created_at) = row
    logged = LoggedAnswer(
        id=answer_id,
        question=question,
        rewritten=rewritten,
        answer=answer,
        refused=bool(refused),
        citations=tuple(Citation.model_validate(c) for c in json.loads(citations)),
        suggestions=tuple(Citation.model_validate(c) for c in json.loads(suggestions)),
        index_version=version,
        at=answered_at,
    )
    feedback = Feedback(answer=logged, verdict=verdict, comment=comment, correct_answer=correct, citation=citation, user=user or None)
    return StoredFeedback(id=id_, created_at=created_at, feedback=feedback)


class FeedbackStore:
    """Feedback in one SQLite file (WAL), opened on first use; one connection behind a lock.

    Each (answer, user) pair has at most one row: a later feedback from the same user on the same
    answer replaces the earlier one (readers without an `X-Ragqa-User` header count as one user).
    An answer takes feedback from at most `per_answer` users."""

    def __init__(self, path: Path, per_answer: int = MAX_PER_ANSWER) -> None:
        if per_answer < 1:
            raise ValueError(f"per_answer must be at least 1, not {per_answer}")
        self.path, self.per_answer = path, per_answer
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, timeout=5.0, check_same_thread=False, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise FeedbackUnavailable(f"cannot open the feedback database {self.path}: {exc}; check RAGQA_FEEDBACK_DB and the folder's permissions") from None
            self._db = db
        return self._db

    def put(self, feedback: Feedback) -> tuple[int, bool]:
        """Store `feedback`; (its id, whether it replaced this user's earlier feedback on the answer).
        Raises FeedbackLimit when the answer has `per_answer` feedbacks from other users."""
        a, user = feedback.answer, feedback.user or ""
        values = (
            feedback.verdict, feedback.comment, feedback.correct_answer, feedback.citation, a.question, a.rewritten, a.answer,
            int(a.refused), _citations_json(a.citations), _citations_json(a.suggestions), a.index_version, a.at, _now(),
        )
        with self._lock:
            db = self._connect()
            try:
                db.execute("BEGIN IMMEDIATE")
                try:
                    found = db.execute("SELECT id FROM feedback WHERE answer_id = ? AND user = ?", (a.id, user)).fetchone()
                    if found is not None:
                        db.execute(
                            "UPDATE feedback SET verdict=?, comment=?, correct_answer=?, citation=?, question=?, rewritten=?, answer=?, "
                            "refused=?, citations=?, suggestions=?, index_version=?, answered_at=?, created_at=? WHERE id=?",
                            (*values, found[0]),
                        )
                        db.execute("COMMIT")
                        return int(found[0]), True
                    (count,) = db.execute("SELECT COUNT(*) FROM feedback WHERE answer_id = ?", (a.id,)).fetchone()
                    if count >= self.per_answer:
                        raise FeedbackLimit(f"answer {a.id} already has {count} feedbacks, the most one answer takes")
                    cur = db.execute(
                        "INSERT INTO feedback (verdict, comment, correct_answer, citation, question, rewritten, answer, refused, citations, "
                        "suggestions, index_version, answered_at, created_at, answer_id, user) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (*values, a.id, user),
                    )
                    db.execute("COMMIT")
                    return int(cur.lastrowid or 0), False
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise FeedbackUnavailable(f"cannot write to the feedback database {self.path}: {exc}") from None

    def all(self) -> list[StoredFeedback]:
        """Every stored feedback, oldest first."""
        with self._lock:
            try:
                rows = self._connect().execute(f"SELECT {_COLUMNS} FROM feedback ORDER BY id").fetchall()
            except sqlite3.Error as exc:
                raise FeedbackUnavailable(f"cannot read the feedback database {self.path}: {exc}") from None
        return [_row(r) for r in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


def read_feedback(path: Path) -> list[StoredFeedback]:
    """Every feedback in the database at `path`, read-only (the service may be writing meanwhile)."""
    if not path.is_file():
        raise FeedbackUnavailable(
            f"no feedback database at {path}: the service creates it at the first 👍/👎; pass --db PATH or set RAGQA_FEEDBACK_DB"
        )
    try:
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = db.execute(f"SELECT {_COLUMNS} FROM feedback ORDER BY id").fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise FeedbackUnavailable(f"cannot read {path} as a ragqa feedback database: {exc}") from None
    return [_row(r) for r in rows]


def gold_line(stored: StoredFeedback) -> dict[str, object] | None:
    """A 👎 with a correct answer as a gold-set candidate (the eval/gold/*.jsonl format), or None
    for any other feedback or when the answer had no sources to point at.

    The question is the one searched for (the rewritten follow-up when there was one, so that it
    stands alone; the note keeps the words asked). The refs are the citation the reader picked,
    else all the answer's citations (for a refusal: its suggested passages)."""
    fb = stored.feedback
    a = fb.answer
    if fb.verdict != "down" or not fb.correct_answer:
        return None
    picked = a.source(fb.citation) if fb.citation is not None else None
    sources = [picked] if picked is not None else list(a.citations or a.suggestions)
    refs: list[dict[str, object]] = []
    for c in sources:
        ref: dict[str, object] = {"doc": c.doc, "start_line": c.start_line, "end_line": c.end_line}
        if ref not in refs:
            refs.append(ref)
    if not refs:
        return None
    note = fb.comment or ""
    if a.rewritten and a.rewritten != a.question:
        note = f"{note}（原问：{a.question}）" if note else f"原问：{a.question}"
    return {
        "id": f"feedback-{stored.id}",
        "question": a.rewritten or a.question,
        "answers": [fb.correct_answer],
        "must_all": False,
        "refs": refs,
        "type": "feedback",
        "note": note,
    }


@dataclass(frozen=True)
class Export:
    lines: list[dict[str, object]]
    corrections: int
    skipped: list[str]


def gold_candidates(rows: Iterable[StoredFeedback]) -> Export:
    """The gold lines of every 👎 with a correct answer; `skipped` says which could not become one."""
    lines: list[dict[str, object]] = []
    skipped: list[str] = []
    corrections = 0
    for stored in rows:
        fb = stored.feedback
        if fb.verdict != "down" or not fb.correct_answer:
            continue
        corrections += 1
        line = gold_line(stored)
        if line is None:
            skipped.append(f"feedback {stored.id} ({fb.answer.question[:30]}): the answer had no sources to point at; write its refs by hand")
        else:
            lines.append(line)
    return Export(lines, corrections, skipped)
