"""The FastAPI app: the v1 JSON API, server-sent events, metrics, chat page and widget.

The index is loaded once, in the lifespan, into `app.state.pipeline`; routes get it through
`Depends(get_pipeline)` and the settings through `Depends(cached_settings)`, which tests
override. Every error leaves as `{"error": {"code", "message"}}` with a 4xx status for bad
input; an unexpected fault is a 500 with the same shape and no traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, File, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from ragqa.ingest.durable import crash_point
from ragqa.ingest.errors import RagqaError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import http_error
from .jobs import Jobs
from .limits import BodyLimit
from .logs import RequestIds
from .metrics import Metrics, Observe
from .pipeline import Pipeline
from .relay import relay
from .schemas import (
    ApiError,
    AskRequest,
    AskResponse,
    DocumentLines,
    DocumentList,
    ErrorResponse,
    JobInfo,
    JobList,
    SearchRequest,
    SearchResponse,
    SourceLine,
    UploadResponse,
)
from .settings import Settings, cached_settings

log = logging.getLogger("ragqa")
ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def describe_error(exc: Exception) -> dict[str, str]:
    """A job's error as an error response body gives it (no internals for unexpected ones)."""
    status, code, message = http_error(exc)
    if status == 500:
        log.error("job failed", exc_info=exc)
    return {"code": code, "message": message}


def _discard(staged: list[tuple[str, Path]]) -> None:
    for _, path in staged:
        path.unlink(missing_ok=True)


def _explain_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request"


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
        app.state.jobs = Jobs(app.state.pipeline.store.root / "jobs.jsonl")
        metrics.documents.set(len(app.state.pipeline.index.documents))
        metrics.chunks.set(len(app.state.pipeline.index.chunks))
        yield
        app.state.jobs.shutdown()

    app = FastAPI(
        title="ragqa",
        version="1.0",
        description="Answers questions from your documents and cites the exact source lines. 问答服务：回答附带可核对的原文行号。",
        lifespan=lifespan,
        docs_url=None,  # served by install_web from local files, under its own CSP
        redoc_url=None,
    )
    app.state.pipeline = pipeline
    app.state.metrics = metrics
    _limit_bodies(app, settings or cached_settings())
    app.add_middleware(Observe, metrics=metrics)
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
        return error_response(*http_error(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(*http_error(exc))

    @app.post("/v1/ask", response_model=AskResponse, responses={**ERRORS, 200: {"content": {"text/event-stream": {}}}}, tags=["answer"])
    def ask(body: AskRequest, pipe: Pipe) -> Any:
        """Answer a question with citations of exact source lines. 例：{"question": "东阳2023年GDP目标增长多少?"}"""
        if body.stream:
            return StreamingResponse(
                relay(_stream(pipe, body)), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
            )
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

    @app.post("/v1/documents", response_model=UploadResponse, responses={**ERRORS, 202: {"model": UploadResponse}}, tags=["documents"],
              dependencies=[Depends(require_admin)])
    async def upload(
        files: Annotated[list[UploadFile], File(description="one or more .txt/.md/.html files")],
        request: Request,
        wait: Annotated[bool, Query(description="false: answer 202 at once with the job; poll GET /v1/jobs/{id}")] = True,
    ) -> Any:
        """Add or replace documents (admin key): stored durably, then the index is rebuilt; the old
        index serves until the swap. The job finishes even if the client leaves."""
        pipe = get_pipeline(request)
        jobs: Jobs = request.app.state.jobs
        staged = await _stage(files, pipe, (settings or cached_settings()).max_upload_mb * 1024 * 1024)
        job = jobs.start("upload", [name for name, _ in staged])
        future = jobs.submit(job, lambda: _apply_upload(pipe, staged), describe_error)
        if not wait:
            return JSONResponse(UploadResponse(job=JobInfo(**asdict(job))).model_dump(), status_code=202)
        result = await asyncio.shield(asyncio.wrap_future(future))
        finished = jobs.get(job.id) or job
        return UploadResponse(**result, job=JobInfo(**asdict(finished)))

    async def _stage(files: list[UploadFile], pipe: Pipeline, limit: int) -> list[tuple[str, Path]]:
        """Each upload copied into the store's incoming/ folder in 1 MB pieces, within `limit`."""
        staged: list[tuple[str, Path]] = []
        try:
            for f in files:
                path = pipe.store.new_incoming(f.filename or "")
                staged.append((f.filename or "", path))
                size = 0
                with path.open("wb") as out:
                    while piece := await f.read(1 << 20):
                        size += len(piece)
                        if size > limit:
                            raise ApiError(413, "file_too_large", f"{f.filename} is over {limit // 1048576} MB")
                        out.write(piece)
                        crash_point("read")
        except BaseException:
            _discard(staged)
            raise
        return staged

    def _apply_upload(pipe: Pipeline, staged: list[tuple[str, Path]]) -> dict[str, Any]:
        try:
            added, skipped = pipe.add_documents(staged)
        finally:
            _discard(staged)
        metrics.documents.set(len(pipe.index.documents))
        metrics.chunks.set(len(pipe.index.chunks))
        return {
            "added": added,
            "skipped": [{"name": s.path, "reason": s.reason} for s in skipped],
            "documents": len(pipe.index.documents),
            "chunks": len(pipe.index.chunks),
        }

    @app.get("/v1/jobs", response_model=JobList, tags=["documents"], dependencies=[Depends(require_admin)])
    def job_list(request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> JobList:
        """The most recent document jobs, newest first (admin key)."""
        return JobList(jobs=[JobInfo(**asdict(j)) for j in request.app.state.jobs.recent(limit)])

    @app.get("/v1/jobs/{job_id}", response_model=JobInfo, responses=ERRORS, tags=["documents"], dependencies=[Depends(require_admin)])
    def job_status(job_id: str, request: Request) -> JobInfo:
        """One job: running, done (with its result), failed (with the error) or interrupted (admin key)."""
        job = request.app.state.jobs.get(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"no job {job_id[:64]!r}; GET /v1/jobs lists the recent ones")
        return JobInfo(**asdict(job))

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
            body["data"] = str(pipe.store.root)
        return body

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    from .openai_compat import install_openai_compat
    from .web import install_web

    install_openai_compat(app, get_pipeline)
    install_web(app, (settings or cached_settings()).cors_origins)
    app.add_middleware(RequestIds)  # outermost: every response, errors and 413s included, carries its id
    return app
