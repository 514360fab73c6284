"""Dense search with FAISS inner product over unit vectors (so scores are cosines).

Exact `IndexFlatIP` up to `HNSW_ABOVE` vectors (setting `RAGQA_HNSW_ABOVE`): exact, no training, and at this size a
batched exact search takes well under a millisecond. Past the threshold, HNSW (M=32) keeps
search sub-linear without a training step; the choice is recorded in the manifest.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .embedders import Matrix

faiss.cvar.distance_compute_blas_threshold = 4
HNSW_ABOVE = 50_000


def build_dense(vectors: Matrix, hnsw_above: int = HNSW_ABOVE) -> tuple[faiss.Index, str]:
    """A FAISS index over `vectors` (HNSW when there are more than `hnsw_above`) and its type."""
    dim = vectors.shape[1]
    if len(vectors) > hnsw_above:
        hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efSearch = 128
        index: faiss.Index = hnsw
        kind = "hnsw32"
    else:
        index = faiss.IndexFlatIP(dim)
        kind = "flat-ip"
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def dense_search(index: faiss.Index, queries: Matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores, ids) of the `k` nearest chunks for each query row; ids are -1 past the end."""
    k = max(1, min(k, index.ntotal))
    if index.ntotal == 0:
        return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
    scores, ids = index.search(np.ascontiguousarray(queries, dtype=np.float32), k)
    return scores, ids


def save_dense(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load_dense(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))
