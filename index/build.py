"""Ingest: files -> documents -> clause chunks -> vectors -> index folder."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.docstore import Addition, DocumentStore
from ragqa.ingest.durable import crash_point
from ragqa.ingest.errors import RagqaError
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.readers import Skipped, read_files

from .embedders import Embedder, Matrix
from .errors import IndexUnavailable
from .store import Reuse, build_store, current_format, embed_text, keep_store, read_manifest, replaced_store, write_index
from .vectors import HNSW_ABOVE, Ids, StoreConfig, VectorStore, store_config, tune_recall

Progress = Callable[[str, int, int], None]


@dataclass
class BuildReport:
    """What an ingest did, for the CLI summary and the upload endpoint."""

    files: int = 0
    documents: int = 0
    chunks: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    seconds: float = 0.0
    path: str = ""
    kept: list[str] = field(default_factory=list)


def _quiet(stage: str, done: int, total: int) -> None:
    return None


def build_index(
    documents: list[Document],
    target: Path,
    embedder: Embedder,
    budget: int = 350,
    progress: Progress = _quiet,
    batch: int = 64,
    hnsw_above: int = HNSW_ABOVE,
    reuse: Reuse | None = None,
    store: StoreConfig | None = None,
) -> tuple[list[Chunk], Path]:
    """Chunk and embed `documents`, write the index to `target` (atomic swap). `reuse` holds
    what the live index already computed (`Reuse.of(live)`): the chunks and records of
    unchanged documents, and vectors and BM25 tokens by chunk text. Only new documents are
    chunked and only new texts embedded and tokenised, so an upload costs its own chunks.

    `store` says where the vectors go (default: the live index's store, or for a new index
    RAGQA_STORE, FAISS). A Milvus collection keeps the rows it holds; only the missing ones are written. The recall@10 of an approximate index
    is measured when the build holds every vector (otherwise the live index's figure stays)."""
    reuse = reuse or Reuse()
    config = store or keep_store(target, store_config())
    same_budget = reuse.chunks and budget == reuse.budget
    chunks: list[Chunk] = []
    for i, doc in enumerate(documents, start=1):
        kept = reuse.chunks.get((doc.doc_id, doc.sha256)) if same_budget and doc.sha256 else None
        chunks.extend(kept if kept is not None else chunk_document(doc, budget))
        progress("chunk", i, len(documents))
    dense, ids = build_store(config, target, embedder, [(c.doc_id, c.kind, embed_text(c)) for c in chunks], hnsw_above)
    replaced = replaced_store(target, dense, config)
    recall = _fill(dense, ids, chunks, target, embedder, reuse, progress, batch)
    build = write_index(target, documents, chunks, dense, ids, embedder, {"token_budget": budget}, reuse, recall, replaced)
    return chunks, build


def _fill(dense: VectorStore, ids: Ids, chunks: list[Chunk], target: Path, embedder: Embedder, reuse: Reuse, progress: Progress,
          batch: int) -> float | None:  # fmt: skip
    """Add to `dense` the chunks' rows it lacks (`ids`: each chunk's row id); the recall@10 for the
    manifest. Its texts and vectors are dropped on return, before the rest of the index is written."""
    need = np.flatnonzero(~dense.contains(ids))
    vectors = _vectors([embed_text(chunks[i]) for i in need], embedder, reuse, progress, batch)
    dense.add(ids[need], vectors, [chunks[i].doc_id for i in need], [chunks[i].kind for i in need])
    return tune_recall(dense, vectors, ids[need]) if len(need) == len(chunks) or dense.exact else _live_recall(target, dense.kind)


def _vectors(texts: list[str], embedder: Embedder, reuse: Reuse, progress: Progress, batch: int) -> Matrix:
    """The vectors of `texts` (float32, one row each): reused from the live index where it has
    them, else embedded, each distinct text once. Each is written into the one matrix returned as
    it comes, and repeated texts copied last, so the build never holds the vectors twice."""
    out = np.empty((len(texts), embedder.dim), dtype=np.float32)
    first: dict[str, int] = {}  # distinct text -> its first row, in order of first use
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    missing = _known(out, first, reuse.vectors)
    if reuse.fetch is not None:
        missing = _known(out, {t: first[t] for t in missing}, reuse.fetch(missing))
    for start in range(0, len(missing), batch):
        part = missing[start : start + batch]
        for text, vector in zip(part, embedder.encode(part), strict=True):
            out[first[text]] = vector
        crash_point("embed")
        progress("embed", min(start + batch, len(missing)), len(missing))
    rows = np.fromiter((first[t] for t in texts), dtype=np.int64, count=len(texts))
    repeats = np.flatnonzero(rows != np.arange(len(texts)))
    out[repeats] = out[rows[repeats]]
    return out


def _known(out: Matrix, rows: dict[str, int], vectors: Mapping[str, Matrix]) -> list[str]:
    """Write the vectors of the texts of `rows` that `vectors` has into their rows of `out`; the
    other texts, in order."""
    missing = []
    for text, row in rows.items():
        vector = vectors.get(text)
        if vector is None:
            missing.append(text)
        else:
            out[row] = vector
    return missing


def _live_recall(target: Path, kind: str) -> float | None:
    """The recall the live index at `target` measured, if its dense index is of the same kind."""
    try:
        manifest = read_manifest(target)
    except IndexUnavailable:
        return None
    recall = manifest.get("dense_recall@10")
    return float(recall) if isinstance(recall, int | float) and manifest.get("dense") == kind else None


def ingest_paths(
    paths: list[Path],
    target: Path,
    embedder: Embedder,
    budget: int = 350,
    progress: Progress = _quiet,
    hnsw_above: int = HNSW_ABOVE,
    store: DocumentStore | None = None,
    drop_uploads: bool = False,
    vectors: StoreConfig | None = None,
) -> BuildReport:
    """Read every supported file under `paths` and build an index of them at `target`.

    With a document store, the files are committed to it first and the index is built from the
    store: documents uploaded through the API stay (listed in `kept`) unless `drop_uploads`.
    `vectors` says where the vectors go (default: as `build_index`)."""
    started = time.perf_counter()
    read, skipped = read_files(paths)
    if not read:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3]) or "no files found"
        raise RagqaError(f"nothing to index under {', '.join(map(str, paths))} ({reasons})")
    documents = [doc for doc, _ in read]
    kept: list[str] = []
    if store is not None:
        new = {doc.doc_id for doc in documents}
        entries = store.entries()
        kept = sorted(d for d, e in entries.items() if e.origin == "upload" and d not in new and not drop_uploads)
        gone = [d for d in entries if d not in new and d not in kept]
        store.commit([Addition(doc, path, "ingest") for doc, path in read], gone)
        documents, unreadable = store.read_all()
        skipped += unreadable
    chunks, build = build_index(documents, target, embedder, budget, progress, hnsw_above=hnsw_above, store=vectors)
    return BuildReport(
        files=len(read) + len(skipped),
        documents=len(documents),
        chunks=len(chunks),
        skipped=skipped,
        seconds=time.perf_counter() - started,
        path=str(build),
        kept=kept,
    )


