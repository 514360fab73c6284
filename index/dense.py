"""`FaissStore`: the default `VectorStore` (index/vectors.py), FAISS inner product over unit
vectors (so scores are cosines), kept in the index folder.

Exact `IndexFlatIP` over float32 up to `hnsw_above` rows (setting `RAGQA_HNSW_ABOVE`): exact, no
training, and at this size a batched exact search takes well under a millisecond. Past the
threshold, HNSW (M=32) over 8-bit scalar-quantized vectors (`IndexHNSWSQ`, QT_8bit: one byte a
dimension, trained on the vectors' per-dimension range), so a million 512-dimension vectors take
512 MB in memory instead of 2 GB. The float32 vectors stay on disk beside it (`dense.vectors.f32`,
read with pread, never loaded or mapped): a search takes twice `k` candidates from the graph and
ranks them by their exact float32 cosines, so scores are exact and the quantization costs only
the candidates it misses. The build measures recall@10 against exact search and widens efSearch
until it reaches the target (vectors.tune_recall). Above `SQ4_ABOVE` rows the codes are 4-bit (half a
byte a dimension: a million vectors take 256 MB, and the server's memory fits 1.5 GB); their order
is coarser, so a search reranks eight times `k` candidates instead (measured on 1M synthetic
chunks: recall@10 0.956 at efSearch 128, against 0.927 with twice `k`).

Rows are FAISS positions in insertion order, beside each row's id, document and kind. A search
filtered by documents or kinds hands FAISS a bitmap of the allowed rows (`IDSelectorBitmap` in the
search parameters), so only they are ranked. A delete rebuilds the index from the remaining
vectors (HNSW cannot remove rows); builds write whole indexes, so deletes are rare.

Files: dense.faiss (the FAISS index), dense.rows.npz (ids, documents, kinds, efSearch) and, for
HNSW, dense.vectors.f32 (row-major float32, FAISS row order).
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from .embedders import ONE_THREAD_UP_TO, Matrix
from .errors import IndexUnavailable
from .vectors import EF_SEARCH, HNSW_ABOVE, Ids, check_rows

faiss.cvar.distance_compute_blas_threshold = 4
FILTERS = 64  # filtered-search bitmaps kept (one per reader view; least recently used dropped)
RERANK = 2  # an HNSW search takes RERANK * k candidates and ranks them by exact float32 cosine
SQ4_ABOVE = 500_000  # rows above which the HNSW codes are 4-bit instead of 8-bit
RERANK_4BIT = 8  # the rerank width over 4-bit codes
VECTORS = "dense.vectors.f32"
Rows = tuple[Ids, Sequence[str], Sequence[str]]


@contextmanager
def _one_omp_thread(applies: bool) -> Iterator[None]:
    """Search a question or two on one OpenMP thread. FAISS otherwise opens a parallel region
    even for one query, and where another process keeps the second core busy, its barrier waits
    for a thread that is not running (the dev questions' asks took 13-31 ms longer on average
    while an ingest ran beside them). The setting is the calling thread's own (libgomp keeps it per
    thread), so other requests and index builds keep both threads."""
    if not applies:
        yield
        return
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


class _RowFile:
    """Float32 rows of `dim` numbers in a file, read by position with pread (nothing mapped, so
    reads cost no resident memory); the open file outlives the folder's deletion."""

    def __init__(self, path: Path, dim: int, rows: int) -> None:
        self._file = path.open("rb", buffering=0)
        self.dim, self.rows = dim, rows
        size = os.fstat(self._file.fileno()).st_size
        if size != rows * dim * 4:
            self._file.close()
            raise ValueError(f"{path} holds {size} bytes, not {rows} rows of {dim} float32")

    def read(self, positions: npt.NDArray[np.int64]) -> Matrix:
        if len(positions) > 4096:
            return self.all()[positions]
        width = self.dim * 4
        fd = self._file.fileno()
        data = b"".join(os.pread(fd, width, int(p) * width) for p in positions.tolist())
        return np.frombuffer(data, dtype=np.float32).reshape(len(positions), self.dim).copy()

    def all(self) -> Matrix:
        """Every row, read through the open file (so also after the folder's deletion)."""
        self._file.seek(0)
        return np.fromfile(self._file, dtype=np.float32, count=self.rows * self.dim).reshape(self.rows, self.dim)


