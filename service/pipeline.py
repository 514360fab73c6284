"""The pipeline: retrieval, answering and document management, loaded once and composed.

    question ─> Retrieval.current (one Snapshot per request) ─> Snapshot.search ─> hits
             ─> Answerer.answer / .stream (extractive or LLM) ─> Answer (text, refused, citations)
             ─> AskResponse / stream events
    uploads  ─> Documents.add / .delete ─> store commit ─> rebuild ─> Retrieval.publish

Shared by the API, the CLI and the in-process eval asker; `ask`, `ask_stream` and `search` are
safe to call from many threads.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from ragqa.index.embedders import Embedder, make_embedder
from ragqa.index.errors import IndexUnavailable
from ragqa.index.keyword import configure_jieba
from ragqa.index.search import FusionConfig
from ragqa.index.store import LoadedIndex, load_index, read_manifest
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.model import Document

from .answering import Answer, Answerer
from .documents import Added, Documents
from .extractive import Ranker, default_ranker
from .listing import RecordBook
from .llm import LLM, OpenAIChat
from .retrieval import Retrieval, to_passage
from .schemas import AskResponse, CitationsEvent, DeltaEvent, DocumentInfo, DoneEvent, Passage, StreamEvent, Timings
from .settings import Settings


class Pipeline:
    """Index + embedder + answerer + documents, loaded once."""

    def __init__(
        self, settings: Settings, index: LoadedIndex, embedder: Embedder, llm: LLM | None = None, ranker: Ranker | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.retrieval = Retrieval(index, embedder, FusionConfig(settings.keyword_weight, settings.dense_weight, settings.rrf_k))
        self.answerer = Answerer(ranker or default_ranker(), llm, settings.refuse_below)
        self.docs = Documents(settings, self.retrieval, embedder)

    @classmethod
    def from_settings(cls, settings: Settings, http_client: httpx.Client | None = None) -> Pipeline:
        """Load the index named by settings; IndexUnavailable says how to build it when missing."""
        configure_jieba(settings.cache_dir / "jieba")
        built_with = str(read_manifest(settings.index_dir).get("embedder"))
        if "embedder" in settings.model_fields_set and settings.embedder != built_with:
            raise IndexUnavailable(
                f"index at {settings.index_dir} was built with embedder {built_with!r} but RAGQA_EMBEDDER is "
                f"{settings.embedder!r}; re-ingest with it or unset RAGQA_EMBEDDER"
            )
        embedder = make_embedder(built_with, settings.embed_threads)
        index = load_index(settings.index_dir, embedder.name)
        return cls(settings, index, embedder, _llm(settings, http_client))

    @property
    def index(self) -> LoadedIndex:
        return self.retrieval.current.index

    @property
    def store(self) -> DocumentStore:
        return self.docs.store

    @property
    def llm(self) -> LLM | None:
        return self.answerer.llm

    def records(self) -> RecordBook:
        """The records of the current index (for GET /v1/records and exports)."""
        return self.retrieval.current.records

    def search(self, query: str, top_k: int = 5) -> list[Passage]:
        return [to_passage(h) for h in self.retrieval.current.search(query, top_k)]

    def ask(self, question: str, top_k: int = 5) -> AskResponse:
        """Answer `question` from the index, with citations, or refuse."""
        started = time.perf_counter()
        snap = self.retrieval.current
        hits = snap.search(question, top_k)
        retrieved = time.perf_counter()
        answer = self.answerer.answer(question, hits, snap)
        return AskResponse(
            answer=answer.text,
            refused=answer.refused,
            citations=answer.citations,
            passages=[to_passage(h) for h in hits],
            llm=answer.llm,
            timings_ms=_timings(started, retrieved, time.perf_counter()),
            listing=answer.listing,
        )

    def ask_stream(self, question: str, top_k: int = 5) -> Iterator[StreamEvent]:
        """`delta` events of answer text, one `citations` (with the final answer), then `done`."""
        started = time.perf_counter()
        snap = self.retrieval.current
        hits = snap.search(question, top_k)
        retrieved = time.perf_counter()
        final: Answer | None = None
        for item in self.answerer.stream(question, hits, snap):
            if isinstance(item, DeltaEvent):
                yield item
            else:
                final = item
        assert final is not None, "Answerer.stream ends with the Answer"
        passages = [to_passage(h) for h in hits]
        yield CitationsEvent(
            answer=final.text, refused=final.refused, citations=final.citations, passages=passages, llm=final.llm, listing=final.listing
        )
        yield DoneEvent(timings_ms=_timings(started, retrieved, time.perf_counter()), refused=final.refused, llm=final.llm)

    def documents(self) -> list[DocumentInfo]:
        return self.docs.listing()

    def document(self, doc: str) -> Document:
        return self.docs.get(doc)

    def document_lines(self, doc: str) -> list[str]:
        return list(self.docs.get(doc).lines)

    def add_documents(self, files: list[tuple[str, Path]]) -> Added:
        return self.docs.add(files)

    def delete_document(self, doc: str) -> None:
        self.docs.delete(doc)

    def config(self) -> dict[str, Any]:
        manifest = {k: v for k, v in self.index.manifest.items() if k != "corpus"}
        fusion = self.retrieval.fusion
        return {
            "index": str(self.settings.index_dir),
            "manifest": manifest,
            "embedder": self.embedder.name,
            "llm": {"backend": self.settings.llm_backend, "model": self.llm.model if self.llm else None},
            "fusion": {"keyword_weight": fusion.keyword_weight, "dense_weight": fusion.dense_weight, "rrf_k": fusion.rrf_k},
            "refuse_below": self.answerer.ranker.threshold if self.settings.refuse_below is None else self.settings.refuse_below,
        }


def _llm(settings: Settings, http_client: httpx.Client | None) -> LLM | None:
    if settings.llm_backend != "openai":
        return None
    return OpenAIChat(
        settings.llm_base_url,
        settings.llm_model,
        settings.llm_api_key.get_secret_value(),
        client=http_client,
        timeout=settings.llm_timeout,
        connect_timeout=settings.llm_connect_timeout,
        retries=settings.llm_retries,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
    )


def _timings(started: float, retrieved: float, done: float) -> Timings:
    return Timings(
        retrieve=round((retrieved - started) * 1000, 2),
        generate=round((done - retrieved) * 1000, 2),
        total=round((done - started) * 1000, 2),
    )

