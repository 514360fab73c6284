"""POST /v1/feedback: a reader's 👍/👎 on an answer, with an optional comment, the correct answer
and the source that holds it (docs/feedback.md).

An answer can be rated while this process remembers it (service/feedback.AnswerLog: the last
10,000 answers, for seven days); afterwards the id is unknown and the answer is a 404. A later
feedback from the same user (`X-Ragqa-User`, or the anonymous user) on the same answer replaces
the earlier one; an answer takes feedback from at most MAX_PER_ANSWER users (then 429).
"""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .deps import ERRORS, AppMetrics
from .feedback import MAX_PER_ANSWER, Answers, Feedback, FeedbackLimit, FeedbackStore, FeedbackUnavailable, get_feedback_store
from .schemas import ApiError, ErrorResponse, clean_text

MAX_COMMENT_CHARS = 2000
MAX_USER_CHARS = 128
ANSWER_ID = r"^[A-Za-z0-9._:-]{1,64}$"

log = logging.getLogger("ragqa")
router = APIRouter(tags=["feedback"])
Store = Annotated[FeedbackStore, Depends(get_feedback_store)]


def _optional_text(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = clean_text(value)
    if len(value) > MAX_COMMENT_CHARS:
        raise ValueError(f"{name} has {len(value)} characters; the limit is {MAX_COMMENT_CHARS}")
    return value or None


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"answer_id": "q1H3kCw0xZ8aJb2m", "verdict": "down", "correct_answer": "7.5%以上", "citation": 1}]},
    )

    answer_id: str = Field(pattern=ANSWER_ID, description="the `id` of the answer of POST /v1/ask (or of its citations event)")
    verdict: Literal["up", "down"]
    comment: str | None = Field(None, description=f"at most {MAX_COMMENT_CHARS} characters")
    correct_answer: str | None = Field(None, description=f"正确答案是…: the answer the reader expected; at most {MAX_COMMENT_CHARS} characters")
    citation: int | None = Field(None, description="the `id` of the answer's citation (or, for a refusal, suggestion) that holds the correct answer")

    @field_validator("comment")
    @classmethod
    def _comment(cls, value: str | None) -> str | None:
        return _optional_text(value, "comment")

    @field_validator("correct_answer")
    @classmethod
    def _correct(cls, value: str | None) -> str | None:
        return _optional_text(value, "correct_answer")


class FeedbackResponse(BaseModel):
    id: int = Field(description="the stored feedback's id")
    answer_id: str
    verdict: str
    replaced: bool = Field(description="true when this replaced the same user's earlier feedback on the answer")


def _user(header: str | None) -> str | None:
    if header is None:
        return None
    user = clean_text(header)
    if len(user) > MAX_USER_CHARS:
        raise ApiError(422, "invalid_request", f"X-Ragqa-User has {len(user)} characters; the limit is {MAX_USER_CHARS}")
    return user or None


@router.post(
    "/v1/feedback",
    status_code=201,
    response_model=FeedbackResponse,
    responses={**ERRORS, 429: {"model": ErrorResponse}, 503: {"model": ErrorResponse}},
)
def feedback(
    body: FeedbackRequest,
    answers: Answers,
    store: Store,
    metrics: AppMetrics,
    x_ragqa_user: Annotated[str | None, Header(description="who rates (set by the intranet's proxy); optional")] = None,
) -> FeedbackResponse:
    """Rate an answer 👍 or 👎. 例：{"answer_id": "…", "verdict": "down", "correct_answer": "7.5%以上", "citation": 1}"""
    answer = answers.get(body.answer_id)
    if answer is None:
        raise ApiError(
            404, "not_found",
            f"answer {body.answer_id} is unknown or expired: feedback is taken for the newest {answers.capacity:,} answers of "
            f"this server run, for {answers.max_age_s / 86400:g} days; ask the question again and rate the new answer",
        )
    if body.citation is not None and answer.source(body.citation) is None:
        ids = answer.source_ids()
        known = f"one of {', '.join(map(str, ids))}" if ids else "left out: this answer has no sources"
        raise ApiError(422, "invalid_request", f"citation: {body.citation} is not a source of this answer; it must be {known}")
    entry = Feedback(
        answer=answer, verdict=body.verdict, comment=body.comment, correct_answer=body.correct_answer,
        citation=body.citation, user=_user(x_ragqa_user),
    )
    try:
        feedback_id, replaced = store.put(entry)
    except FeedbackLimit as exc:
        raise ApiError(429, "too_many_feedbacks", f"{exc} ({MAX_PER_ANSWER}); thank you, it has been heard") from None
    except FeedbackUnavailable:
        log.exception("feedback not stored")
        raise ApiError(503, "feedback_unavailable", "feedback cannot be stored right now (the fault is logged); try again later") from None
    metrics.record_feedback(body.verdict)
    return FeedbackResponse(id=feedback_id, answer_id=body.answer_id, verdict=body.verdict, replaced=replaced)
