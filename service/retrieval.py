"""Retrieval: a question to the passages it needs, from one snapshot of the index.

A request takes `Retrieval.current` once and uses that snapshot throughout (search, prompt,
citations), so a document change that swaps in a new index mid-request cannot mix two.

`Snapshot.restricted(access)` is the snapshot as one reader may see it (docs/access.md): its
search ranks only the reader's documents, and its index and records hold only theirs. Views are
kept per set of groups that matter (the reader's groups that some document has), at most
`VIEWS` of them, so a request pays for a view once and then only a numpy mask per query.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from ragqa.index.embedders import Embedder
from ragqa.index.expansion import Expansions
from ragqa.index.search import FusionConfig, Hit, Searcher
from ragqa.index.store import LoadedIndex

from .access import Access
from .listing import RecordBook
from .schemas import Passage

VIEWS = 64  # restricted views kept per snapshot (least recently used dropped)


@dataclass(frozen=True)
class Snapshot:
    """One loaded index and its searcher; never changes."""

    index: LoadedIndex
    searcher: Searcher
    records: RecordBook
    _groups: frozenset[str] = field(init=False, compare=False, repr=False)  # every group some document has
    _views: OrderedDict[frozenset[str], Snapshot] = field(default_factory=OrderedDict, init=False, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_groups", frozenset(g for head in self.index.documents.heads.values() for g in head.groups))

    def search(self, query: str, top_k: int) -> list[Hit]:
        return self.searcher.search(query, top_k)

    def restricted(self, access: Access) -> Snapshot:
        """This snapshot as `access` may see it: itself when every document is readable, else a
        view whose search ranks only readable chunks (before ranking, so a forbidden document
        changes no rank) and whose index documents, chunk texts and records are only the
        readable ones. Restricting a view again narrows it further, never widens it."""
        if access.groups is None:
            return self
        key = access.groups & self._groups
        with self._lock:
            found = self._views.get(key)
            if found is not None:
                self._views.move_to_end(key)
                return found
        made = self._view(Access(key))
        with self._lock:
            self._views[key] = made
            while len(self._views) > VIEWS:
                self._views.popitem(last=False)
        return made

    def _view(self, reader: Access) -> Snapshot:
        docs = frozenset(d for d, head in self.index.documents.heads.items() if reader.allows(head.groups))
        if len(docs) == len(self.index.documents):
            return self
        searcher = self.searcher.restricted(docs)
        return Snapshot(searcher.index, searcher, RecordBook(searcher.index.records, searcher.index.documents))


class Retrieval:
    """The current snapshot; `publish` replaces it (one reference assignment: atomic for readers)."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, fusion: FusionConfig, expansions: Expansions | None = None) -> None:
        self.embedder = embedder
        self.fusion = fusion
        self.expansions = expansions
        self._current = _snapshot(index, embedder, fusion, expansions)

    @property
    def current(self) -> Snapshot:
        return self._current

    def publish(self, index: LoadedIndex) -> None:
        self._current = _snapshot(index, self.embedder, self.fusion, self.expansions)


def _snapshot(index: LoadedIndex, embedder: Embedder, fusion: FusionConfig, expansions: Expansions | None) -> Snapshot:
    searcher = Searcher(index, embedder, fusion, expansions=expansions)
    searcher.warm()  # before the snapshot serves: a swap after an upload builds it in the background job
    return Snapshot(index, searcher, RecordBook(index.records, index.documents))


def to_passage(hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(doc=c.doc_id, start_line=c.start_line, end_line=c.end_line, clause=c.clause, score=hit.score, text=c.text)
