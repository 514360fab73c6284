"""Ingest: files -> documents -> clause chunks -> vectors -> index folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.errors import RagqaError
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.readers import Skipped, read_tree

from .dense import HNSW_ABOVE
from .embedders import Embedder
from .store import embed_text, write_index

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
) -> tuple[list[Chunk], Path]:
    """Chunk and embed `documents`, write the index to `target` (atomic swap)."""
    chunks: list[Chunk] = []
    for i, doc in enumerate(documents, start=1):
        chunks.extend(chunk_document(doc, budget))
        progress("chunk", i, len(documents))
    texts = [embed_text(c) for c in chunks]
    parts = []
    for start in range(0, len(texts), batch):
        parts.append(embedder.encode(texts[start : start + batch]))
        progress("embed", min(start + batch, len(texts)), len(texts))
    vectors = np.vstack(parts) if parts else np.zeros((0, embedder.dim), dtype=np.float32)
    build = write_index(target, documents, chunks, vectors, embedder, {"token_budget": budget}, hnsw_above)
    return chunks, build


def ingest_paths(
    paths: list[Path],
    target: Path,
    embedder: Embedder,
    budget: int = 350,
    progress: Progress = _quiet,
    hnsw_above: int = HNSW_ABOVE,
) -> BuildReport:
    """Read every supported file under `paths` and build an index of them at `target`."""
    started = time.perf_counter()
    documents, skipped = read_tree(paths)
    if not documents:
        reasons = "; ".join(f"{s.path}: {s.reason}" for s in skipped[:3]) or "no files found"
        raise RagqaError(f"nothing to index under {', '.join(map(str, paths))} ({reasons})")
    chunks, build = build_index(documents, target, embedder, budget, progress, hnsw_above=hnsw_above)
    return BuildReport(
        files=len(documents) + len(skipped),
        documents=len(documents),
        chunks=len(chunks),
        skipped=skipped,
        seconds=time.perf_counter() - started,
        path=str(build),
    )
