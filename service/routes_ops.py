"""Operations routes: GET /healthz and GET /metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .deps import AppMetrics, Reader, is_admin
from .pipeline import Pipeline

router = APIRouter(tags=["ops"])


@router.get("/healthz")
def healthz(request: Request, reader: Reader, authorization: Annotated[str | None, Header()] = None) -> Any:
    """Liveness and what is loaded: the documents and chunks the reader may read; the index and
    data folders' paths only for the admin key.
    A vector store that does not answer (Milvus gone away) makes it a 503 that says why, until
    the store answers again."""
    pipe: Pipeline | None = getattr(request.app.state, "pipeline", None)
    if pipe is None:
        return JSONResponse({"status": "loading"}, status_code=503)
    check = getattr(pipe.index.dense, "health", None)
    problem = check() if check is not None else None
    readable = pipe.retrieval.current.restricted(reader).index
    body: dict[str, Any] = {
        "status": "unavailable" if problem else "ok",
        "documents": len(readable.documents),
        "chunks": int(str(readable.manifest.get("chunks", 0))),
        "embedder": pipe.embedder.name,
        "llm": {"backend": pipe.settings.llm_backend, "model": pipe.llm.model if pipe.llm else None},
    }
    if is_admin(pipe.settings, authorization):
        body["index"] = str(pipe.settings.index_dir)
        body["data"] = str(pipe.store.root)
    if problem:  # where Milvus runs is for the admin key
        body["vectors"] = problem if is_admin(pipe.settings, authorization) else "the vector store does not answer"
        return JSONResponse(body, status_code=503)
    return body


@router.get("/metrics", include_in_schema=False)
def prometheus(metrics: AppMetrics) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
