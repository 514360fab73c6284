"""BM25 from term counts (index/bm25.py) scores bit for bit as bm25s's own index, also after
rows are cut out and spliced in; the postings the service reads (index/postings.py) score as
bm25s does and read and write bm25s's files."""

from __future__ import annotations

import random
from pathlib import Path

import bm25s
import numpy as np
from ragqa.index.bm25 import EMPTY, TermCounts, postings, splice
from ragqa.index.keyword import tokenize
from ragqa.index.postings import K1, B, ColumnFrequencies, Postings

from .conftest import SAMPLES


def _columns(index: bm25s.BM25 | Postings) -> dict[str, tuple[list[int], bytes]]:
    """Each term's column of the score matrix: chunk ids and float32 scores as bytes."""
    if isinstance(index, Postings):
        vocab, indptr, indices, data = index.vocab, index.indptr, index.indices, index.data
    else:
        vocab, indptr, indices, data = index.vocab_dict, index.scores["indptr"], index.scores["indices"], index.scores["data"]
    out = {}
    for term, col in vocab.items():
        lo, hi = indptr[col], indptr[col + 1]
        out[term] = (indices[lo:hi].tolist(), data[lo:hi].tobytes())
    return out


def _corpus() -> list[list[str]]:
    lines = [line for path in sorted(SAMPLES.glob("*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    return [tokenize(line) or [EMPTY] for line in lines]


def test_scores_equal_bm25s_bit_for_bit() -> None:
    corpus = _corpus()
    reference = bm25s.BM25(k1=K1, b=B)
    reference.index(corpus, show_progress=False)
    ours = postings(TermCounts.from_tokens(corpus))
    assert _columns(ours) == _columns(reference)
    for query in (["地区", "生产总值"], ["责任单位"], ["不存在的词", "责任单位"]):
        assert np.array_equal(ours.scores(ours.ids(query)), reference.get_scores(query))


def test_postings_score_every_query_as_bm25s(tmp_path: Path) -> None:
    """Random queries of 1-8 terms, repeats included, over the postings as saved and read back
    (memory-mapped), against bm25s's own `get_scores` on the same files: the same float32 bits."""
    corpus = _corpus()
    postings(TermCounts.from_tokens(corpus)).save(tmp_path / "bm25")
    ours = Postings.load(tmp_path / "bm25")
    reference = bm25s.BM25.load(str(tmp_path / "bm25"))
    terms = sorted({t for tokens in corpus for t in tokens} - {EMPTY})
    rng = random.Random(7)
    for _ in range(200):
        query = [rng.choice(terms) for _ in range(rng.randint(1, 8))]
        assert np.array_equal(ours.scores(ours.ids(query)), reference.get_scores(query))


def test_postings_read_an_index_bm25s_saved(tmp_path: Path) -> None:
    corpus = _corpus()
    reference = bm25s.BM25(k1=K1, b=B)
    reference.index(corpus, show_progress=False)
    reference.save(str(tmp_path / "bm25"))
    ours = Postings.load(tmp_path / "bm25")
    assert ours.n_docs == len(corpus) and _columns(ours) == _columns(reference)


def test_spliced_counts_equal_a_fresh_index() -> None:
    corpus = _corpus()
    counts = TermCounts.from_tokens(corpus)
    moved = TermCounts.from_tokens(corpus[40:90])
    spliced = splice([(counts, 0, 40), (moved, 10, 50), (counts, 120, len(corpus))])
    reference = bm25s.BM25(k1=K1, b=B)
    kept = corpus[:40] + corpus[50:90] + corpus[120:]
    reference.index(kept, show_progress=False)
    assert _columns(postings(spliced)) == _columns(reference)
    dropped = {t for toks in corpus[40:50] + corpus[90:120] for t in toks} - {t for toks in kept for t in toks}
    assert dropped and not dropped & set(spliced.vocab)  # terms no row uses any more leave the vocabulary
    assert sorted(spliced.tokens()[0]) == sorted(corpus[0])


def test_document_frequencies_are_the_column_lengths() -> None:
    corpus = _corpus()
    expected: dict[str, int] = {}
    for tokens in corpus:
        for term in set(tokens) - {EMPTY}:
            expected[term] = expected.get(term, 0) + 1
    df = ColumnFrequencies(postings(TermCounts.from_tokens(corpus)))
    assert dict(df) == expected and len(df) == len(expected)
    assert EMPTY not in df and "不存在的词" not in df and df.get("不存在的词", 0) == 0
