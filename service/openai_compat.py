"""ragqa as an OpenAI-compatible model (`POST /v1/chat/completions`, `GET /v1/models`).

Chat front-ends people already run (Open WebUI, LobeChat, NextChat …) can add ragqa as a model
named `ragqa`. The last user message is the question. Citations travel with the answer as
numbered footnotes (document, clause path, line range) appended to the content, in streaming
too, and as a `citations` field (non-streaming) for clients that read extra fields.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from ragqa.ingest.tokens import count_tokens

from .access import Access
from .deps import get_access
from .pipeline import Pipeline
from .relay import relay
from .schemas import MAX_HISTORY_TURNS, MAX_TURN_CHARS, ApiError, Citation, CitationsEvent, DeltaEvent, Turn, check_question, clean_text

MODEL = "ragqa"
_FOOTNOTES = "\n\n---\n"
MAX_MESSAGES = 64  # a conversation's turns; the body limit (RAGQA_MAX_BODY_KB) bounds their size


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_extra={"examples": [{"model": "ragqa", "messages": [{"role": "user", "content": "东阳2023年GDP目标增长多少?"}]}]})

    model: str = MODEL
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False


def footnotes(citations: list[Citation]) -> str:
    """Numbered sources under an answer, one line each."""
    if not citations:
        return ""
    lines = []
    for c in citations:
        span = f"{c.start_line}" if c.start_line == c.end_line else f"{c.start_line}-{c.end_line}"
        clause = f" · {c.clause}" if c.clause else ""
        lines.append(f"[{c.id}] 《{c.title}》 {c.doc} 第{span}行{clause}")
    return _FOOTNOTES + "\n".join(lines)


def _question(body: ChatRequest) -> tuple[str, list[Turn]]:
    """The last user message with text, and the user and assistant turns before it as history:
    the last MAX_HISTORY_TURNS, each cut to MAX_TURN_CHARS, an answer's source footnotes dropped."""
    for i in range(len(body.messages) - 1, -1, -1):
        message = body.messages[i]
        if message.role == "user" and clean_text(message.text()):
            try:
                question = check_question(message.text())
            except ValueError as exc:
                raise ApiError(422, "invalid_request", f"messages: the last user message: {exc}") from None
            history = [
                Turn(role=m.role, content=clean_text(m.text().split(_FOOTNOTES, 1)[0])[:MAX_TURN_CHARS])
                for m in body.messages[:i]
                if m.role in ("user", "assistant") and clean_text(m.text())
            ]
            return question, history[-MAX_HISTORY_TURNS:]
    raise ApiError(422, "invalid_request", "messages: no user message with text; send {'role': 'user', 'content': '问题'}")


def install_openai_compat(app: FastAPI, get_pipeline: Callable[..., Pipeline]) -> None:
    """Add the OpenAI-compatible routes to `app`."""

    @app.get("/v1/models", tags=["openai"])
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "created": 0, "owned_by": "ragqa"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    def chat(body: ChatRequest, pipe: Pipeline = Depends(get_pipeline), access: Access = Depends(get_access)) -> Any:  # noqa: B008 (a closure's dependency: no Annotated alias at module level)
        """OpenAI chat completions; the answer cites its sources as footnotes. Earlier messages
        are the conversation: a follow-up is rewritten from them into a self-contained question."""
        question, history = _question(body)
        ident = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        if body.stream:
            return StreamingResponse(relay(_stream(pipe, question, history, access, ident, created)), media_type="text/event-stream")
        result = pipe.ask(question, pipe.settings.top_k, history, access)
        content = result.answer + footnotes(result.citations)
        prompt_tokens = sum(count_tokens(m.text()) for m in body.messages)
        completion_tokens = count_tokens(content)
        return {
            "id": ident,
            "object": "chat.completion",
            "created": created,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "citations": [c.model_dump() for c in result.citations],
            "refused": result.refused,
        }


def _chunk(ident: str, created: int, delta: dict[str, Any], finish: str | None = None) -> str:
    payload = {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": created,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def _stream(pipe: Pipeline, question: str, history: list[Turn], access: Access, ident: str, created: int) -> Iterator[str]:
    yield _chunk(ident, created, {"role": "assistant", "content": ""})
    streamed = ""
    for event in pipe.ask_stream(question, pipe.settings.top_k, history, access):
        if isinstance(event, DeltaEvent):
            text = "\n\n" + event.text if event.replace and streamed else event.text
            streamed += text
            yield _chunk(ident, created, {"content": text})
        elif isinstance(event, CitationsEvent):
            notes = footnotes(event.citations)
            if notes:
                yield _chunk(ident, created, {"content": notes})
    yield _chunk(ident, created, {}, "stop")
    yield "data: [DONE]\n\n"
