"""An upload or a delete applied to the live index at the cost of the documents it changes.

A build (index/build.py) writes every file of a new index folder from the full document list; an
upload into tens of thousands of chunks then spends most of its time on the documents it did not
touch. `update_index` writes the new folder from the live one instead:

    text.sqlite   the kept documents' rows copied by SQLite, their ids and positions shifted;
                  only the new documents' chunks and records go through Python
    keyword/      the live term counts with the changed documents' rows cut out and the new
                  ones spliced in; BM25 statistics recomputed from them (index/bm25.py)
    dense.*       the kept vectors copied from the live FAISS store, the new ones embedded

Documents stay in name order and each one's chunks in one run of ids, exactly as a full build
lays them out, so the result is the index a full build of the same documents writes (tested).
The new folder is swapped in the same atomic way (store.publish_build).

It applies to an exact FAISS store built with the same embedder and token budget; otherwise
(Milvus, HNSW above the threshold, an index from an older ragqa) `why_not` says why, or
`update_index` returns None, and the caller builds in full.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.durable import crash_point
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.records import Record, extract_records

from .bm25 import TermCounts, splice
from .dense import FaissStore
from .embedders import Embedder, Matrix
from .keyword import KeywordIndex, tokenize
from .postings import EMPTY
from .store import LoadedIndex, current_format, embed_text, manifest_for, new_build, publish_build
from .textstore import FILE as TEXT_FILE
from .textstore import Added, DocHead, Moved, splice_text
from .vectors import HNSW_ABOVE

Progress = Callable[[str, int, int], None]


@dataclass
class _New:
    document: Document
    chunks: list[Chunk]
    records: list[Record]


def why_not(live: LoadedIndex, embedder: Embedder, budget: int) -> str | None:
    """None when `update_index` can change `live`; else why a full build is needed."""
    settings = live.manifest.get("settings")
    if not isinstance(live.dense, FaissStore) or not live.dense.exact:
        return f"the vectors are in a {live.dense.kind} store (updated in place only when exact FAISS)"
    if live.manifest.get("embedder") != embedder.name:
        return "the index was built by another embedder"
    if not current_format(live.manifest) or not isinstance(settings, dict) or settings.get("token_budget") != budget:
        return "the index was built by another ragqa version or token budget"
    return None


def update_index(
    live: LoadedIndex,
    target: Path,
    added: Sequence[Document],
    removed: set[str],
    embedder: Embedder,
    budget: int,
    hnsw_above: int = HNSW_ABOVE,
    progress: Progress = lambda stage, done, total: None,
    batch: int = 64,
) -> Path | None:
    """The index of `live`'s documents without `removed`, with `added` (replacing documents of
    the same names), written beside `target` and swapped in; None when the result would pass
    `hnsw_above` chunks (HNSW is built whole), when the live index has no term counts (built
    before them) or its rows are not in document order: the caller then builds in full. Call
    `why_not` first."""
    store = live.chunks.store
    chunk_ranges, record_ranges = store.ranges("chunks"), store.ranges("records")
    live_counts = KeywordIndex.read_counts(live.path / "keyword")
    if chunk_ranges is None or record_ranges is None or live_counts is None:
        return None
    assert isinstance(live.dense, FaissStore)
    new = {}
    for i, doc in enumerate(added, start=1):
        new[doc.doc_id] = _New(doc, chunk_document(doc, budget), extract_records(doc))
        progress("chunk", i, len(added))
    heads = live.documents.heads
    kept = {name: head for name, head in heads.items() if name not in removed and name not in new}
    names = sorted([*kept, *new])
    total = sum(h.chunks for h in kept.values()) + sum(len(n.chunks) for n in new.values())
    if total > hnsw_above:
        return None
    texts = [embed_text(c) for n in new.values() for c in n.chunks]
    vectors = _embed(texts, embedder, progress, batch)
    counts = TermCounts.from_tokens(tokenize(t) or [EMPTY] for t in texts)
    plan = _Plan()
    offset = 0
    for pos, name in enumerate(names):
        if name in kept:
            plan.keep(pos, kept[name].pos, chunk_ranges.get(kept[name].pos, (0, 0)), record_ranges.get(kept[name].pos, (0, 0)), live_counts)
        else:
            add, n = new[name], len(new[name].chunks)
            plan.add(pos, add.document, add.chunks, add.records, (counts, offset, offset + n), vectors[offset : offset + n])
            offset += n

    build = new_build(target)
    dense = live.dense.spliced(plan.vectors)
    dense.save(build)
    KeywordIndex.of_counts(splice(plan.terms)).save(build / "keyword")
    crash_point("write")
    splice_text(build / TEXT_FILE, live.path / TEXT_FILE, plan.moved, plan.fresh)
    documents: list[Document | DocHead] = [kept[n] if n in kept else new[n].document for n in names]
    manifest = manifest_for(documents, plan.chunks, dense, embedder, {"token_budget": budget}, 1.0)
    (build / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    publish_build(target, build)
    return build


@dataclass
class _Plan:
    """Where each document of the new index comes from, in its order: the live index's rows
    (moved by offsets) or new ones."""

    moved: list[Moved] = field(default_factory=list)
    fresh: list[Added] = field(default_factory=list)
    terms: list[tuple[TermCounts, int, int]] = field(default_factory=list)
    vectors: list[tuple[int, int] | tuple[Matrix, Sequence[str], Sequence[str]]] = field(default_factory=list)
    chunks: int = 0
    records: int = 0

    def keep(self, pos: int, old_pos: int, chunks: tuple[int, int], records: tuple[int, int], counts: TermCounts) -> None:
        """The live document at `old_pos`, whose chunks and records are (first id, count)."""
        (first, n), (first_record, n_records) = chunks, records
        self.moved.append(Moved(old_pos, pos, self.chunks - first, self.records - first_record))
        self.terms.append((counts, first, first + n))
        self.vectors.append((first, first + n))
        self.chunks += n
        self.records += n_records

    def add(self, pos: int, doc: Document, chunks: list[Chunk], records: list[Record], terms: tuple[TermCounts, int, int],
            vectors: Matrix) -> None:  # fmt: skip
        self.fresh.append(Added(pos, doc, chunks, records, self.chunks, self.records))
        self.terms.append(terms)
        self.vectors.append((vectors, [doc.doc_id] * len(chunks), [c.kind for c in chunks]))
        self.chunks += len(chunks)
        self.records += len(records)


def _embed(texts: list[str], embedder: Embedder, progress: Progress, batch: int) -> Matrix:
    out: list[Matrix] = []
    for start in range(0, len(texts), batch):
        out.append(np.asarray(embedder.encode(texts[start : start + batch]), dtype=np.float32))
        crash_point("embed")
        progress("embed", min(start + batch, len(texts)), len(texts))
    return np.vstack(out) if out else np.zeros((0, embedder.dim), dtype=np.float32)
