"""Hybrid search: keyword (BM25) and dense (FAISS) candidates, fused by weighted reciprocal rank.

fused(c) = w_kw / (k + rank_kw(c)) + w_dense / (k + rank_dense(c))   (rank 1-based; absent = 0)

BM25 over clause chunks is the stronger signal on these documents; dense retrieval earns its
place on paraphrases, so it gets a lower weight (measured on the dev gold set: see README).
Each hit keeps both raw scores, which the answerer uses as evidence for refusing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ragqa.ingest.model import Chunk
from ragqa.ingest.normalize import normalize_query

from .dense import dense_search
from .embedders import Embedder
from .keyword import strip_frame
from .store import LoadedIndex


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and the two scores it came from."""

    chunk: Chunk
    score: float
    keyword_score: float
    dense_score: float
    keyword_rank: int | None
    dense_rank: int | None


@dataclass(frozen=True)
class FusionConfig:
    keyword_weight: float = 1.0
    dense_weight: float = 0.15
    rrf_k: int = 5
    candidates: int = 50

    def __post_init__(self) -> None:
        if self.keyword_weight < 0 or self.dense_weight < 0 or self.keyword_weight + self.dense_weight == 0:
            raise ValueError("fusion weights must be >= 0 and not both 0")
        if self.rrf_k < 1 or self.candidates < 1:
            raise ValueError("rrf_k and candidates must be >= 1")


class Searcher:
    """Searches one loaded index with one embedder (the one it was built with)."""

    def __init__(self, index: LoadedIndex, embedder: Embedder, fusion: FusionConfig | None = None) -> None:
        self.index = index
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """The `top_k` best chunks for `query` (either script), best first."""
        n = len(self.index.chunks)
        if n == 0 or not query.strip():
            return []
        text = normalize_query(query)
        cfg = self.fusion
        kw_scores = self.index.keyword.scores(strip_frame(text))
        kw_order = [int(i) for i in np.argsort(-kw_scores, kind="stable")[: cfg.candidates] if kw_scores[i] > 0]
        dense_scores = np.zeros(n, dtype=np.float32)
        dense_order: list[int] = []
        if cfg.dense_weight > 0:
            scores, ids = dense_search(self.index.dense, self.embedder.encode([text]), cfg.candidates)
            for s, i in zip(scores[0], ids[0], strict=False):
                if i >= 0:
                    dense_scores[i] = s
                    dense_order.append(int(i))
        kw_rank = {cid: r for r, cid in enumerate(kw_order, start=1)}
        dense_rank = {cid: r for r, cid in enumerate(dense_order, start=1)}
        fused: dict[int, float] = {}
        for cid, r in kw_rank.items():
            fused[cid] = fused.get(cid, 0.0) + cfg.keyword_weight / (cfg.rrf_k + r)
        for cid, r in dense_rank.items():
            fused[cid] = fused.get(cid, 0.0) + cfg.dense_weight / (cfg.rrf_k + r)
        best = sorted(fused, key=lambda c: (-fused[c], c))[:top_k]
        return [
            Hit(
                chunk=self.index.chunks[c],
                score=round(fused[c], 6),
                keyword_score=float(kw_scores[c]),
                dense_score=float(dense_scores[c]),
                keyword_rank=kw_rank.get(c),
                dense_rank=dense_rank.get(c),
            )
            for c in best
        ]
