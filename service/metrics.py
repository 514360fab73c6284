"""Prometheus metrics of one app instance (own registry, so tests can build many apps).

Labels come from fixed sets only, so no client can grow /metrics: route templates (or
"unmatched"), the methods in KNOWN_METHODS (any other counts as OTHER) and the VERDICTS of
feedback.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

KNOWN_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
VERDICTS = ("up", "down")
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter("ragqa_requests_total", "HTTP requests by route and outcome", ["route", "method", "outcome"], registry=r)
        self.latency = Histogram("ragqa_request_seconds", "HTTP request latency by route", ["route", "method"], buckets=_LATENCY, registry=r)
        self.retrieve = Histogram("ragqa_retrieve_seconds", "Retrieval time per question", buckets=_LATENCY, registry=r)
        self.generate = Histogram("ragqa_generate_seconds", "Answer generation time per question", buckets=_LATENCY, registry=r)
        self.answers = Counter("ragqa_answers_total", "Answers by backend and result", ["backend", "result"], registry=r)
        self.llm_errors = Counter("ragqa_llm_errors_total", "LLM failures that fell back to the extractive answerer", ["reason"], registry=r)
        self.documents = Gauge("ragqa_documents", "Documents in the loaded index", registry=r)
        self.chunks = Gauge("ragqa_chunks", "Chunks in the loaded index", registry=r)
        self.feedback = Counter("ragqa_feedback_total", "Answer feedback stored, by verdict (up or down)", ["verdict"], registry=r)
        for verdict in VERDICTS:
            self.feedback.labels(verdict)

    def record_answer(self, backend: str, refused: bool, fallback_reason: str | None, retrieve_ms: float, generate_ms: float) -> None:
        self.retrieve.observe(retrieve_ms / 1000)
        self.generate.observe(generate_ms / 1000)
        self.answers.labels(backend, "refused" if refused else "answered").inc()
        if fallback_reason:
            self.llm_errors.labels(fallback_reason.split(":", 1)[0]).inc()

    def record_feedback(self, verdict: str) -> None:
        """Count one stored feedback; `verdict` must be one of VERDICTS (the route validated it)."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
        self.feedback.labels(verdict).inc()


Message = MutableMapping[str, Any]
ASGIApp = Callable[[MutableMapping[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


class Observe:
    """Pure ASGI middleware counting requests and their latency by route template, method and
    outcome. (Starlette's BaseHTTPMiddleware would keep a streamed response running in the
    background after its client left; this passes the stream and its cancellation through.)"""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: MutableMapping[str, Any], receive: Callable[[], Awaitable[Message]], send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "OTHER"
            outcome = "ok" if status < 400 else "client_error" if status < 500 else "server_error"
            self.metrics.requests.labels(path, method, outcome).inc()
            self.metrics.latency.labels(path, method).observe(time.perf_counter() - started)
