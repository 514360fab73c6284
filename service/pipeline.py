"""The answering pipeline: retrieve, answer (LLM or extractive), cite. Shared by API and CLI.

`Pipeline.from_settings` loads the index once; `ask`, `ask_stream` and `search` are safe to
call from many threads. Adding or deleting documents rebuilds the index beside the live one
and swaps it in, so requests in flight finish on the old one.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from ragqa.index.build import build_index, index_behind, ingest_paths, rebuild_from_store
from ragqa.index.embedders import Embedder, make_embedder
from ragqa.index.errors import IndexUnavailable
from ragqa.index.keyword import configure_jieba
from ragqa.index.search import FusionConfig, Hit, Searcher
from ragqa.index.store import LoadedIndex, load_index, read_manifest, remove_stale_builds
from ragqa.ingest.docstore import Addition, DocumentStore
from ragqa.ingest.durable import crash_point
from ragqa.ingest.errors import ReadError
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold
from ragqa.ingest.readers import Skipped, read_document
from ragqa.prompts import render

from .citations import assemble, pieces_from_segments, segments_from_llm
from .errors import LastDocument, LLMError, NotFound
from .extractive import Ranker, Segment, answer_extractive, default_ranker
from .llm import LLM, OpenAIChat
from .question import profile_question, split_question
from .schemas import AskResponse, Citation, DocumentInfo, LLMInfo, Passage, Timings
from .settings import Settings

REFUSAL_SIMPLIFIED = "文档中没有找到这个问题的答案。"
REFUSAL_TRADITIONAL = "文件中沒有找到這個問題的答案。"
_REFUSAL_SIGNS = ("没有找到这个问题的答案", "沒有找到這個問題的答案", "资料不能回答", "資料不能回答", "无法回答", "無法回答")


def refusal_text(question: str) -> str:
    """The refusal in the question's script."""
    nfkc = unicodedata.normalize("NFKC", question)
    return REFUSAL_TRADITIONAL if fold(nfkc) != nfkc else REFUSAL_SIMPLIFIED


@dataclass
class _State:
    index: LoadedIndex
    searcher: Searcher


