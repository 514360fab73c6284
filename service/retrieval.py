"""Retrieval: a question to the passages it needs, from one snapshot of the index.

A request takes `Retrieval.current` once and uses that snapshot throughout (search, prompt,
citations), so a document change that swaps in a new index mid-request cannot mix two.
"""

from __future__ import annotations

from dataclasses import dataclass

from ragqa.index.embedders import Embedder
from ragqa.index.search import FusionConfig, Hit, Searcher
from ragqa.index.store import LoadedIndex

from .listing import RecordBook
from .schemas import Passage


@dataclass(frozen=True)
class Snapshot:
    """One loaded index and its searcher; never changes."""

    index: LoadedIndex
    searcher: Searcher
    records: RecordBook

    def search(self, query: str, top_k: int) -> list[Hit]:
        return self.searcher.search(query, top_k)


class Retrieval:
    """The current snapshot; `publish` replaces it (one reference assignment: atomic for readers)."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, fusion: FusionConfig) -> None:
        self.embedder = embedder
        self.fusion = fusion
        self._current = _snapshot(index, embedder, fusion)

    @property
    def current(self) -> Snapshot:
        return self._current

    def publish(self, index: LoadedIndex) -> None:
        self._current = _snapshot(index, self.embedder, self.fusion)


def _snapshot(index: LoadedIndex, embedder: Embedder, fusion: FusionConfig) -> Snapshot:
    return Snapshot(index, Searcher(index, embedder, fusion), RecordBook(index.records, index.documents))


def to_passage(hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(doc=c.doc_id, start_line=c.start_line, end_line=c.end_line, clause=c.clause, score=hit.score, text=c.text)
