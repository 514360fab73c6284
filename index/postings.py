"""The BM25 score matrix as the service reads it: per term, the chunks that hold it and their scores.

The files are bm25s's own (`bm25/` in the keyword folder: the CSC arrays data, indices and indptr
as .npy, the term -> column map vocab.index.json, params.index.json), so an index written by an
earlier version reads the same. Reading and scoring need numpy alone: neither bm25s nor scipy is
imported by a service that only answers, which is a tenth of its start.

`scores` adds each query term's column into a float32 array in query order, as bm25s's numpy
backend does with `np.add.at`. A column lists a chunk once, so plain fancy-index addition does the
same float32 additions in the same order (the same bits, tests/test_bm25.py) in a fraction of the
time `np.add.at` takes on long postings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

COUNTS = "counts.npz"  # the term counts beside the BM25 files (index/bm25.py)
EMPTY = ""  # the token bm25s gives a chunk without tokens (and keeps in every vocabulary)
# BM25's term-frequency saturation and length normalisation. bm25s's defaults are 1.5 and 0.75;
# clauses range from a heading to a paragraph of a dozen sentences, and the default b cost the long
# ones too much: on the train split (eval/gold/train.jsonl, 643 answerable) hit@5 was 0.893 at
# (1.5, 0.75), 0.904 at (1.5, 0.5), 0.908 at (1.5, 0.3), 0.913 at (1.2, 0.3), (1.2, 0.2) and
# (0.9, 0.15), 0.911 at (0.9, 0.3), 0.904 at (1.5, 0.0); the sample sets did not move.
K1, B = 1.2, 0.3
_FILES = {"data": "data.csc.index.npy", "indices": "indices.csc.index.npy", "indptr": "indptr.csc.index.npy"}
_VOCAB = "vocab.index.json"
_PARAMS = "params.index.json"
_BM25S_VERSION = "0.3.16"  # the bm25s format these files follow (bm25s reads them back)


@dataclass
class Postings:
    """Column `vocab[term]` of the score matrix: chunks `indices[indptr[c]:indptr[c + 1]]` with
    BM25 scores `data[…]` (float32), over `n_docs` chunks."""

    data: npt.NDArray[np.float32]
    indices: npt.NDArray[np.integer]
    indptr: npt.NDArray[np.integer]
    vocab: dict[str, int]
    n_docs: int

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """The columns of the `tokens` the index knows, in query order (repeats kept)."""
        return [self.vocab[t] for t in tokens if t in self.vocab]

    def scores(self, ids: Sequence[int], weights: Sequence[float] | None = None) -> npt.NDArray[np.float32]:
        """Each chunk's summed score over the columns `ids` (each column's scores times its
        weight, cast to float32, when `weights` are given)."""
        out = np.zeros(self.n_docs, dtype=np.float32)
        for i, col in enumerate(ids):
            lo, hi = int(self.indptr[col]), int(self.indptr[col + 1])
            part = self.data[lo:hi]
            if weights is not None:
                part = (part * weights[i]).astype(np.float32)
            out[self.indices[lo:hi]] += part
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in (("data", self.data), ("indices", self.indices), ("indptr", self.indptr)):
            np.save(folder / _FILES[name], array)
        (folder / _VOCAB).write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        params = {"k1": K1, "b": B, "delta": 0.5, "method": "lucene", "idf_method": "lucene", "dtype": "float32", "int_dtype": "int32"}
        params |= {"num_docs": self.n_docs, "version": _BM25S_VERSION, "backend": "numpy"}
        (folder / _PARAMS).write_text(json.dumps(params, indent=4), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Postings:
        """The postings saved in `folder`, memory-mapped: a query touches its own terms' pages,
        and the kernel may drop them again."""
        params = json.loads((folder / _PARAMS).read_text(encoding="utf-8"))
        method = params.get("idf_method") or params.get("method")
        if method != "lucene":
            raise ValueError(f"the BM25 index in {folder} uses {method!r} IDF; ragqa reads Lucene BM25 only")
        arrays = {name: np.load(folder / file, mmap_mode="r", allow_pickle=False) for name, file in _FILES.items()}
        vocab = json.loads((folder / _VOCAB).read_text(encoding="utf-8"))
        return cls(arrays["data"], arrays["indices"], arrays["indptr"], vocab, int(params["num_docs"]))


class ColumnFrequencies(Mapping[str, int]):
    """Term -> how many chunks hold it, read off the postings (the length of the term's column),
    so the vocabulary is not held a second time in a dict of its own. The empty token and terms
    no chunk holds are left out."""

    def __init__(self, postings: Postings) -> None:
        self._postings = postings

    def __getitem__(self, term: str) -> int:
        col = self._postings.vocab[term]
        n = int(self._postings.indptr[col + 1] - self._postings.indptr[col])
        if not n or term == EMPTY:
            raise KeyError(term)
        return n

    def __iter__(self) -> Iterator[str]:
        lengths = self._postings.indptr[1:] - self._postings.indptr[:-1]
        return (t for t, col in self._postings.vocab.items() if t != EMPTY and lengths[col])

    def __len__(self) -> int:
        return sum(1 for _ in self)


def read_vocab(folder: Path) -> dict[str, int]:
    """The term -> column map saved in `folder` (a `Postings` folder)."""
    found: dict[str, int] = json.loads((folder / _VOCAB).read_text(encoding="utf-8"))
    return found
