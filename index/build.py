"""Ingest: files -> documents -> clause chunks -> vectors -> index folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.docstore import Addition, DocumentStore
from ragqa.ingest.durable import crash_point
from ragqa.ingest.errors import RagqaError
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.readers import Skipped, read_files

from .dense import HNSW_ABOVE
from .embedders import Embedder
from .errors import IndexUnavailable
from .store import Reuse, current_format, embed_text, read_manifest, write_index

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
) -> tuple[list[Chunk], Path]:
    """Chunk and embed `documents`, write the index to `target` (atomic swap). `reuse` holds
    what the live index already computed (`Reuse.of(live)`): the chunks and records of
    unchanged documents, and vectors and BM25 tokens by chunk text. Only new documents are
    chunked and only new texts embedded and tokenised, so an upload costs its own chunks."""
    reuse = reuse or Reuse()
    same_budget = reuse.chunks and budget == reuse.budget
    chunks: list[Chunk] = []
    for i, doc in enumerate(documents, start=1):
        kept = reuse.chunks.get((doc.doc_id, doc.sha256)) if same_budget and doc.sha256 else None
        chunks.extend(kept if kept is not None else chunk_document(doc, budget))
        progress("chunk", i, len(documents))
    texts = [embed_text(c) for c in chunks]
    known = dict(reuse.vectors)
    todo = list(dict.fromkeys(t for t in texts if t not in known))
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        known.update(zip(part, embedder.encode(part), strict=True))
        crash_point("embed")
        progress("embed", min(start + batch, len(todo)), len(todo))
    vectors = np.vstack([known[t] for t in texts]).astype(np.float32) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    build = write_index(target, documents, chunks, vectors, embedder, {"token_budget": budget}, hnsw_above, reuse)
    return chunks, build


def ingest_paths(
    paths: list[Path],
    target: Path,
    embedder: Embedder,
    budget: int = 350,
    progress: Progress = _quiet,
    hnsw_above: int = HNSW_ABOVE,
    store: DocumentStore | None = None,
    drop_uploads: bool = False,
) -> BuildReport:
    """Read every supported file under `paths` and build an index of them at `target`.

    With a document store, the files are committed to it first and the index is built from the
    store: documents uploaded through the API stay (listed in `kept`) unless `drop_uploads`."""
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
    chunks, build = build_index(documents, target, embedder, budget, progress, hnsw_above=hnsw_above)
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
    store: DocumentStore, target: Path, embedder: Embedder, budget: int = 350, progress: Progress = _quiet, hnsw_above: int = HNSW_ABOVE
) -> BuildReport:
    """Build the index at `target` from exactly the documents in the store."""
    started = time.perf_counter()
    documents, skipped = store.read_all()
    if not documents:
        raise IndexUnavailable(f"the document store {store.root} holds no readable document; ingest some with 'ragqa ingest PATH'")
    chunks, build = build_index(documents, target, embedder, budget, progress, hnsw_above=hnsw_above)
    return BuildReport(len(documents) + len(skipped), len(documents), len(chunks), skipped, time.perf_counter() - started, str(build))