class _Codes:
    """Strings stored once, rows holding their codes."""

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names = list(names)
        self.code = {name: i for i, name in enumerate(self.names)}

    def encode(self, values: Sequence[str]) -> npt.NDArray[np.int32]:
        for value in values:
            if value not in self.code:
                self.code[value] = len(self.names)
                self.names.append(value)
        return np.fromiter((self.code[v] for v in values), dtype=np.int32, count=len(values))

    def mask(self, codes: npt.NDArray[np.int32], allowed: frozenset[str] | None) -> npt.NDArray[np.bool_]:
        if allowed is None:
            return np.ones(len(codes), dtype=bool)
        return np.isin(codes, [self.code[v] for v in allowed if v in self.code])


class FaissStore:
    """FAISS rows in memory; `save` writes them into an index folder and `load` reads them back."""

    def __init__(self, dim: int, hnsw_above: int = HNSW_ABOVE, ef_search: int = EF_SEARCH, sq4_above: int = SQ4_ABOVE) -> None:
        if dim < 1:
            raise ValueError(f"a vector store needs dim >= 1, not {dim}")
        self.dim, self.hnsw_above, self._ef, self.sq4_above = dim, hnsw_above, ef_search, sq4_above
        self.index: faiss.Index = faiss.IndexFlatIP(dim)
        self.ids: Ids = np.zeros(0, dtype=np.int64)
        self._docs, self._kinds = _Codes(), _Codes()
        self._doc_rows = np.zeros(0, dtype=np.int32)
        self._kind_rows = np.zeros(0, dtype=np.int32)
        self._filters: OrderedDict[tuple[frozenset[str] | None, frozenset[str] | None], tuple[object, ...]] = OrderedDict()
        self._lock = threading.Lock()
        self._originals: Matrix | None = None  # an HNSW index's float32 rows, while built in memory
        self._file: _RowFile | None = None  # or where they are, once loaded

    @property
    def kind(self) -> str:
        if isinstance(self.index, faiss.IndexHNSWSQ):
            return "hnsw32-sq4" if self._four_bit() else "hnsw32-sq8"
        return "hnsw32" if isinstance(self.index, faiss.IndexHNSW) else "flat-ip"

    def _four_bit(self) -> bool:
        if not isinstance(self.index, faiss.IndexHNSWSQ):
            return False
        return bool(faiss.downcast_index(self.index.storage).sq.qtype == faiss.ScalarQuantizer.QT_4bit)  # type: ignore[attr-defined]  # a downcast IndexScalarQuantizer (faiss's stubs)

    @property
    def exact(self) -> bool:
        return not isinstance(self.index, faiss.IndexHNSW)

    @property
    def ef_search(self) -> int:
        return self._ef

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        self._ef = value
        if isinstance(self.index, faiss.IndexHNSW):
            self.index.hnsw.efSearch = value
        self._changed()

    @property
    def ntotal(self) -> int:
        """FAISS's name for `count()`."""
        return self.count()

    def count(self) -> int:
        return int(self.index.ntotal)

    def add(self, ids: Ids, vectors: Matrix, docs: Sequence[str], kinds: Sequence[str]) -> None:
        ids, vectors = check_rows(ids, vectors, docs, kinds, self.dim)
        if not len(ids):
            return
        replaced = np.isin(self.ids, ids)
        if replaced.any():
            self._keep(~replaced)
        self.ids = np.concatenate([self.ids, ids])
        self._doc_rows = np.concatenate([self._doc_rows, self._docs.encode(docs)])
        self._kind_rows = np.concatenate([self._kind_rows, self._kinds.encode(kinds)])
        if self.exact and len(self.ids) > self.hnsw_above:
            self.index = self._build(self._followed_by(vectors))
        else:
            if not self.exact:
                self._originals, self._file = self._followed_by(vectors), None
            self.index.add(vectors)
        self._changed()

    def _followed_by(self, vectors: Matrix) -> Matrix:
        """The stored float32 rows and then `vectors`: `vectors` itself when the store is empty
        (kept, not copied, so a build holds its vectors once; callers do not change them after)."""
        return np.vstack([self._all_vectors(), vectors]) if self.count() else vectors

    def _build(self, vectors: Matrix) -> faiss.Index:
        """A new FAISS index over `vectors`: flat float32 up to `hnsw_above` rows, HNSW over 8-bit
        codes above, 4-bit above `sq4_above` (the float32 rows kept beside it for exact ranking)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._originals, self._file = None, None
        if len(vectors) > self.hnsw_above:
            codes = faiss.ScalarQuantizer.QT_4bit if len(vectors) > self.sq4_above else faiss.ScalarQuantizer.QT_8bit
            hnsw = faiss.IndexHNSWSQ(self.dim, codes, 32, faiss.METRIC_INNER_PRODUCT)  # type: ignore[arg-type]  # faiss's stubs
            hnsw.hnsw.efSearch = self._ef
            hnsw.train(vectors)
            index: faiss.Index = hnsw
            self._originals = vectors
        else:
            index = faiss.IndexFlatIP(self.dim)
        if len(vectors):
            index.add(vectors)
        return index

    def _rows(self, positions: npt.NDArray[np.int64]) -> Matrix:
        """The float32 vectors at FAISS row `positions`."""
        if self._originals is not None:
            return self._originals[positions]
        if self._file is not None:
            return self._file.read(positions)
        return np.asarray(self.index.reconstruct_batch(positions), dtype=np.float32).reshape(len(positions), self.dim)

    def _all_vectors(self) -> Matrix:
        if not self.count():
            return np.zeros((0, self.dim), dtype=np.float32)
        if self._originals is not None:
            return self._originals
        if self._file is not None:
            return self._file.all()
        return np.asarray(self.index.reconstruct_n(0, self.count()), dtype=np.float32)

    def spliced(self, parts: Sequence[tuple[int, int] | tuple[Matrix, Sequence[str], Sequence[str]]]) -> FaissStore:
        """A new store of, in the order of `parts`, rows [start, stop) of this one (copied, not
        re-embedded) and new rows (vectors, documents, kinds); its ids are 0, 1, … (a build's
        chunk positions)."""
        old = self._all_vectors()
        doc_names, kind_names = np.asarray(self._docs.names, dtype=object), np.asarray(self._kinds.names, dtype=object)
        blocks: list[Matrix] = []
        docs: list[str] = []
        kinds: list[str] = []
        for part in parts:
            if len(part) == 2:
                start, stop = part
                blocks.append(old[start:stop])
                docs += doc_names[self._doc_rows[start:stop]].tolist()
                kinds += kind_names[self._kind_rows[start:stop]].tolist()
            else:
                vectors, part_docs, part_kinds = part
                blocks.append(vectors)
                docs += part_docs
                kinds += part_kinds
        store = FaissStore(self.dim, self.hnsw_above, self._ef)
        rows = np.vstack(blocks) if blocks else np.zeros((0, self.dim), dtype=np.float32)
        store.add(np.arange(len(rows), dtype=np.int64), rows, docs, kinds)
        return store

    def _keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self.index = self._build(self._all_vectors()[mask])
        self.ids, self._doc_rows, self._kind_rows = self.ids[mask], self._doc_rows[mask], self._kind_rows[mask]
        self._changed()

    def _changed(self) -> None:
        with self._lock:
            self._filters.clear()

    def delete_document(self, doc: str) -> None:
        code = self._docs.code.get(doc)
        if code is not None and (self._doc_rows == code).any():
            self._keep(self._doc_rows != code)

    def retain(self, ids: Ids) -> None:
        kept = np.isin(self.ids, np.asarray(ids, dtype=np.int64))
        if not kept.all():
            self._keep(kept)

    def contains(self, ids: Ids) -> npt.NDArray[np.bool_]:
        return np.isin(np.asarray(ids, dtype=np.int64), self.ids)

    def vectors(self, ids: Ids) -> Matrix:
        ids = np.asarray(ids, dtype=np.int64)
        order = np.argsort(self.ids)
        place = np.searchsorted(self.ids, ids, sorter=order).clip(0, max(len(self.ids) - 1, 0))
        if len(ids) and (not len(self.ids) or (self.ids[order[place]] != ids).any()):
            raise IndexUnavailable(f"the FAISS store has no row for some of ids {ids[:5].tolist()}…")
        if not len(ids):
            return np.zeros((0, self.dim), dtype=np.float32)
        return self._rows(order[place])

    def search(
        self, queries: Matrix, k: int, docs: frozenset[str] | None = None, kinds: frozenset[str] | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if docs is None and kinds is None:
            k = min(k, self.count())
            params = None
        else:
            allowed, params = self._filter(docs, kinds)
            k = min(k, allowed)
        if k < 1:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        with _one_omp_thread(len(queries) <= ONE_THREAD_UP_TO):
            if self.exact:
                scores, rows = self.index.search(queries, k, params=params)
            else:
                scores, rows = self._reranked(queries, k, params)
        return scores, np.where(rows >= 0, self.ids[rows], -1)

    def _reranked(self, queries: Matrix, k: int, params: faiss.SearchParameters | None) -> tuple[npt.NDArray[np.float32], Ids]:
        """HNSW's best RERANK * k rows by their codes (RERANK_4BIT * k over 4-bit ones), ranked by
        exact float32 cosine, top k."""
        wide = min((RERANK_4BIT if self._four_bit() else RERANK) * k, self.count())
        _, rows = self.index.search(queries, wide, params=params)  # HNSW searches max(efSearch, wide) wide
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        out = np.full((len(queries), k), -1, dtype=np.int64)
        for q, (query, found) in enumerate(zip(queries, rows, strict=True)):
            found = found[found >= 0]
            exact = self._rows(found) @ query
            order = np.lexsort((found, -exact))[:k]
            scores[q, : len(order)], out[q, : len(order)] = exact[order], found[order]
        return scores, out

    def _filter(self, docs: frozenset[str] | None, kinds: frozenset[str] | None) -> tuple[int, faiss.SearchParameters]:
        """(allowed rows, search parameters) of a filtered search; the parameters hold only
        pointers, so the bitmap and selector are kept beside them in the cache."""
        key = (docs, kinds)
        with self._lock:
            found = self._filters.get(key)
            if found is not None:
                self._filters.move_to_end(key)
                return found[0], found[1]  # type: ignore[return-value]
        mask = self._docs.mask(self._doc_rows, docs) & self._kinds.mask(self._kind_rows, kinds)
        bitmap = np.packbits(mask, bitorder="little")
        selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap))
        if isinstance(self.index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]  # missing from faiss's stubs
            params.efSearch = self._ef
        else:
            params = faiss.SearchParameters()
        params.sel = selector
        with self._lock:
            self._filters[key] = (int(mask.sum()), params, bitmap, selector)
            while len(self._filters) > FILTERS:
                self._filters.popitem(last=False)
        return int(mask.sum()), params

    def save(self, folder: Path) -> None:
        """Write the store into `folder`. An HNSW store then reads its float32 rows from the file
        written, as a loaded one does, instead of holding them: a build writes the rest of the
        index (BM25, text) without them in memory."""
        faiss.write_index(self.index, str(folder / "dense.faiss"))
        if not self.exact:
            self._all_vectors().tofile(folder / VECTORS)
            self._originals, self._file = None, _RowFile(folder / VECTORS, self.dim, self.count())
        with (folder / "dense.rows.npz").open("wb") as f:
            np.savez(
                f, ids=self.ids, docs=self._doc_rows, doc_names=np.array(self._docs.names, dtype=str), kinds=self._kind_rows,
                kind_names=np.array(self._kinds.names, dtype=str), ef_search=np.int64(self._ef),
            )  # fmt: skip

    @classmethod
    def load(cls, folder: Path, hnsw_above: int = HNSW_ABOVE, rows: Rows | None = None) -> FaissStore:
        """The store `save` wrote into `folder`; without dense.rows.npz (an older index), `rows`
        gives each row's id, document and kind. An HNSW store's float32 vectors stay in their
        file. ValueError or RuntimeError when damaged."""
        index = faiss.read_index(str(folder / "dense.faiss"))
        store = cls(index.d, hnsw_above)
        if (folder / "dense.rows.npz").exists():
            with np.load(folder / "dense.rows.npz", allow_pickle=False) as saved:
                store.ids = saved["ids"].astype(np.int64)
                store._docs, store._kinds = _Codes(saved["doc_names"].tolist()), _Codes(saved["kind_names"].tolist())
                store._doc_rows, store._kind_rows = saved["docs"].astype(np.int32), saved["kinds"].astype(np.int32)
                store._ef = int(saved["ef_search"])
        elif rows is not None:
            store.ids = np.asarray(rows[0], dtype=np.int64)
            store._doc_rows, store._kind_rows = store._docs.encode(rows[1]), store._kinds.encode(rows[2])
        else:
            raise ValueError(f"{folder} has dense.faiss but no dense.rows.npz")
        if not len(store.ids) == len(store._doc_rows) == len(store._kind_rows) == index.ntotal:
            raise ValueError(f"dense.faiss holds {index.ntotal} vectors but its rows {len(store.ids)}")
        store.index = index
        if isinstance(index, faiss.IndexHNSW):
            store._ef = int(index.hnsw.efSearch)
            store._file = _RowFile(folder / VECTORS, index.d, index.ntotal)
        return store
