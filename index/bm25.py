"""BM25 built from term counts, so an upload recomputes the scores without re-reading the corpus.

`TermCounts` is the chunk-by-term matrix of token counts (scipy CSR, one row per chunk) with its
vocabulary. A build makes it from token lists; an upload takes the live index's counts, drops the
rows of the documents it replaces or deletes, splices in the rows of the new ones and compacts the
vocabulary (`splice`), all in numpy, without going through the other chunks' text.

`postings` turns counts into the score matrix the service queries (index/postings.py): the Lucene
BM25 that bm25s computes (with K1 and B of index/postings.py), every float operation in bm25s's order and types, so its
scores are bit for bit those of `bm25s.BM25(k1=K1, b=B).index(tokens)` (tests/test_bm25.py checks it). The statistics
(document frequencies, average length) are recomputed whole; that is a few vectorised passes over
the counts, not a pass of Python over the chunks.

Files in the keyword folder: counts.npz (the CSR arrays) beside the postings in bm25s's format,
whose vocab.index.json holds the column of each term. Only builds and uploads need this module (and
scipy); answering reads the postings alone.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from .postings import COUNTS, EMPTY, K1, B, Postings

COUNT_ROWS = 4_096  # chunks `TermCounts.from_tokens` counts at a time
SCORE_ROWS = 16_384  # chunks whose BM25 scores `postings` computes at a time


@dataclass
class TermCounts:
    """Rows: chunks; columns: `vocab`; values: how often the term occurs in the chunk."""

    vocab: list[str]
    matrix: sp.csr_matrix

    @classmethod
    def from_tokens(cls, corpus: Iterable[Sequence[str]]) -> TermCounts:
        """The counts of `corpus` (one token list per chunk); columns in order of first use. The
        chunks are counted `COUNT_ROWS` at a time as they come, so a caller can hand them over one
        by one: a build never holds every chunk's tokens, only the counts."""
        column: dict[str, int] = {}
        data, indices, indptr = array("i"), array("i"), array("q", [0])
        cols: list[int] = []  # the tokens' columns of the chunks not yet counted
        ends = [0]
        for tokens in corpus:
            for token in tokens:
                cols.append(column.setdefault(token, len(column)))
            ends.append(len(cols))
            if len(ends) > COUNT_ROWS:
                _count(cols, ends, len(column), data, indices, indptr)
                cols, ends = [], [0]
        _count(cols, ends, len(column), data, indices, indptr)
        arrays = (np.frombuffer(data, dtype=np.int32), np.frombuffer(indices, dtype=np.int32), np.frombuffer(indptr, dtype=np.int64))
        return cls(list(column), sp.csr_matrix(arrays, shape=(len(indptr) - 1, len(column))))

    def tokens(self) -> list[list[str]]:
        """Each chunk's tokens (each term repeated by its count; the order within a chunk is lost,
        which BM25 does not see)."""
        m, vocab = self.matrix, self.vocab
        out = []
        for i in range(m.shape[0]):
            lo, hi = m.indptr[i], m.indptr[i + 1]
            out.append([vocab[c] for c, n in zip(m.indices[lo:hi].tolist(), m.data[lo:hi].tolist(), strict=True) for _ in range(n)])
        return out

    def save(self, folder: Path) -> None:
        m = self.matrix
        with (folder / COUNTS).open("wb") as f:
            np.savez(f, data=m.data, indices=m.indices, indptr=m.indptr, shape=np.asarray(m.shape, dtype=np.int64))

    @classmethod
    def load(cls, folder: Path, vocab: dict[str, int]) -> TermCounts | None:
        """The counts saved in `folder` (None when there are none: an index from before them);
        `vocab` is bm25s's term -> column map saved beside them."""
        if not (folder / COUNTS).exists():
            return None
        with np.load(folder / COUNTS, allow_pickle=False) as saved:
            shape = tuple(int(x) for x in saved["shape"])
            matrix = sp.csr_matrix((saved["data"], saved["indices"], saved["indptr"]), shape=shape)
        names = [""] * shape[1]
        for term, col in vocab.items():
            if col < shape[1]:
                names[col] = term
        return cls(names, matrix)


