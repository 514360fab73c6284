"""Routes that answer: POST /v1/ask (JSON or server-sent events) and POST /v1/search."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from .access import Access
from .deps import ERRORS, AppMetrics, Pipe, Reader
from .feedback import AnswerLog, get_answer_log, index_version, remember
from .metrics import Metrics
from .pipeline import Pipeline
from .relay import relay
from .schemas import AskRequest, AskResponse, CitationsEvent, DoneEvent, ErrorEvent, SearchRequest, SearchResponse, SuggestedQuestions, sse

log = logging.getLogger("ragqa")
router = APIRouter(tags=["answer"])


@router.post("/v1/ask", response_model=AskResponse, responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}})
def ask(body: AskRequest, pipe: Pipe, metrics: AppMetrics, reader: Reader, answers: Annotated[AnswerLog, Depends(get_answer_log)]) -> Any:
    """Answer a question with citations of exact source lines. 例：{"question": "东阳2023年GDP目标增长多少?"}.
    With `history` (earlier turns), a follow-up such as "那金华开发区呢？" is rewritten into a
    self-contained question first; `rewritten` says what was searched."""
    if body.stream:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(relay(_stream(pipe, body, metrics, reader, answers)), media_type="text/event-stream", headers=headers)
    result = pipe.ask(body.question, body.top_k, body.history, reader)
    remember(answers, result, body.question, index_version(pipe.index.manifest))
    metrics.record_answer(result.llm.backend, result.refused, result.llm.reason, result.timings_ms.retrieve, result.timings_ms.generate)
    return result


def _stream(pipe: Pipeline, body: AskRequest, metrics: Metrics, reader: Access, answers: AnswerLog) -> Iterator[str]:
    try:
        for event in pipe.ask_stream(body.question, body.top_k, body.history, reader):
            if isinstance(event, CitationsEvent):
                remember(answers, event, body.question, index_version(pipe.index.manifest))
            if isinstance(event, DoneEvent):
                t = event.timings_ms
                metrics.record_answer(event.llm.backend, event.refused, event.llm.reason, t.retrieve, t.generate)
            yield sse(event)
    except Exception:
        log.exception("stream failed")
        yield sse(ErrorEvent(error={"code": "internal_error", "message": "the answer could not be finished; try again"}))


@router.post("/v1/search", response_model=SearchResponse, responses=ERRORS)
def search(body: SearchRequest, pipe: Pipe, reader: Reader) -> SearchResponse:
    """The passages retrieved for a query (hybrid keyword + dense), best first."""
    return SearchResponse(passages=pipe.search(body.query, body.top_k, reader))


@router.get("/v1/suggested-questions", response_model=SuggestedQuestions)
def suggested_questions(pipe: Pipe, reader: Reader) -> SuggestedQuestions:
    """Up to six questions from the headings of the documents you may read, each one the service
    answers: for an empty chat page."""
    return SuggestedQuestions(questions=pipe.suggested_questions(reader))
