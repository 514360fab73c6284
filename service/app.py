"""The FastAPI app: middleware, error handlers and the routers; nothing else.

Routes live in routes_answer.py, routes_documents.py, routes_records.py, routes_feedback.py,
routes_ops.py, openai_compat.py and web.py, and get what they need through `Depends` (deps.py,
feedback.py). The index is loaded once, in the lifespan, into `app.state.pipeline`;
`app.state.answers` remembers recent answers so they can be rated, and `app.state.feedback`
stores the ratings (SQLite, opened at the first one, closed with the app). Every error leaves
as `{"error": {"code", "message"}}` with the status `service/errors.py` assigns; an unexpected
fault is a 500 with no traceback.
Middleware, outermost first: request ids and access log, CORS and security headers, metrics,
body limits (which check the upload admin key before a byte of the body is read).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from ragqa.ingest.errors import RagqaError
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import routes_answer, routes_documents, routes_feedback, routes_ops, routes_records
from .deps import admin_refusal, error_response, get_pipeline
from .errors import http_error
from .feedback import AnswerLog, FeedbackStore, feedback_path
from .jobs import Jobs
from .limits import BodyLimit
from .logs import RequestIds
from .metrics import Metrics, Observe
from .openai_compat import install_openai_compat
from .pipeline import Pipeline
from .schemas import ApiError
from .settings import Settings, cached_settings
from .web import install_web

log = logging.getLogger("ragqa")


def _explain_validation(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{where}: {msg}")
    return "; ".join(parts) or "invalid request"


def _limit_bodies(app: FastAPI, settings: Settings) -> None:
    """Body limits and the upload admin check, before any body is read (service/limits.py)."""
    app.add_middleware(
        BodyLimit,
        body_bytes=settings.max_body_kb * 1024,
        upload_bytes=settings.max_upload_request_mb * 1024 * 1024,
        authorize_upload=lambda authorization: admin_refusal(settings, authorization),
    )


def _install_error_handlers(app: FastAPI) -> None:
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


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The ragqa app. With `pipeline` given (tests), the lifespan does not load one."""
    conf = settings or cached_settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "pipeline", None) is None:
            app.state.pipeline = Pipeline.from_settings(conf)
        app.state.jobs = Jobs(app.state.pipeline.store.root / "jobs.jsonl")
        metrics.documents.set(len(app.state.pipeline.index.documents))
        metrics.chunks.set(len(app.state.pipeline.index.chunks))
        yield
        app.state.jobs.shutdown()
        app.state.feedback.close()

    app = FastAPI(
        title="ragqa",
        version="1.0",
        description="Answers questions from your documents and cites the exact source lines. 问答服务：回答附带可核对的原文行号。",
        lifespan=lifespan,
        docs_url=None,  # served by install_web from local files, under its own CSP
        redoc_url=None,
    )
    app.state.pipeline = pipeline
    app.state.settings = conf
    app.state.metrics = metrics
    app.state.answers = AnswerLog()
    app.state.feedback = FeedbackStore(feedback_path(conf))
    _limit_bodies(app, conf)
    app.add_middleware(Observe, metrics=metrics)

    _install_error_handlers(app)
    app.include_router(routes_answer.router)
    app.include_router(routes_documents.router)
    app.include_router(routes_records.router)
    app.include_router(routes_feedback.router)
    app.include_router(routes_ops.router)
    install_openai_compat(app, get_pipeline)
    install_web(app, conf.cors_origins)
    app.add_middleware(RequestIds)  # outermost: every response, errors and 413s included, carries its id
    return app