def _count(cols: list[int], ends: list[int], width: int, data: array[int], indices: array[int], indptr: array[int]) -> None:
    """Append to the CSR arrays `data`, `indices`, `indptr` the rows of chunks whose tokens' columns
    are `cols` (chunk i's: cols[ends[i]:ends[i + 1]]): one entry per term, columns sorted."""
    rows = sp.csr_matrix((np.ones(len(cols), dtype=np.int32), np.asarray(cols, dtype=np.int32), np.asarray(ends, dtype=np.int64)),
                         shape=(len(ends) - 1, width))  # fmt: skip
    rows.sum_duplicates()
    data.frombytes(rows.data.astype(np.int32).tobytes())
    indices.frombytes(rows.indices.astype(np.int32).tobytes())
    indptr.frombytes((rows.indptr[1:].astype(np.int64) + indptr[-1]).tobytes())


def splice(blocks: Sequence[tuple[TermCounts, int, int]]) -> TermCounts:
    """One `TermCounts` of rows [start, stop) of each block's counts, stacked in order; the
    vocabulary keeps only the terms some row still uses (and EMPTY)."""
    column: dict[str, int] = {}
    remaps: dict[int, npt.NDArray[np.int32]] = {}
    data, indices, lengths = [], [], []
    for counts, start, stop in blocks:
        if id(counts) not in remaps:
            remaps[id(counts)] = np.fromiter((column.setdefault(t, len(column)) for t in counts.vocab), dtype=np.int32, count=len(counts.vocab))
        m = counts.matrix
        lo, hi = int(m.indptr[start]), int(m.indptr[stop])
        data.append(m.data[lo:hi])
        indices.append(remaps[id(counts)][m.indices[lo:hi]])
        lengths.append(np.diff(m.indptr[start : stop + 1]))
    width = len(column)
    all_indices = np.concatenate(indices) if indices else np.zeros(0, dtype=np.int32)
    used = np.bincount(all_indices, minlength=width) > 0
    if EMPTY in column:
        used[column[EMPTY]] = True
    keep = np.flatnonzero(used)
    new_col = np.full(width, -1, dtype=np.int32)
    new_col[keep] = np.arange(len(keep), dtype=np.int32)
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(lengths))]).astype(np.int64) if lengths else np.zeros(1, dtype=np.int64)
    values = np.concatenate(data).astype(np.int32) if data else np.zeros(0, dtype=np.int32)
    matrix = sp.csr_matrix((values, new_col[all_indices], indptr), shape=(len(indptr) - 1, len(keep)))
    matrix.sort_indices()
    vocab = list(column)
    return TermCounts([vocab[i] for i in keep], matrix)


def postings(counts: TermCounts) -> Postings:
    """The BM25 postings of `counts`, the score matrix computed as `bm25s.BM25(k1=K1, b=B).index` does."""
    m = counts.matrix
    n_docs = m.shape[0]
    vocab = {term: i for i, term in enumerate(counts.vocab)}
    if EMPTY not in vocab:  # bm25s adds the empty token to every vocabulary
        vocab[EMPTY] = len(vocab)
    width = len(vocab)
    doc_len = np.asarray(m.sum(axis=1)).ravel().astype(np.int64)
    avg = doc_len.mean() if n_docs else np.float64(0)
    df = np.bincount(m.indices, minlength=width)
    idf = np.zeros(width, dtype=np.float32)
    for col in np.flatnonzero(df).tolist():  # math.log, as bm25s (numpy's log may differ in the last bit)
        idf[col] = math.log(1 + (n_docs - int(df[col]) + 0.5) / (int(df[col]) + 0.5))
    norm = np.asarray([K1 * ((1 - B) + B * int(n) / avg) for n in doc_len.tolist()], dtype=np.float64) if n_docs else np.zeros(0)
    scores = np.empty(m.nnz, dtype=np.float32)
    for start in range(0, n_docs, SCORE_ROWS):  # in blocks: the float64 temporaries of all rows at once outweigh the index
        stop = min(start + SCORE_ROWS, n_docs)
        lo, hi = int(m.indptr[start]), int(m.indptr[stop])
        tf = m.data[lo:hi].astype(np.float32)
        scores[lo:hi] = idf[m.indices[lo:hi]] * (tf / (np.repeat(norm[start:stop], np.diff(m.indptr[start : stop + 1])) + tf))
    matrix = sp.csr_matrix((scores, m.indices, m.indptr), shape=(n_docs, width)).tocsc()
    return Postings(matrix.data, matrix.indices, matrix.indptr, vocab, n_docs)

