"""The HTTP contract (v1) as pydantic models, stream events included; docs/api.md describes it."""

from __future__ import annotations

import json
import re
import unicodedata
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUESTION_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(value: str) -> str:
    """User text as the service handles it: lone surrogates (which no encoder accepts) become
    U+FFFD, control characters are dropped, NFC applied, outer whitespace trimmed."""
    return unicodedata.normalize("NFC", _CONTROL.sub("", _SURROGATE.sub("\ufffd", value))).strip()


def check_question(value: str, name: str = "question") -> str:
    """`value` cleaned (`clean_text`); ValueError when empty or over MAX_QUESTION_CHARS."""
    value = clean_text(value)
    if not value:
        raise ValueError(f"{name} is empty; ask something, e.g. 东阳2023年GDP目标增长多少?")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"{name} has {len(value)} characters; the limit is {MAX_QUESTION_CHARS}")
    return value


MAX_HISTORY_TURNS = 20
MAX_TURN_CHARS = 4000


class Turn(BaseModel):
    """One earlier turn of the conversation: what the user asked or what ragqa answered."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: str = Field(description=f"at most {MAX_TURN_CHARS} characters")

    @field_validator("content")
    @classmethod
    def _content(cls, value: str) -> str:
        value = clean_text(value)
        if len(value) > MAX_TURN_CHARS:
            raise ValueError(f"a history turn has {len(value)} characters; the limit is {MAX_TURN_CHARS}")
        return value


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"question": "东阳2023年GDP目标增长多少?", "top_k": 5}]})

    question: str = Field(description="1–2,000 characters after trimming; Simplified or Traditional Chinese")
    top_k: int = Field(5, ge=1, le=50, description="passages to retrieve")
    stream: bool = Field(False, description="true: text/event-stream with delta, citations and done events")
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description=f"earlier turns, oldest first (at most {MAX_HISTORY_TURNS}); a follow-up is rewritten from them into a self-contained question",
    )

    @field_validator("question")
    @classmethod
    def _question(cls, value: str) -> str:
        return check_question(value)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"query": "缙云 中医药产业 负责部门", "top_k": 5}]})

    query: str
    top_k: int = Field(5, ge=1, le=50)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str) -> str:
        return check_question(value, "query")


class Passage(BaseModel):
    """A retrieved chunk as shown: lines `start_line`..`end_line` (`text`), the chunk that matched with the
    lines next to it (`RAGQA_PASSAGE_CHARS`); `match_start_line`..`match_end_line` are the matched chunk's own."""

    doc: str
    start_line: int
    end_line: int
    clause: str
    score: float
    text: str
    match_start_line: int
    match_end_line: int


class Citation(BaseModel):
    id: int
    doc: str
    title: str
    start_line: int
    end_line: int
    clause: str
    quote: str
    page: int | None = Field(None, description="the page of start_line, for paged sources (PDF); null otherwise")
    page_line: int | None = Field(None, description="start_line's place on that page (1 = its first line of text)")


class LLMInfo(BaseModel):
    backend: str
    model: str | None = None
    fallback: bool = False
    reason: str | None = None


class Timings(BaseModel):
    retrieve: float = 0.0
    generate: float = 0.0
    total: float = 0.0


class ListingRow(BaseModel):
    group: str = Field(description="the heading path of the row (a new group starts where it changes)")
    cells: list[str] = Field(description="one value per column of the listing")
    citation: int = Field(description="the id of this row's entry in `citations`")


class ListingExport(BaseModel):
    csv: str = Field(description="URL of the same rows as CSV (UTF-8 with BOM)")
    xlsx: str = Field(description="URL of the same rows as an Excel workbook")


class Listing(BaseModel):
    """A list answer: every record matching the question's filter, as a table."""

    kind: str = Field(description="record type: responsibility, table_row, article, glossary")
    title: str
    columns: list[str]
    rows: list[ListingRow]
    total: int
    export: ListingExport


class AskResponse(BaseModel):
    id: str = Field("", description="this answer's id, for POST /v1/feedback")
    answer: str
    refused: bool
    citations: list[Citation]
    passages: list[Passage]
    llm: LLMInfo
    timings_ms: Timings
    listing: Listing | None = Field(None, description="set when the question asks for every row matching a filter (a list answer)")
    rewritten: str | None = Field(None, description="the self-contained question searched for, when it differs from `question` (follow-ups, 今年 …)")
    suggestions: list[Citation] = Field(
        default_factory=list, description="when refused but relevant passages exist: the best two, shown as 可能相关的原文"
    )


