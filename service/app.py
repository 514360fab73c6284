"""The FastAPI app: the v1 JSON API, server-sent events, metrics, chat page and widget.

The index is loaded once, in the lifespan, into `app.state.pipeline`; routes get it through
`Depends(get_pipeline)` and the settings through `Depends(cached_settings)`, which tests
override. Every error leaves as `{"error": {"code", "message"}}` with a 4xx status for bad
input; an unexpected fault is a 500 with the same shape and no traceback.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from ragqa.ingest.errors import ConfigError, IndexError_, LastDocument, NotFound, RagqaError, ReadError

from .limits import BodyLimit
from .metrics import Metrics
from .pipeline import Pipeline
from .schemas import (
    ApiError,
    AskRequest,
    AskResponse,
    DocumentLines,
    DocumentList,
    ErrorResponse,
    SearchRequest,
    SearchResponse,
    SourceLine,
)
from .settings import Settings, cached_settings

log = logging.getLogger("ragqa")
ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _explain_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request"


# Metric labels come from fixed sets: route templates, and these methods (others count as OTHER).
KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline | None = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise ApiError(503, "index_not_loaded", "the index is not loaded yet; try again in a moment")
    return pipeline


Pipe = Annotated[Pipeline, Depends(get_pipeline)]


def is_admin(settings: Settings, authorization: str | None) -> bool:
    """Whether `authorization` is 'Bearer <admin key>' (compared in constant time); never without a key."""
    key = settings.admin_key.get_secret_value()
    return bool(key) and hmac.compare_digest((authorization or "").encode(), f"Bearer {key}".encode())


def admin_refusal(settings: Settings, authorization: str | None) -> tuple[int, str, str] | None:
    """(status, code, message) when `authorization` may not change documents; None when it may."""
    if not settings.admin_key.get_secret_value():
        return 403, "admin_disabled", "document changes are disabled; set RAGQA_ADMIN_KEY on the server to enable them"
    if not is_admin(settings, authorization):
        return 401, "unauthorized", "send the admin key as 'Authorization: Bearer <key>'"
    return None


def require_admin(settings: Annotated[Settings, Depends(cached_settings)], authorization: Annotated[str | None, Header()] = None) -> None:
    refusal = admin_refusal(settings, authorization)
    if refusal is not None:
        raise ApiError(*refusal)


def _limit_bodies(app: FastAPI, settings: Settings) -> None:
    """Body limits and the upload admin check, before any body is read (service/limits.py)."""
    app.add_middleware(
        BodyLimit,
        body_bytes=settings.max_body_kb * 1024,
        upload_bytes=settings.max_upload_request_mb * 1024 * 1024,
        authorize_upload=lambda authorization: admin_refusal(settings, authorization),
    )


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The ragqa app. With `pipeline` given (tests), the lifespan does not load one."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "pipeline", None) is None:
            app.state.pipeline = Pipeline.from_settings(settings or cached_settings())
        metrics.documents.set(len(app.state.pipeline.index.documents))
        metrics.chunks.set(len(app.state.pipeline.index.chunks))
        yield

    app = FastAPI(
        title="ragqa",
        version="1.0",
        description="Answers questions from your documents and cites the exact source lines. 问答服务：回答附带可核对的原文行号。",
        lifespan=lifespan,
    )
    app.state.pipeline = pipeline
    app.state.metrics = metrics
    _limit_bodies(app, settings or cached_settings())
    if settings is not None:
        app.dependency_overrides[cached_settings] = lambda: settings

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_request", _explain_validation(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(RagqaError)
    async def _ragqa(request: Request, exc: RagqaError) -> JSONResponse:
        if isinstance(exc, NotFound):
            return error_response(404, "not_found", str(exc))
        if isinstance(exc, LastDocument):
            return error_response(409, "last_document", str(exc))
        if isinstance(exc, ReadError):
            return error_response(400, "unreadable_document", str(exc))
        if isinstance(exc, (IndexError_, ConfigError)):
            return error_response(503, "index_unavailable", str(exc))
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(500, "internal_error", "the server failed unexpectedly; the fault is logged")

    @app.middleware("http")
    async def _observe(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        status = 500
        try:
            response: Response = await call_next(request)
            status = response.status_code
            return response
        finally:
            route = request.scope.get("route")
            path = getattr(route, "path", "unmatched")
            method = request.method if request.method in KNOWN_METHODS else "OTHER"
            outcome = "ok" if status < 400 else "client_error" if status < 500 else "server_error"
            metrics.requests.labels(path, method, outcome).inc()
            metrics.latency.labels(path, method).observe(time.perf_counter() - started)

    @app.post("/v1/ask", response_model=AskResponse, responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}}, tags=["answer"])
    def ask(body: AskRequest, pipe: Pipe) -> Any:
        """Answer a question with citations of exact source lines. 例：{"question": "东阳2023年GDP目标增长多少?"}"""
        if body.stream:
            return StreamingResponse(_stream(pipe, body), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        result = pipe.ask(body.question, body.top_k)
        metrics.record_answer(result.llm.backend, result.refused, result.llm.reason, result.timings_ms.retrieve, result.timings_ms.generate)
        return result

    def _stream(pipe: Pipeline, body: AskRequest) -> Iterator[str]:
        try:
            for event, data in pipe.ask_stream(body.question, body.top_k):
                if event == "done":
                    t = data["timings_ms"]
                    metrics.record_answer(data["llm"]["backend"], data["refused"], data["llm"].get("reason"), t["retrieve"], t["generate"])
                yield _sse(event, data)
        except Exception:
            log.exception("stream failed")
            yield _sse("error", {"error": {"code": "internal_error", "message": "the answer could not be finished; try again"}})

    @app.post("/v1/search", response_model=SearchResponse, responses=ERRORS, tags=["answer"])
    def search(body: SearchRequest, pipe: Pipe) -> SearchResponse:
        """The passages retrieved for a query (hybrid keyword + dense), best first."""
        return SearchResponse(passages=pipe.search(body.query, body.top_k))

    @app.get("/v1/documents", response_model=DocumentList, tags=["documents"])
    def documents(pipe: Pipe) -> DocumentList:
        return DocumentList(documents=pipe.documents())

    @app.get("/v1/documents/{doc:path}/lines", response_model=DocumentLines, responses=ERRORS, tags=["documents"])
    def document_lines(
        doc: str,
        pipe: Pipe,
        start: Annotated[int, Query(ge=1, description="first line, 1-based")] = 1,
        end: Annotated[int | None, Query(ge=1, description="last line, inclusive (default: to the end)")] = None,
    ) -> DocumentLines:
        """Physical source lines of a document, for "view source" next to a citation."""
        document = pipe.document(doc)
        total = len(document.lines)
        last = total if end is None else end
        if start > total or last < start:
            raise ApiError(400, "bad_line_range", f"lines {start}-{last} are outside {doc}, which has lines 1-{total}")
        last = min(last, total)
        lines = [SourceLine(n=n, text=document.lines[n - 1]) for n in range(start, last + 1)]
        return DocumentLines(doc=doc, title=document.title, total_lines=total, start=start, end=last, lines=lines)

    @app.post("/v1/documents", responses=ERRORS, tags=["documents"], dependencies=[Depends(require_admin)])
    async def upload(files: Annotated[list[UploadFile], File(description="one or more .txt/.md/.html files")], request: Request) -> dict[str, Any]:
        """Add or replace documents (admin key) and rebuild the index; the old index serves until the swap."""
        pipe = get_pipeline(request)
        limit = (settings or cached_settings()).max_upload_mb * 1024 * 1024
        payload = []
        for f in files:
            data = await f.read(limit + 1)
            if len(data) > limit:
                raise ApiError(413, "file_too_large", f"{f.filename} is over {limit // 1048576} MB")
            payload.append((f.filename or "", data))
        from starlette.concurrency import run_in_threadpool

        added = await run_in_threadpool(pipe.add_documents, payload)
        metrics.documents.set(len(pipe.index.documents))
        metrics.chunks.set(len(pipe.index.chunks))
        return {"added": added, "documents": len(pipe.index.documents), "chunks": len(pipe.index.chunks)}

    @app.delete("/v1/documents/{doc:path}", responses=ERRORS, tags=["documents"], dependencies=[Depends(require_admin)])
    def delete(doc: str, pipe: Pipe) -> dict[str, Any]:
        pipe.delete_document(doc)
        metrics.documents.set(len(pipe.index.documents))
        metrics.chunks.set(len(pipe.index.chunks))
        return {"deleted": doc, "documents": len(pipe.index.documents)}

    @app.get("/healthz", tags=["ops"])
    def healthz(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
        """Liveness and what is loaded; the index folder's path only for the admin key."""
        pipe: Pipeline | None = getattr(request.app.state, "pipeline", None)
        if pipe is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        body: dict[str, Any] = {
            "status": "ok",
            "documents": len(pipe.index.documents),
            "chunks": len(pipe.index.chunks),
            "embedder": pipe.embedder.name,
            "llm": {"backend": pipe.settings.llm_backend, "model": pipe.llm.model if pipe.llm else None},
        }
        if is_admin(pipe.settings, authorization):
            body["index"] = str(pipe.settings.index_dir)
        return body

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    from .openai_compat import install_openai_compat
    from .web import install_web

    install_openai_compat(app, get_pipeline)
    install_web(app, (settings or cached_settings()).cors_origins)
    return app