def to_passage(hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(doc=c.doc_id, start_line=c.start_line, end_line=c.end_line, clause=c.clause, score=hit.score, text=c.text)


class Pipeline:
    """Index + embedder + answerer, loaded once."""

    def __init__(
        self, settings: Settings, index: LoadedIndex, embedder: Embedder, llm: LLM | None = None, ranker: Ranker | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.llm = llm
        self.ranker = ranker or default_ranker()
        fusion = FusionConfig(settings.keyword_weight, settings.dense_weight, settings.rrf_k)
        self._fusion = fusion
        self._state = _State(index, Searcher(index, embedder, fusion))
        self._write_lock = threading.Lock()
        self.store = DocumentStore(settings.data_path)

    @classmethod
    def from_settings(cls, settings: Settings, http_client: httpx.Client | None = None) -> Pipeline:
        """Load the index named by settings; IndexUnavailable says how to build it when missing."""
        configure_jieba(settings.cache_dir / "jieba")
        manifest = read_manifest(settings.index_dir)
        built_with = str(manifest.get("embedder"))
        if "embedder" in settings.model_fields_set and settings.embedder != built_with:
            raise IndexUnavailable(
                f"index at {settings.index_dir} was built with embedder {built_with!r} but RAGQA_EMBEDDER is "
                f"{settings.embedder!r}; re-ingest with it or unset RAGQA_EMBEDDER"
            )
        embedder = make_embedder(built_with, settings.embed_threads)
        index = load_index(settings.index_dir, embedder.name)
        llm: LLM | None = None
        if settings.llm_backend == "openai":
            llm = OpenAIChat(
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
        return cls(settings, index, embedder, llm)

    @property
    def index(self) -> LoadedIndex:
        return self._state.index

    def search(self, query: str, top_k: int = 5) -> list[Passage]:
        return [to_passage(h) for h in self._state.searcher.search(query, top_k)]

    def _messages(self, question: str, hits: list[Hit], state: _State) -> list[dict[str, str]]:
        docs = state.index.documents
        passages = "\n\n".join(
            render(
                "passage",
                n=i,
                title=docs[h.chunk.doc_id].title,
                doc=h.chunk.doc_id,
                lines=f"{h.chunk.start_line}-{h.chunk.end_line}",
                clause=h.chunk.clause or "（正文）",
                text=h.chunk.text,
            )
            for i, h in enumerate(hits, start=1)
        )
        return [
            {"role": "system", "content": render("system", refusal=refusal_text(question))},
            {"role": "user", "content": render("user", passages=passages, question=question)},
        ]

    def _extractive(self, question: str, hits: list[Hit], state: _State) -> tuple[str, bool, list[Citation]]:
        segments: list[Segment] = []
        for part in split_question(question):
            q = profile_question(part, state.index.keyword)
            draft = answer_extractive(q, hits, state.index.documents, self.ranker, self.settings.refuse_below)
            segments += [s for s in draft.segments if s not in segments]
        if not segments:
            return refusal_text(question), True, []
        answer, citations = assemble(pieces_from_segments(tuple(segments)), hits, state.index.documents)
        return answer, False, citations

    def _grounded(self, text: str, question: str, hits: list[Hit], state: _State) -> tuple[str, bool, list[Citation]]:
        if any(sign in text for sign in _REFUSAL_SIGNS):
            return refusal_text(question), True, []
        pieces = segments_from_llm(text, hits)
        if not any(segs for _, segs in pieces):
            raise LLMError("the LLM answer cites no passage, so it is not presented as grounded", "ungrounded")
        answer, citations = assemble(pieces, hits, state.index.documents, renumber=False)
        return answer, False, citations

    def ask(self, question: str, top_k: int = 5) -> AskResponse:
        """Answer `question` from the index, with citations, or refuse."""
        started = time.perf_counter()
        state = self._state
        hits = state.searcher.search(question, top_k)
        retrieved = time.perf_counter()
        llm = LLMInfo(backend="extractive")
        if self.llm is not None and hits:
            try:
                text = self.llm.complete(self._messages(question, hits, state))
                answer, refused, citations = self._grounded(text, question, hits, state)
                llm = LLMInfo(backend="openai", model=self.llm.model)
            except LLMError as exc:
                llm = LLMInfo(backend="extractive", fallback=True, reason=f"{exc.reason}: {exc}")
                answer, refused, citations = self._extractive(question, hits, state)
        else:
            answer, refused, citations = self._extractive(question, hits, state)
        return AskResponse(
            answer=answer,
            refused=refused,
            citations=citations,
            passages=[to_passage(h) for h in hits],
            llm=llm,
            timings_ms=_timings(started, retrieved, time.perf_counter()),
        )

    def ask_stream(self, question: str, top_k: int = 5) -> Iterator[tuple[str, dict[str, Any]]]:
        """(event, data) pairs: `delta`s of answer text, one `citations` (with the final answer), `done`."""
        started = time.perf_counter()
        state = self._state
        hits = state.searcher.search(question, top_k)
        retrieved = time.perf_counter()
        llm = LLMInfo(backend="extractive")
        result: tuple[str, bool, list[Citation]] | None = None
        if self.llm is not None and hits:
            streamed = ""
            try:
                for delta in self.llm.stream(self._messages(question, hits, state)):
                    streamed += delta
                    yield "delta", {"text": delta}
                result = self._grounded(streamed, question, hits, state)
                llm = LLMInfo(backend="openai", model=self.llm.model)
            except LLMError as exc:
                llm = LLMInfo(backend="extractive", fallback=True, reason=f"{exc.reason}: {exc}")
                result = None
        if result is None:
            result = self._extractive(question, hits, state)
            for piece in [result[0]] if llm.fallback else _pieces(result[0]):
                yield "delta", {"text": piece, **({"replace": True} if llm.fallback else {})}
        answer, refused, citations = result
        done = time.perf_counter()
        yield "citations", {
            "answer": answer,
            "refused": refused,
            "citations": [c.model_dump() for c in citations],
            "passages": [to_passage(h).model_dump() for h in hits],
            "llm": llm.model_dump(),
        }
        timings = _timings(started, retrieved, done)
        yield "done", {"timings_ms": timings.model_dump(), "refused": refused, "llm": llm.model_dump()}

    def documents(self) -> list[DocumentInfo]:
        index = self._state.index
        counts: dict[str, int] = {}
        for chunk in index.chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        return [
            DocumentInfo(doc=d.doc_id, title=d.title, lines=len(d.lines), chunks=counts.get(d.doc_id, 0))
            for d in sorted(index.documents.values(), key=lambda d: d.doc_id)
        ]

    def document(self, doc: str) -> Document:
        try:
            return self._state.index.documents[doc]
        except KeyError:
            raise NotFound(f"no document {doc!r}; GET /v1/documents lists them") from None

    def document_lines(self, doc: str) -> list[str]:
        return list(self.document(doc).lines)

    def config(self) -> dict[str, Any]:
        manifest = {k: v for k, v in self._state.index.manifest.items() if k != "corpus"}
        return {
            "index": str(self.settings.index_dir),
            "manifest": manifest,
            "embedder": self.embedder.name,
            "llm": {"backend": self.settings.llm_backend, "model": self.llm.model if self.llm else None},
            "fusion": {"keyword_weight": self._fusion.keyword_weight, "dense_weight": self._fusion.dense_weight, "rrf_k": self._fusion.rrf_k},
            "refuse_below": self.ranker.threshold if self.settings.refuse_below is None else self.settings.refuse_below,
        }

    def add_documents(self, files: list[tuple[str, Path]]) -> tuple[list[str], list[Skipped]]:
        """Add (or replace) documents from received files and rebuild the index; returns the
        names added and the files skipped, each with its reason (ReadError when none is usable).

        The originals are committed to the document store before the index is rebuilt, so a
        crash during the rebuild loses nothing: the next start rebuilds from the store."""
        new: list[Addition] = []
        skipped: list[Skipped] = []
        for name, path in files:
            try:
                check_upload_name(name)
                new.append(Addition(read_document(path, name), path, "upload"))
            except ReadError as exc:
                skipped.append(Skipped(name[:255], str(exc)))
        if not new:
            raise ReadError("; ".join(f"{s.path[:80]}: {s.reason}" for s in skipped) or "no files in the upload")
        with self._write_lock:
            self._adopt_index_if_new()
            self.store.commit(new)
            crash_point("stored")
            docs = dict(self._state.index.documents)
            docs.update({a.document.doc_id: a.document for a in new})
            self._rebuild(list(docs.values()))
        return [a.document.doc_id for a in new], skipped

    def delete_document(self, doc: str) -> None:
        with self._write_lock:
            docs = dict(self._state.index.documents)
            if doc not in docs:
                raise NotFound(f"no document {doc!r}; GET /v1/documents lists them")
            del docs[doc]
            if not docs:
                raise LastDocument("cannot delete the last document; an index needs at least one (upload another first)")
            self._adopt_index_if_new()
            self.store.commit(deletions=[doc])
            self._rebuild(list(docs.values()))

    def _adopt_index_if_new(self) -> None:
        """An index built before the store existed: its documents become the store's first content."""
        if not self.store.exists():
            self.store.adopt(self._state.index.documents.values(), self.store.root / "adopting")
            shutil.rmtree(self.store.root / "adopting", ignore_errors=True)

    def _rebuild(self, documents: list[Document]) -> None:
        target = self.settings.index_dir
        build_index(
            sorted(documents, key=lambda d: d.doc_id),
            target,
            self.embedder,
            self.settings.token_budget,
            hnsw_above=self.settings.hnsw_above,
        )
        index = load_index(target, self.embedder.name)
        self._state = _State(index, Searcher(index, self.embedder, self._fusion))


def check_upload_name(name: str) -> None:
    """ReadError unless `name` can be a document name: no folder, NUL, hidden name or over 255 bytes."""
    if "/" in name or "\\" in name:
        raise ReadError(f"{name[:80]!r} has a folder in it; upload files by their plain names (a document is replaced by name)")
    if not name or name.startswith(".") or "\x00" in name or len(name.encode("utf-8", "replace")) > 255:
        raise ReadError(f"{name[:80]!r} is not a usable file name (empty, hidden, a NUL byte, or over 255 bytes)")


def prepare_index(settings: Settings, seed: list[Path] | None = None, say: Callable[[str], None] = print) -> None:
    """Before serving: clear what a crash left, and make the index match the document store.

    First start: an existing index is adopted into the store; without one, `seed` (e.g. the
    sample corpus) is ingested. Later starts never re-seed: the store is the truth, and an index
    that is missing or behind it (a crash between commit and swap) is rebuilt from it."""
    store = DocumentStore(settings.data_path)
    for note in store.recover() + [f"removed unfinished build {b}" for b in remove_stale_builds(settings.index_dir)]:
        say(note)
    has_index = (settings.index_dir / "manifest.json").exists()
    if not store.exists():
        if has_index:
            say(f"document store {store.root}: starting it from the documents of {settings.index_dir}")
            with tempfile.TemporaryDirectory(dir=store.root.parent) as scratch:
                store.adopt(load_index(settings.index_dir).documents.values(), Path(scratch))
        elif seed:
            say(f"first start: ingesting {', '.join(map(str, seed))} into {store.root}")
            report = ingest_paths(seed, settings.index_dir, make_embedder(settings.embedder, settings.embed_threads),
                                  settings.token_budget, hnsw_above=settings.hnsw_above, store=store)
            say(f"indexed {report.documents} documents into {report.chunks} chunks")
            return
        else:
            return
    if index_behind(store, settings.index_dir):
        built_with = read_manifest(settings.index_dir).get("embedder") if has_index else settings.embedder
        say(f"the index at {settings.index_dir} does not match the document store {store.root}; rebuilding it from the store")
        report = rebuild_from_store(store, settings.index_dir, make_embedder(str(built_with), settings.embed_threads),
                                    settings.token_budget, hnsw_above=settings.hnsw_above)
        for skipped in report.skipped:
            say(f"skipped {skipped.path}: {skipped.reason}")
        say(f"rebuilt: {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f}s")


def _timings(started: float, retrieved: float, done: float) -> Timings:
    return Timings(
        retrieve=round((retrieved - started) * 1000, 2),
        generate=round((done - retrieved) * 1000, 2),
        total=round((done - started) * 1000, 2),
    )


def _pieces(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
