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
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragqa.index.embedders import Embedder, make_embedder
from ragqa.index.errors import IndexUnavailable
from ragqa.index.expansion import Expansions, load_expansions
from ragqa.index.keyword import configure_jieba
from ragqa.index.search import Hit
from ragqa.index.store import LoadedIndex, load_index, read_manifest
from ragqa.index.vectors import store_config
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.model import Document

from .abstain import background_idf
from .access import EVERYONE, Access
from .answering import REFUSAL_SIMPLIFIED, REFUSAL_TRADITIONAL, Answer, Answerer, refusal_text
from .documents import Added, Documents
from .errors import ModelError
from .extractive import EXPANSIONS, Ranker, default_expansions, default_ranker, load_ranker
from .feedback import new_answer_id
from .listing import RecordBook
from .reltime import Query, resolve_relative_time
from .rerank import POOL
from .retrieval import Retrieval, Snapshot, widened
from .schemas import AskResponse, CitationsEvent, DeltaEvent, DocumentInfo, DoneEvent, Passage, StreamEvent, Timings, Turn
from .settings import Settings
from .suggest import candidate_questions

if TYPE_CHECKING:
    import httpx

    from .llm import LLM

SUGGESTION_TRIES = 4  # candidates tried per suggested question wanted


def answer_model(settings: Settings) -> tuple[Ranker, Expansions | None]:
    """The answer model and query-expansion table to serve: the shipped ones, or those of the folder
    RAGQA_MODEL_DIR names (its expansion table if it has one, else the shipped one). ModelError,
    saying what to do, when they cannot be read."""
    folder = settings.model_dir
    try:
        own = load_expansions(folder / EXPANSIONS.name) if folder is not None else None  # None without the file
        ranker = load_ranker(folder) if folder is not None else default_ranker()
    except ValueError as exc:  # an expansion table or necessity model that cannot be read
        raise ModelError(f"{exc} (RAGQA_MODEL_DIR={folder})" if folder is not None else str(exc)) from exc
    background_idf(settings.cache_dir / "jieba")  # read now, not on the first question
    return ranker, own if own is not None else default_expansions()


