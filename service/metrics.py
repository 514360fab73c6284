"""Prometheus metrics of one app instance (own registry, so tests can build many apps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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

    def record_answer(self, backend: str, refused: bool, fallback_reason: str | None, retrieve_ms: float, generate_ms: float) -> None:
        self.retrieve.observe(retrieve_ms / 1000)
        self.generate.observe(generate_ms / 1000)
        self.answers.labels(backend, "refused" if refused else "answered").inc()
        if fallback_reason:
            self.llm_errors.labels(fallback_reason.split(":", 1)[0]).inc()
