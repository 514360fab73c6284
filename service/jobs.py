"""Jobs: document changes that run apart from the request that asked for them.

An upload is staged by its request, then committed and indexed by one worker thread, so
changes apply one at a time and finish even when the client has gone: its job shows `done`
in `GET /v1/jobs/{id}`, and the documents are in the list. Jobs are appended to
`jobs.jsonl` in the document store folder, so they survive a restart; a job that was running
when the server died is reported `interrupted` (the document list shows what was committed,
and the start-up check has brought the index in line with the store).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
STATES = ("running", "done", "failed", "interrupted")


@dataclass
class Job:
    id: str
    kind: str
    documents: list[str]
    state: str = "running"
    created_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    finished_at: str | None = None
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None


class Jobs:
    """The recent jobs (at most `keep`), one worker, and the journal file."""

    def __init__(self, journal: Path | None, keep: int = 500) -> None:
        self.journal = journal
        self.keep = keep
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ragqa-job")
        self._load()

    def _load(self) -> None:
        if self.journal is None or not self.journal.exists():
            return
        lines = self.journal.read_text(encoding="utf-8", errors="replace").splitlines()
        for line in lines:
            try:
                job = Job(**json.loads(line))
            except (ValueError, TypeError):
                continue  # a line cut by a crash
            self._jobs[job.id] = job
            self._jobs.move_to_end(job.id)
        for job in self._jobs.values():
            if job.state == "running":
                job.state = "interrupted"
                job.error = {"code": "interrupted", "message": "the server stopped during this job; GET /v1/documents shows what was committed"}
        self._trim()
        if len(lines) > 2 * self.keep or any(j.state == "interrupted" for j in self._jobs.values()):
            self.journal.write_text("".join(json.dumps(asdict(j), ensure_ascii=False) + "\n" for j in self._jobs.values()), encoding="utf-8")

    def _trim(self) -> None:
        while len(self._jobs) > self.keep:
            self._jobs.popitem(last=False)

    def _record(self, job: Job) -> None:
        with self._lock:
            self._jobs[job.id] = job
            self._jobs.move_to_end(job.id)
            self._trim()
            if self.journal is not None:
                self.journal.parent.mkdir(parents=True, exist_ok=True)
                with self.journal.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(asdict(job), ensure_ascii=False) + "\n")

    def start(self, kind: str, documents: list[str]) -> Job:
        job = Job(id=uuid.uuid4().hex, kind=kind, documents=documents)
        self._record(job)
        return job

    def submit(self, job: Job, work: Callable[[], dict[str, Any]], describe_error: Callable[[Exception], dict[str, str]]) -> Future[dict[str, Any]]:
        """Run `work` on the worker; the job ends `done` with its result or `failed` with the error."""

        def run() -> dict[str, Any]:
            try:
                result = work()
            except Exception as exc:
                self._finish(job, "failed", error=describe_error(exc))
                raise
            self._finish(job, "done", result=result)
            return result

        return self._worker.submit(run)

    def _finish(self, job: Job, state: str, result: dict[str, Any] | None = None, error: dict[str, str] | None = None) -> None:
        done = Job(**{**asdict(job), "state": state, "result": result, "error": error, "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        self._record(done)

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self, limit: int = 50) -> list[Job]:
        with self._lock:
            return list(reversed(self._jobs.values()))[:limit]

    def shutdown(self) -> None:
        self._worker.shutdown(wait=True)