class Pipeline:
    """Index + embedder + answerer + documents, loaded once."""

    def __init__(
        self, settings: Settings, index: LoadedIndex, embedder: Embedder, llm: LLM | None = None, ranker: Ranker | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        model, expansions = answer_model(settings)
        self.retrieval = Retrieval(index, embedder, settings.fusion(), expansions)
        self.answerer = Answerer(ranker or model, llm, settings.refuse_below)
        self.docs = Documents(settings, self.retrieval, embedder)
        self._suggested: dict[tuple[int, frozenset[str] | None], list[str]] = {}

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
        embedder = make_embedder(built_with, settings.embed_threads, settings.cache_dir / "models")
        index = load_index(settings.index_dir, embedder.name, store_config(settings))
        warm = getattr(embedder, "warm", None)
        if warm is not None:  # load the model before the service says it is ready, not on the first question
            warm()
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

    def records(self, access: Access = EVERYONE) -> RecordBook:
        """The records of the current index `access` may read (for GET /v1/records and exports)."""
        return self.retrieval.current.restricted(access).records

    def search(self, query: str, top_k: int = 5, access: Access = EVERYONE) -> list[Passage]:
        snap = self.retrieval.current.restricted(access)
        return widened(self._passages(snap, query, top_k), snap.index, self.settings.passage_chars)

    def ask(self, question: str, top_k: int = 5, history: Sequence[Turn] = (), access: Access = EVERYONE) -> AskResponse:
        """Answer `question` (a follow-up of `history`) from the documents `access` may read, with
        citations, or refuse."""
        started = time.perf_counter()
        snap = self.retrieval.current.restricted(access)
        query = self.understand(question, history, snap, top_k)
        focus = _focus(query, question, history)
        hits = self._passages(snap, query.text, top_k, focus)
        retrieved = time.perf_counter()
        answer = self.answerer.answer(query.text, hits, snap, focus)
        return AskResponse(
            id=new_answer_id(),
            answer=_with_note(answer, query, question),
            refused=answer.refused,
            citations=answer.citations,
            passages=widened(hits, snap.index, self.settings.passage_chars),
            llm=answer.llm,
            timings_ms=_timings(started, retrieved, time.perf_counter()),
            listing=answer.listing,
            rewritten=query.rewritten(question),
            suggestions=answer.suggestions,
        )

    def ask_stream(self, question: str, top_k: int = 5, history: Sequence[Turn] = (), access: Access = EVERYONE) -> Iterator[StreamEvent]:
        """`delta` events of answer text, one `citations` (with the final answer), then `done`."""
        started = time.perf_counter()
        snap = self.retrieval.current.restricted(access)
        query = self.understand(question, history, snap, top_k)
        focus = _focus(query, question, history)
        hits = self._passages(snap, query.text, top_k, focus)
        retrieved = time.perf_counter()
        final: Answer | None = None
        for item in self.answerer.stream(query.text, hits, snap, focus):
            if isinstance(item, DeltaEvent):
                yield item
            else:
                final = item
        assert final is not None, "Answerer.stream ends with the Answer"
        passages = widened(hits, snap.index, self.settings.passage_chars)
        yield CitationsEvent(
            answer=_with_note(final, query, question),
            refused=final.refused,
            citations=final.citations,
            passages=passages,
            llm=final.llm,
            listing=final.listing,
            id=new_answer_id(),
            rewritten=query.rewritten(question),
            suggestions=final.suggestions,
        )
        yield DoneEvent(timings_ms=_timings(started, retrieved, time.perf_counter()), refused=final.refused, llm=final.llm)

    def suggested_questions(self, access: Access = EVERYONE, limit: int = 6) -> list[str]:
        """Up to `limit` questions from the headings of the documents `access` may read, each one
        the service answers (tried once per index version and reader groups, then cached)."""
        snap = self.retrieval.current.restricted(access)
        key = (id(self.retrieval.current.index), access.groups)
        if key not in self._suggested:
            if len(self._suggested) > 64:
                self._suggested.clear()
            docs = snap.index.documents  # a restricted view holds exactly the readable documents
            allowed = (c for c in snap.index.chunks if c.doc_id in docs)
            found: list[str] = []
            for question in candidate_questions(allowed, docs, limit * SUGGESTION_TRIES):
                hits = self._passages(snap, question, self.settings.top_k)
                if not self.answerer.extractive(question, hits, snap).refused:
                    found.append(question)
                if len(found) == limit:
                    break
            self._suggested[key] = found
        return self._suggested[key]

    def _passages(self, snap: Snapshot, text: str, top_k: int, focus: str = "") -> list[Hit]:
        """The `top_k` passages for `text`: retrieved `POOL` deep, the head in answer-aware order."""
        return self.answerer.reorder(text, snap.search(text, max(top_k, POOL)), snap, focus)[:top_k]

    def _similar(self, text: str, options: list[str]) -> list[float]:
        """Cosine of `text` to each of `options` under the index's embedder."""
        vectors = self.embedder.encode([text, *options])
        return [float(x) for x in vectors[1:] @ vectors[0]]

    def understand(self, question: str, history: Sequence[Turn], snap: Snapshot, top_k: int) -> Query:
        """The self-contained question to search and answer: a follow-up rewritten from `history`
        (by the LLM when one is configured, else extractively), relative years made absolute."""
        text = question
        if history:
            text = self.answerer.rewrite(question, [(t.role, t.content) for t in history], self._similar)
        return resolve_relative_time(text, snap, top_k)

    def documents(self, access: Access = EVERYONE) -> list[DocumentInfo]:
        return self.docs.listing(access)

    def document(self, doc: str, access: Access = EVERYONE) -> Document:
        return self.docs.get(doc, access)

    def document_lines(self, doc: str, access: Access = EVERYONE) -> list[str]:
        return list(self.docs.get(doc, access).lines)

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
    from .llm import OpenAIChat  # and httpx: not imported at all without an LLM

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


def _focus(query: Query, question: str, history: Sequence[Turn]) -> str:
    """The words the user typed, when `query` is a follow-up rewritten from `history`."""
    return question if history and query.text != question else ""


def _with_note(answer: Answer, query: Query, question: str) -> str:
    """The answer text with the query's note (which year 今年 meant); a refusal in the script the
    user typed, even when the rewritten question is in the other one."""
    if answer.refused:
        return refusal_text(question) if answer.text in (REFUSAL_SIMPLIFIED, REFUSAL_TRADITIONAL) else answer.text
    return f"{answer.text}{query.note}" if query.note else answer.text


def _timings(started: float, retrieved: float, done: float) -> Timings:
    return Timings(
        retrieve=round((retrieved - started) * 1000, 2),
        generate=round((done - retrieved) * 1000, 2),
        total=round((done - started) * 1000, 2),
    )