def index_behind(store: DocumentStore, target: Path) -> bool:
    """Whether the index at `target` is missing, holds other documents than the store or other
    groups for them (a crash between committing new groups and the swap), or was built by
    another version of the chunker or record extractor (an upgrade rebuilds it)."""
    try:
        manifest = read_manifest(target)
    except IndexUnavailable:
        return True
    same = manifest.get("corpus") == store.identities() and manifest.get("groups", {}) == store.group_map()
    return not same or not current_format(manifest)


def rebuild_from_store(
    store: DocumentStore, target: Path, embedder: Embedder, budget: int = 350, progress: Progress = _quiet, hnsw_above: int = HNSW_ABOVE,
    vectors: StoreConfig | None = None,
) -> BuildReport:
    """Build the index at `target` from exactly the documents in the store (vectors: where the vectors go)."""
    started = time.perf_counter()
    documents, skipped = store.read_all()
    if not documents:
        raise IndexUnavailable(f"the document store {store.root} holds no readable document; ingest some with 'ragqa ingest PATH'")
    chunks, build = build_index(documents, target, embedder, budget, progress, hnsw_above=hnsw_above, store=vectors)
    return BuildReport(len(documents) + len(skipped), len(documents), len(chunks), skipped, time.perf_counter() - started, str(build))
