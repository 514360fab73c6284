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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ragqa.index.embedders import Embedder
from ragqa.index.expansion import Expansions
from ragqa.index.search import FusionConfig, Hit, Searcher
from ragqa.index.store import LoadedIndex
from ragqa.ingest.model import Chunk

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
    return Passage(
        doc=c.doc_id,
        start_line=c.start_line,
        end_line=c.end_line,
        clause=c.clause,
        score=hit.score,
        text=c.text,
        match_start_line=c.start_line,
        match_end_line=c.end_line,
    )


NEIGHBOURS = 12  # chunks read on each side of a passage when widening it


def widened(hits: Sequence[Hit], index: LoadedIndex, chars: int) -> list[Passage]:
    """The passages of `hits`, each the matched chunk with the whole lines of the chunks next to it
    in its document, nearest first and one side then the other, while the lines hold at most
    `chars` characters; a side stops at the first chunk that would go over, is of another
    document (or hidden from this reader), or has lines a passage before it already shows. A
    chunk whose own lines are longer stays as it is.

    A clause is often too short to show what it answers: a sub-clause "(3) ... is liable to a
    level 1 fine" names neither the duty nor who bears it, which the article's first lines do.
    Search, the answer and an LLM's prompt read the matched chunks; the passages a person reads
    show them in context, about as much text as a 500-character window of plain retrieval.
    Citations still quote only the lines that answer. `chars` 0: the chunks as found."""
    if chars <= 0:
        return [to_passage(h) for h in hits]
    count = len(index.chunks)
    wanted = sorted({j for h in hits if h.position >= 0 for j in range(max(0, h.position - NEIGHBOURS), min(count, h.position + NEIGHBOURS + 1))})
    near = dict(zip(wanted, index.chunks.many(wanted), strict=True))
    out: list[Passage] = []
    for hit in hits:
        c = hit.chunk
        if hit.position < 0 or c.doc_id not in index.documents:
            out.append(to_passage(hit))
            continue
        lines = index.documents[c.doc_id].lines
        lo, hi = _grown(hit, near, lines, chars, out)
        text = "\n".join(lines[lo - 1 : hi]) if (lo, hi) != (c.start_line, c.end_line) else c.text
        out.append(to_passage(hit).model_copy(update={"start_line": lo, "end_line": hi, "text": text}))
    return out


def _grown(hit: Hit, near: Mapping[int, Chunk], lines: Sequence[str], chars: int, shown: Sequence[Passage]) -> tuple[int, int]:
    """The first and last line `widened` shows for `hit` (see there); `near`: chunks by position."""
    c = hit.chunk

    def fits(lo: int, hi: int) -> bool:
        return sum(len(line) for line in lines[lo - 1 : hi]) <= chars

    def takes(n: Chunk | None, lo: int, hi: int) -> bool:
        return (
            n is not None
            and n.doc_id == c.doc_id
            and fits(min(lo, n.start_line), max(hi, n.end_line))
            and not any(p.doc == n.doc_id and p.start_line <= n.end_line and n.start_line <= p.end_line for p in shown)
        )

    lo, hi = c.start_line, c.end_line
    if not fits(lo, hi):
        return lo, hi
    side = {-1: hit.position - 1, 1: hit.position + 1}  # the next chunk position to try on each side
    while side:
        for step in list(side):
            n = near.get(side[step])
            if not takes(n, lo, hi):
                del side[step]
                continue
            assert n is not None
            lo, hi = min(lo, n.start_line), max(hi, n.end_line)
            side[step] += step
    return lo, hi
