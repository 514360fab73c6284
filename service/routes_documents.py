"""Routes of documents and their changes: list, source lines, upload (a job), delete, jobs.

Reading routes show only what the reader's groups allow (docs/access.md); a document they may
not read answers 404 exactly as a missing one. Changes need the admin key and see everything.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi import Path as Path_
from fastapi.responses import JSONResponse, Response
from ragqa.ingest.durable import crash_point
from ragqa.ingest.model import GROUP_CHARS, parse_groups

from .deps import ERRORS, Admin, AppJobs, AppMetrics, AppSettings, Pipe, Reader
from .errors import http_error
from .metrics import Metrics
from .pages import render_page
from .pipeline import Pipeline
from .schemas import ApiError, DocumentLines, DocumentList, JobInfo, JobList, SourceLine, UploadResponse

log = logging.getLogger("ragqa")
router = APIRouter(tags=["documents"])


@router.get("/v1/documents", response_model=DocumentList)
def documents(pipe: Pipe, reader: Reader) -> DocumentList:
    """The documents the reader may read."""
    return DocumentList(documents=pipe.docs.listing(reader))


@router.get("/v1/documents/{doc:path}/lines", response_model=DocumentLines, responses=ERRORS)
def document_lines(
    doc: str,
    pipe: Pipe,
    reader: Reader,
    start: Annotated[int, Query(ge=1, description="first line, 1-based")] = 1,
    end: Annotated[int | None, Query(ge=1, description="last line, inclusive (default: to the end)")] = None,
) -> DocumentLines:
    """Physical source lines of a document, for "view source" next to a citation."""
    document = pipe.docs.get(doc, reader)
    total = len(document.lines)
    last = total if end is None else end
    if start > total or last < start:
        raise ApiError(400, "bad_line_range", f"lines {start}-{last} are outside {doc}, which has lines 1-{total}")
    last = min(last, total)
    lines = [SourceLine(n=n, text=document.lines[n - 1], page=document.page_of(n)) for n in range(start, last + 1)]
    return DocumentLines(doc=doc, title=document.title, total_lines=total, start=start, end=last, lines=lines)


@router.get("/v1/documents/{doc:path}/pages/{page}.png", responses={**ERRORS, 200: {"content": {"image/png": {}}}})
def document_page(
    doc: str,
    page: Annotated[int, Path_(ge=1, description="1-based page")],
    pipe: Pipe,
    reader: Reader,
    line: Annotated[int | None, Query(ge=1, description="a line of the document to mark on the page")] = None,
) -> Response:
    """A page of a PDF document as PNG, with `line` (a document line number) marked, for the source viewer."""
    document = pipe.docs.get(doc, reader)
    entry = pipe.store.entries().get(doc)
    if not document.pages or entry is None or not entry.file.endswith(".pdf"):
        raise ApiError(404, "not_found", f"{doc} has no pages: page images are for PDF documents; GET its /lines instead")
    mark = document.lines[line - 1] if line is not None and line <= len(document.lines) and document.page_of(line) == page else None
    png = render_page(pipe.store.files / entry.file, page, mark)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=300"})


@router.post("/v1/documents", response_model=UploadResponse, responses={**ERRORS, 202: {"model": UploadResponse}}, dependencies=Admin)
async def upload(
    files: Annotated[list[UploadFile], File(description="one or more .txt/.md/.html/.pdf/.docx/.xlsx/.png/.jpg files")],
    pipe: Pipe,
    jobs: AppJobs,
    metrics: AppMetrics,
    settings: AppSettings,
    wait: Annotated[bool, Query(description="false: answer 202 at once with the job; poll GET /v1/jobs/{id}")] = True,
    groups: Annotated[
        str | None,
        Form(description=f"comma-separated groups that may read these files (each at most {GROUP_CHARS} characters); none: everyone"),
    ] = None,
) -> Any:
    """Add or replace documents (admin key): stored durably, then the index is rebuilt; the old
    index serves until the swap. The job finishes even if the client leaves.

    A file's name is its document's name, as sent: uploading a file of an existing document's
    name replaces that document (the same file twice leaves one document). A file that cannot be
    read is skipped with its reason and the others are added: a name that is empty, has a folder
    (`/`, `\\`), a control character or a bidirectional override, a leading dot, or over 255 bytes
    (names are refused, never rewritten); a second file of one name in an upload, or a
    name that differs only in case from another (Report.txt, report.txt; the first is kept); an
    encrypted PDF; a .docx/.xlsx that would inflate past 200 MB (a zip bomb); a damaged file.
    A file over RAGQA_MAX_UPLOAD_MB is a 413 `file_too_large`, a request over
    RAGQA_MAX_UPLOAD_REQUEST_MB a 413 `request_too_large` before it is read; files are received
    to disk in pieces, never held in memory whole.

    `groups` (a form field) makes the files readable only by readers in one of those groups
    (docs/access.md); a name with a control character or over 64 characters is a 422. A document
    that has groups is replaced only by an upload that names groups: without them, the file is
    skipped naming the groups, so a new version never becomes public by accident."""
    readers = _upload_groups(groups)
    staged = await _stage(files, pipe, settings.max_upload_mb * 1024 * 1024)
    job = jobs.start("upload", [name for name, _ in staged])
    future = jobs.submit(job, lambda: _apply_upload(pipe, staged, metrics, readers), _describe_error)
    if not wait:
        return JSONResponse(UploadResponse(job=JobInfo(**asdict(job))).model_dump(), status_code=202)
    result = await asyncio.shield(asyncio.wrap_future(future))
    finished = jobs.get(job.id) or job
    return UploadResponse(**result, job=JobInfo(**asdict(finished)))


def _upload_groups(field: str | None) -> tuple[str, ...] | None:
    """The upload's `groups` field as group names; None when absent or naming none; 422 when a name is unusable."""
    try:
        return parse_groups(field or "") or None
    except ValueError as exc:
        raise ApiError(422, "invalid_request", f"groups: {exc}; separate group names with commas") from None


