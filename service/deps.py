"""What routes depend on: the pipeline, metrics, jobs, the admin check, the error body.

Routes get these through `Depends`, and nothing here reads the environment: the settings are
the ones `create_app` was given (app.state.settings). None of them is a dependency override:
with any override set, FastAPI analyses every dependency's signature again on each request
(about a quarter of a millisecond of a question's time).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse

from .access import EVERYONE, Access
from .jobs import Jobs
from .metrics import Metrics
from .pipeline import Pipeline
from .schemas import ApiError, ErrorResponse
from .settings import Settings

ERRORS: dict[int | str, dict[str, Any]] = {400: {"model": ErrorResponse}, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def get_pipeline(request: Request) -> Pipeline:
    pipeline: Pipeline | None = getattr(request.app.state, "pipeline", None)
    if pipeline is None:
        raise ApiError(503, "index_not_loaded", "the index is not loaded yet; try again in a moment")
    return pipeline


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


def get_jobs(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_access(request: Request, settings: Annotated[Settings, Depends(app_settings)]) -> Access:
    """The reader's groups from the trusted proxy header (comma-separated); without the header, a
    reader of public documents only. Everyone when no header is configured, in which case a
    client's own groups header is ignored. Several copies of the header are refused (a proxy that
    appends instead of replacing), as the reader's groups would be ambiguous."""
    name = settings.trusted_groups_header
    if not name:
        return EVERYONE
    values = request.headers.getlist(name)
    if len(values) > 1:
        raise ApiError(400, "bad_request", f"the request carries {name} {len(values)} times; the proxy must replace it, not append (docs/access.md)")
    return Access.from_header(values[0] if values else None)


Pipe = Annotated[Pipeline, Depends(get_pipeline)]
Reader = Annotated[Access, Depends(get_access)]
AppMetrics = Annotated[Metrics, Depends(get_metrics)]
AppJobs = Annotated[Jobs, Depends(get_jobs)]
AppSettings = Annotated[Settings, Depends(app_settings)]


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


def require_admin(settings: AppSettings, authorization: Annotated[str | None, Header()] = None) -> None:
    refusal = admin_refusal(settings, authorization)
    if refusal is not None:
        raise ApiError(*refusal)


Admin = [Depends(require_admin)]
