"""BM25 from term counts (index/bm25.py) scores bit for bit as bm25s's own index, also after
rows are cut out and spliced in."""

from __future__ import annotations

import bm25s
import numpy as np
from ragqa.index.bm25 import EMPTY, TermCounts, retriever, splice
from ragqa.index.keyword import tokenize

from .conftest import SAMPLES


def _columns(bm25: bm25s.BM25) -> dict[str, tuple[list[int], bytes]]:
    """Each term's column of the score matrix: chunk ids and float32 scores as bytes."""
    scores = bm25.scores
    out = {}
    for term, col in bm25.vocab_dict.items():
        lo, hi = scores["indptr"][col], scores["indptr"][col + 1]
        out[term] = (scores["indices"][lo:hi].tolist(), scores["data"][lo:hi].tobytes())
    return out


def _corpus() -> list[list[str]]:
    lines = [line for path in sorted(SAMPLES.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    return [tokenize(line) or [EMPTY] for line in lines]


def test_scores_equal_bm25s_bit_for_bit() -> None:
    corpus = _corpus()
    reference = bm25s.BM25()
    reference.index(corpus, show_progress=False)
    ours = retriever(TermCounts.from_tokens(corpus))
    assert _columns(ours) == _columns(reference)
    for query in (["地区", "生产总值"], ["责任单位"], ["不存在的词"]):
        assert np.array_equal(ours.get_scores(query), reference.get_scores(query))


def test_spliced_counts_equal_a_fresh_index() -> None:
    corpus = _corpus()
    counts = TermCounts.from_tokens(corpus)
    moved = TermCounts.from_tokens(corpus[40:90])
    spliced = splice([(counts, 0, 40), (moved, 10, 50), (counts, 120, len(corpus))])
    reference = bm25s.BM25()
    kept = corpus[:40] + corpus[50:90] + corpus[120:]
    reference.index(kept, show_progress=False)
    assert _columns(retriever(spliced)) == _columns(reference)
    dropped = {t for toks in corpus[40:50] + corpus[90:120] for t in toks} - {t for toks in kept for t in toks}
    assert dropped and not dropped & set(spliced.vocab)  # terms no row uses any more leave the vocabulary
    assert sorted(spliced.tokens()[0]) == sorted(corpus[0])