async def _stage(files: list[UploadFile], pipe: Pipeline, limit: int) -> list[tuple[str, Path]]:
    """Each upload copied into the store's incoming/ folder in 1 MB pieces, within `limit` (the
    multipart parser has already spooled each file to a temporary file in pieces)."""
    staged: list[tuple[str, Path]] = []
    try:
        for f in files:
            too_large = ApiError(413, "file_too_large", f"{(f.filename or '')[:80]!r} is over the limit of {limit // 1048576} MB a file")
            if f.size is not None and f.size > limit:
                raise too_large
            path = pipe.store.new_incoming(f.filename or "")
            staged.append((f.filename or "", path))
            size = 0
            with path.open("wb") as out:
                while piece := await f.read(1 << 20):
                    size += len(piece)
                    if size > limit:
                        raise too_large
                    out.write(piece)
                    crash_point("read")
    except BaseException:
        _discard(staged)
        raise
    return staged


def _apply_upload(pipe: Pipeline, staged: list[tuple[str, Path]], metrics: Metrics, groups: tuple[str, ...] | None) -> dict[str, Any]:
    try:
        done = pipe.docs.add(staged, groups)
    finally:
        _discard(staged)
    metrics.documents.set(len(pipe.index.documents))
    metrics.chunks.set(len(pipe.index.chunks))
    return {
        "added": done.added,
        "skipped": [{"name": s.path, "reason": s.reason} for s in done.skipped],
        "documents": len(pipe.index.documents),
        "chunks": len(pipe.index.chunks),
    }


def _discard(staged: list[tuple[str, Path]]) -> None:
    for _, path in staged:
        path.unlink(missing_ok=True)


def _describe_error(exc: Exception) -> dict[str, str]:
    """A job's error as an error response body gives it (no internals for unexpected ones)."""
    status, code, message = http_error(exc)
    if status == 500:
        log.error("job failed", exc_info=exc)
    return {"code": code, "message": message}


@router.delete("/v1/documents/{doc:path}", responses=ERRORS, dependencies=Admin)
def delete(doc: str, pipe: Pipe, metrics: AppMetrics) -> dict[str, Any]:
    pipe.delete_document(doc)
    metrics.documents.set(len(pipe.index.documents))
    metrics.chunks.set(len(pipe.index.chunks))
    return {"deleted": doc, "documents": len(pipe.index.documents)}


@router.get("/v1/jobs", response_model=JobList, dependencies=Admin)
def job_list(jobs: AppJobs, limit: Annotated[int, Query(ge=1, le=500)] = 50) -> JobList:
    """The most recent document jobs, newest first (admin key)."""
    return JobList(jobs=[JobInfo(**asdict(j)) for j in jobs.recent(limit)])


@router.get("/v1/jobs/{job_id}", response_model=JobInfo, responses=ERRORS, dependencies=Admin)
def job_status(job_id: str, jobs: AppJobs) -> JobInfo:
    """One job: running, done (with its result), failed (with the error) or interrupted (admin key)."""
    job = jobs.get(job_id)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id[:64]!r}; GET /v1/jobs lists the recent ones")
    return JobInfo(**asdict(job))