class RecordOut(BaseModel):
    """A record: a responsibility row, table row, article or glossary entry, with its lines."""

    id: str = Field(description="doc:start_line:kind")
    type: str
    doc: str
    title: str
    group: list[str]
    number: str
    text: str
    fields: dict[str, str]
    persons: list[str]
    lead: list[str]
    co: list[str]
    deadline: str
    start_line: int
    end_line: int
    page: int | None = None


class RecordsPage(BaseModel):
    total: int
    page: int
    page_size: int
    records: list[RecordOut]


class DeltaEvent(BaseModel):
    """SSE `delta`: the next piece of the answer; `replace`: drop what was shown, show this instead."""

    event: ClassVar[str] = "delta"
    text: str
    replace: bool | None = Field(None, description="true when the LLM failed mid-answer and this is the extractive answer")


class CitationsEvent(BaseModel):
    """SSE `citations`: the final answer (show it in place of the streamed text) and its sources."""

    event: ClassVar[str] = "citations"
    answer: str
    refused: bool
    citations: list[Citation]
    passages: list[Passage]
    llm: LLMInfo
    listing: Listing | None = None
    id: str = ""
    rewritten: str | None = None
    suggestions: list[Citation] = Field(default_factory=list)


class DoneEvent(BaseModel):
    """SSE `done`: the stream is complete."""

    event: ClassVar[str] = "done"
    timings_ms: Timings
    refused: bool
    llm: LLMInfo


class ErrorEvent(BaseModel):
    """SSE `error`: the answer could not be finished; the stream ends."""

    event: ClassVar[str] = "error"
    error: dict[str, str]


StreamEvent = DeltaEvent | CitationsEvent | DoneEvent | ErrorEvent


def sse(event: StreamEvent) -> str:
    """One server-sent event: its name and its JSON (a delta's `replace` only when it is set)."""
    data = event.model_dump(mode="json")
    if isinstance(event, DeltaEvent) and event.replace is None:
        del data["replace"]
    return f"event: {event.event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


EVENT_MODELS: dict[str, type[StreamEvent]] = {m.event: m for m in (DeltaEvent, CitationsEvent, DoneEvent, ErrorEvent)}


def parse_sse(text: str) -> list[StreamEvent]:
    """A whole `text/event-stream` body of /v1/ask as its typed events (ValueError outside the contract)."""
    events: list[StreamEvent] = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        model = EVENT_MODELS.get(fields.get("event", ""))
        if model is None or "data" not in fields:
            raise ValueError(f"not a ragqa stream event: {block[:120]!r}")
        events.append(model.model_validate_json(fields["data"]))
    return events


class SearchResponse(BaseModel):
    passages: list[Passage]


class SuggestedQuestions(BaseModel):
    questions: list[str] = Field(description="questions from the documents' headings that the service answers")


class DocumentInfo(BaseModel):
    doc: str
    title: str
    lines: int
    chunks: int


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class SourceLine(BaseModel):
    n: int
    text: str
    page: int | None = Field(None, description="the line's page, for paged sources (PDF)")


class DocumentLines(BaseModel):
    doc: str
    title: str
    total_lines: int
    start: int
    end: int
    lines: list[SourceLine]


class JobInfo(BaseModel):
    """A document change run by the server (upload); see GET /v1/jobs/{id}."""

    id: str
    kind: str = Field(description="upload")
    documents: list[str] = Field(description="the document names the job changes")
    state: str = Field(description="running | done | failed | interrupted (the server stopped during it)")
    created_at: str
    finished_at: str | None = None
    result: dict[str, object] | None = Field(None, description="when done: added, documents, chunks")
    error: dict[str, str] | None = Field(None, description="when failed: code and message, as in error responses")


class JobList(BaseModel):
    jobs: list[JobInfo]


class UploadResponse(BaseModel):
    added: list[str] = Field(default_factory=list, description="documents added or replaced (empty while the job runs)")
    skipped: list[dict[str, str]] = Field(default_factory=list, description="files not added, each {name, reason}; the others were")
    documents: int | None = Field(None, description="documents in the index after the change")
    chunks: int | None = None
    job: JobInfo


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An HTTP error the API reports as `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
