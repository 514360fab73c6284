"""Where the chunks' vectors live: one `VectorStore` contract, two backends.

    VectorStore   rows of (id, unit vector, document, kind); adding an id again replaces its row
    ├── FaissStore   (index/dense.py, the default) FAISS in memory, saved in the index folder
    └── MilvusStore  a Milvus collection: milvus-lite in a local `.db` file, or a server or cluster

Scores are inner products of unit vectors, i.e. cosines, on both. A search filtered by documents or
kinds ranks only the rows it allows (FAISS: an ID selector; Milvus: a boolean expression, which
Milvus applies before the vector search), so a filtered-out row never takes a place in the top k.
tests/test_store_contract.py runs one contract test class against both.

A Milvus collection outlives index folders and may be shared by several `ragqa serve` replicas
(docs/scale.md), so a build adds only the rows it does not hold yet (`contains`) and, once the new
folder is live, drops the rows no chunk uses any more (`retain`). Its row ids are stable hashes of
the chunk (`stable_ids`); FAISS rows are simply the chunk positions.

`tune_recall` measures an approximate index's recall@10 against exact search at build time and
raises its search breadth (efSearch) until it reaches `RECALL_TARGET`; the manifest records it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import numpy.typing as npt
from ragqa.ingest.errors import ConfigError

from .embedders import Matrix
from .errors import IndexUnavailable

STORES = ("faiss", "milvus")
HNSW_ABOVE = 50_000  # rows; RAGQA_HNSW_ABOVE: exact search up to this many, HNSW above
EF_SEARCH = 128  # HNSW search breadth to start from
EF_MAX = 1024
RECALL_TARGET = 0.95
RECALL_QUERIES = 200  # stored vectors used as queries when measuring recall@10
T = TypeVar("T")
SEARCH_TIMEOUT = 10.0  # seconds a Milvus search may take before the request fails (503)
HEALTH_TIMEOUT = 2.0  # seconds /healthz waits for Milvus

Ids = npt.NDArray[np.int64]


class VectorStore(Protocol):
    """Rows of (id, unit vector, document, kind). Ids are int64 >= 0 and unique: adding an id
    again replaces its row. Scores are inner products (cosines). Methods raise ValueError for
    malformed rows and IndexUnavailable when the backend cannot be reached."""

    dim: int
    ef_search: int  # HNSW search breadth (ignored by exact indexes)

    @property
    def kind(self) -> str:
        """The index answering searches, for the manifest: flat-ip, hnsw32-sq8, hnsw32-sq4 (hnsw32 over float32), milvus-flat, milvus-hnsw."""
        ...

    @property
    def exact(self) -> bool:
        """Whether searches are exact (flat); HNSW is not."""
        ...

    def add(self, ids: Ids, vectors: Matrix, docs: Sequence[str], kinds: Sequence[str]) -> None:
        """Insert rows, replacing any with the same id; exact up to the store's threshold, HNSW above."""
        ...

    def delete_document(self, doc: str) -> None:
        """Remove every row of `doc` (none: nothing happens)."""
        ...

    def retain(self, ids: Ids) -> None:
        """Remove every row whose id is not in `ids`."""
        ...

    def contains(self, ids: Ids) -> npt.NDArray[np.bool_]:
        """For each id, whether the store holds a row with it."""
        ...

    def vectors(self, ids: Ids) -> Matrix:
        """The stored vectors of `ids`, in that order; IndexUnavailable if one is missing."""
        ...

    def search(
        self, queries: Matrix, k: int, docs: frozenset[str] | None = None, kinds: frozenset[str] | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        """(scores, ids) of the best rows for each query row, best first, at most `k` columns; only
        rows of `docs` and `kinds` when given (an empty set allows none). Where fewer rows match,
        ids are -1 past the end."""
        ...

    def count(self) -> int:
        """How many rows the store holds."""
        ...

    def save(self, folder: Path) -> None:
        """Write what reopens the store into `folder` (FAISS: the vectors; Milvus: where the collection is)."""
        ...


@dataclass(frozen=True)
class StoreConfig:
    """Where a build puts the vectors and how to reach Milvus.

    `milvus_uri` is a milvus-lite file (ends in `.db`) or a server URL (http://host:19530); empty
    means the file the index was built with, or `<index>.milvus.db` beside a new index."""

    kind: str = "faiss"
    milvus_uri: str = ""
    milvus_token: str = ""

    def __post_init__(self) -> None:
        if self.kind not in STORES:
            raise ConfigError(f"RAGQA_STORE is {self.kind!r}; use one of {', '.join(STORES)}")
        uri = self.milvus_uri
        if uri and not uri.endswith(".db") and urlsplit(uri).scheme not in ("http", "https", "tcp", "unix"):
            raise ConfigError(f"RAGQA_MILVUS_URI {uri!r} is neither a milvus-lite file (ending in .db) nor a URL like http://milvus:19530")


def store_config(settings: object | None = None) -> StoreConfig:
    """The store settings: fields `store`, `milvus_uri`, `milvus_token` of `settings` when it has
    them, else the variables RAGQA_STORE, RAGQA_MILVUS_URI, RAGQA_MILVUS_TOKEN (until the
    settings object carries them)."""

    def read(field: str) -> str:
        value = getattr(settings, field, None)
        if value is None:
            return os.environ.get(f"RAGQA_{field.upper()}", "")
        secret = getattr(value, "get_secret_value", None)
        return str(secret() if callable(secret) else value)

    return StoreConfig(read("store") or "faiss", read("milvus_uri"), read("milvus_token"))


def check_rows(ids: Ids, vectors: Matrix, docs: Sequence[str], kinds: Sequence[str], dim: int) -> tuple[Ids, Matrix]:
    """`ids` and `vectors` as contiguous int64 and float32; ValueError unless every row has an id
    >= 0 (unique), a vector of `dim` numbers, a document and a kind."""
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape[1] != dim:
        raise ValueError(f"vectors of shape {vectors.shape}: this store holds rows of {dim} dimensions")
    if not len(ids) == len(vectors) == len(docs) == len(kinds):
        raise ValueError(f"{len(ids)} ids, {len(vectors)} vectors, {len(docs)} documents and {len(kinds)} kinds: one each per row")
    if len(ids) and (ids.min() < 0 or len(np.unique(ids)) != len(ids)):
        raise ValueError("row ids must be >= 0 and unique within one add")
    return ids, vectors


def stable_ids(keys: Sequence[tuple[str, str, str]]) -> Ids:
    """A 63-bit id per (document, kind, text) key, the same in every build: the n-th repeat of
    one key in a document gets its own id. A shared collection keeps a row across builds by it."""
    seen: dict[tuple[str, str, str], int] = {}
    out = np.empty(len(keys), dtype=np.int64)
    for i, key in enumerate(keys):
        n = seen[key] = seen.get(key, -1) + 1
        digest = hashlib.blake2b("\x1f".join((*key, str(n))).encode("utf-8"), digest_size=8).digest()
        out[i] = int.from_bytes(digest, "big") & 0x7FFF_FFFF_FFFF_FFFF
    if len(np.unique(out)) != len(out):
        raise IndexUnavailable("two chunks hashed to one vector id (about a 1 in 10^18 chance); change one of them by a character and ingest again")
    return out


def exact_top(vectors: Matrix, queries: Matrix, k: int) -> npt.NDArray[np.float32]:
    """The k-th best exact score of each query over `vectors` (blocks of 65,536 rows at a time,
    each block's best k selected in place: a copy of a block outweighs a 100k-row HNSW graph)."""
    k = min(k, len(vectors))
    best = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    for start in range(0, len(vectors), 65_536):
        block = queries @ vectors[start : start + 65_536].T
        if block.shape[1] > k:
            block.partition(block.shape[1] - k, axis=1)
            block = block[:, block.shape[1] - k :]
        best = np.concatenate([best, block], axis=1)
        if best.shape[1] > k:
            best = -np.partition(-best, k - 1, axis=1)[:, :k]
    kth: npt.NDArray[np.float32] = best.min(axis=1)
    return kth


def measure_recall(store: VectorStore, vectors: Matrix, ids: Ids, k: int = 10, sample: int = RECALL_QUERIES) -> float:
    """recall@k of `store` against exact search over `vectors` (row i has id ids[i]): with up to
    `sample` stored vectors as queries, the share of the k ids found whose exact score reaches
    the k-th best exact score (ties count as found, so duplicate texts cost nothing)."""
    if not len(vectors):
        return 1.0
    k = min(k, len(vectors))
    rows = np.random.default_rng(0).choice(len(vectors), size=min(sample, len(vectors)), replace=False)
    queries = vectors[rows]
    kth = exact_top(vectors, queries, k)
    _, found = store.search(queries, k)
    order = np.argsort(ids)
    place = np.searchsorted(ids, found, sorter=order).clip(0, len(ids) - 1)
    known = (found >= 0) & (ids[order[place]] == found)
    pos = order[place]
    scores = np.einsum("qd,qkd->qk", queries, vectors[pos])
    hits = known & (scores >= kth[:, None] - 1e-5)
    return float(hits.sum() / (k * len(queries)))


def tune_recall(store: VectorStore, vectors: Matrix, ids: Ids) -> float:
    """recall@10 of `store` (1.0 for an exact one); for HNSW, efSearch is doubled until the
    recall reaches RECALL_TARGET or EF_MAX."""
    if store.exact:
        return 1.0
    recall = measure_recall(store, vectors, ids)
    while recall < RECALL_TARGET and store.ef_search < EF_MAX:
        store.ef_search *= 2
        recall = measure_recall(store, vectors, ids)
    return round(recall, 4)


def collection_for(target: Path, embedder: str) -> str:
    """The Milvus collection of a new index at `target`: `ragqa_` and a hash of the host, the
    folder and the embedder, so two indexes never share one by accident."""
    key = f"{socket.gethostname()}|{target.absolute()}|{embedder}"
    return MilvusStore.PREFIX + hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def _quote(text: str) -> str:
    """`text` as a string literal of a Milvus boolean expression."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def shown_uri(uri: str) -> str:
    """`uri` without user and password, as it may be written to a file or a message."""
    if uri.endswith(".db"):
        return str(Path(uri).absolute())
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@contextmanager
def _failures(message: str) -> Iterator[None]:
    """Turns an error of pymilvus or its gRPC connection into IndexUnavailable (a 503 in the API)
    that says what failed, where, and what to check."""
    try:
        yield
    except (IndexUnavailable, ValueError):
        raise
    except Exception as exc:
        if type(exc).__module__.split(".")[0] in ("pymilvus", "grpc") or isinstance(exc, OSError):
            raise IndexUnavailable(f"{message}: {exc}; check RAGQA_MILVUS_URI and that Milvus is running") from exc
        raise


class MilvusStore:
    """A Milvus collection through pymilvus' `MilvusClient`: fields id (INT64 primary key),
    vector (FLOAT_VECTOR, metric IP), doc and kind (VARCHAR). FLAT (exact) up to `hnsw_above` rows,
    HNSW (M=32, efConstruction 200) above, switched when an add or delete crosses the threshold. Created with Strong
    consistency, so a search sees every write made before it, from any process.

    milvus-lite keeps new rows in a memory table that it searches row by row until they are
    flushed, so an add to a local `.db` flushes; a server seals segments itself (and limits
    flushes), so there an add does not."""

    PREFIX = "ragqa_"
    FILE = "milvus.json"
    BATCH = 512  # rows per insert or per `id in [...]` expression
    DOC_BYTES = 4096

    def __init__(self, uri: str, collection: str, dim: int, token: str = "", hnsw_above: int = HNSW_ABOVE, ef_search: int = EF_SEARCH,
                 create: bool = True, embedder: str = "") -> None:  # fmt: skip
        if not re.fullmatch(f"{self.PREFIX}[A-Za-z0-9_]+", collection):
            raise ValueError(f"collection name {collection!r} must start with {self.PREFIX!r} and hold only letters, digits and '_'")
        self.uri, self.collection, self.dim, self.hnsw_above, self.ef_search = uri, collection, dim, hnsw_above, ef_search
        self.embedder = embedder
        self.local = uri.endswith(".db")
        try:
            from pymilvus import MilvusClient
        except ImportError as exc:
            raise IndexUnavailable("RAGQA_STORE=milvus needs pymilvus and milvus-lite: pip install -e '.[milvus]' in the ragqa checkout") from exc
        with self._errors("connect to"):
            if self.local:
                Path(uri).absolute().parent.mkdir(parents=True, exist_ok=True)
            self.client = MilvusClient(uri=str(Path(uri).absolute()) if self.local else uri, token=token)
            if not self.client.has_collection(collection):
                if not create:
                    raise IndexUnavailable(f"Milvus at {shown_uri(uri)} has no collection {collection}; re-ingest: ragqa ingest PATH --index FOLDER")
                self._create()
            self._check_built_by()
            self._index = str(self.client.describe_index(collection, "vector").get("index_type", "FLAT"))
            self.client.load_collection(collection)

    @classmethod
    def load(cls, folder: Path, config: StoreConfig, hnsw_above: int = HNSW_ABOVE) -> MilvusStore:
        """The collection `folder` was built with, at `config.milvus_uri` or else where it was built."""
        saved = json.loads((folder / cls.FILE).read_text())
        uri = config.milvus_uri or str(saved["uri"])
        built_by = str(json.loads((folder / "manifest.json").read_text()).get("embedder", "")) if (folder / "manifest.json").is_file() else ""
        return cls(uri, str(saved["collection"]), int(saved["dim"]), config.milvus_token, hnsw_above, int(saved["ef_search"]), create=False,
                   embedder=built_by)  # fmt: skip

    def _errors(self, what: str) -> AbstractContextManager[None]:
        busy = " (a milvus-lite file is open in one process at a time: is another ragqa using it?)" if self.local else ""
        return _failures(f"could not {what} Milvus at {shown_uri(self.uri)}{busy} (collection {self.collection})")

    def _create(self) -> None:
        from pymilvus import DataType

        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("doc", DataType.VARCHAR, max_length=self.DOC_BYTES)
        schema.add_field("kind", DataType.VARCHAR, max_length=64)
        built_by = {self.BUILT_BY: self.embedder} if self.embedder else None
        self.client.create_collection(self.collection, schema=schema, index_params=self._index_params("FLAT"), consistency_level="Strong",
                                      properties=built_by)  # fmt: skip

    def _index_params(self, index: str) -> Any:
        params = self.client.prepare_index_params()
        extra = {"M": 32, "efConstruction": 200} if index == "HNSW" else {}
        params.add_index(field_name="vector", index_type=index, metric_type="IP", params=extra)
        return params

    BUILT_BY = "ragqa.embedder"  # the collection property naming the embedder of its vectors

    def _check_built_by(self) -> None:
        """The collection holds vectors of this store's dimension and, when both are known, of its
        embedder (a collection property ragqa sets when it creates the collection)."""
        described = self.client.describe_collection(self.collection)
        dims = [int(f.get("params", {}).get("dim", 0)) for f in described.get("fields", []) if f.get("name") == "vector"]
        if dims != [self.dim]:
            raise IndexUnavailable(f"collection {self.collection} at {shown_uri(self.uri)} holds vectors of {dims} dimensions, "
                                   f"not {self.dim}; drop it or build into another index folder")  # fmt: skip
        built = str((described.get("properties") or {}).get(self.BUILT_BY, ""))
        if self.embedder and built and built != self.embedder:
            raise IndexUnavailable(f"collection {self.collection} at {shown_uri(self.uri)} holds vectors of the embedder {built}, "
                                   f"not {self.embedder}; re-ingest: ragqa ingest PATH --index FOLDER")  # fmt: skip

    def _reloading(self, call: Callable[[], T]) -> T:
        """`call()`, and once more after loading the collection when Milvus says it is not loaded:
        a Milvus that restarted (or a collection another client released) serves again without
        restarting ragqa."""
        try:
            return call()
        except Exception as exc:
            if "load" not in str(exc).lower() or type(exc).__module__.split(".")[0] != "pymilvus":
                raise
            self.client.load_collection(self.collection, timeout=SEARCH_TIMEOUT)
            return call()

    def health(self) -> str | None:
        """None when the collection answers (loading it again if Milvus restarted), else why not:
        `/healthz` reports it."""
        try:
            with self._errors("reach"):
                self._reloading(lambda: self.client.query(self.collection, filter="id < 0", output_fields=["id"], limit=1, timeout=HEALTH_TIMEOUT))
        except IndexUnavailable as exc:
            return str(exc)
        return None

    @property
    def kind(self) -> str:
        return f"milvus-{self._index.lower()}"

    @property
    def exact(self) -> bool:
        return self._index in ("FLAT", "BRUTE_FORCE")

    def add(self, ids: Ids, vectors: Matrix, docs: Sequence[str], kinds: Sequence[str]) -> None:
        ids, vectors = check_rows(ids, vectors, docs, kinds, self.dim)
        long = next((d for d in docs if len(d.encode("utf-8")) > self.DOC_BYTES), None)
        if long is not None:
            raise ValueError(f"document name {long[:80]!r}… is over {self.DOC_BYTES} bytes, more than the collection's doc field holds")
        with self._errors("write to"):
            for start in range(0, len(ids), self.BATCH):
                end = start + self.BATCH
                rows = [{"id": int(i), "vector": v.tolist(), "doc": d, "kind": k}
                        for i, v, d, k in zip(ids[start:end], vectors[start:end], docs[start:end], kinds[start:end], strict=True)]  # fmt: skip
                self.client.upsert(self.collection, rows)
            self._settle()

    def _settle(self) -> None:
        """Flush (milvus-lite) and switch between FLAT and HNSW when the row count crossed the threshold."""
        if self.local:
            self.client.flush(self.collection)
        wanted = "HNSW" if self.count() > self.hnsw_above else "FLAT"
        if wanted != self._index:
            self.client.release_collection(self.collection)
            self.client.drop_index(self.collection, "vector")
            self.client.create_index(self.collection, self._index_params(wanted))
            self.client.load_collection(self.collection)
            self._index = wanted

    def delete_document(self, doc: str) -> None:
        with self._errors("delete from"):
            self.client.delete(self.collection, filter=f"doc == {_quote(doc)}")
            self._settle()

    def retain(self, ids: Ids) -> None:
        """Deletes by id ranges: each expression names at most BATCH kept ids, however large the collection."""
        keep = np.unique(np.asarray(ids, dtype=np.int64))
        with self._errors("delete from"):
            if not len(keep):
                self.client.delete(self.collection, filter="id >= 0 or id < 0")
            for start in range(0, len(keep), self.BATCH):
                part = keep[start : start + self.BATCH]
                low = f"id >= {part[0]} and " if start else ""
                high = f"id < {keep[start + self.BATCH]} and " if start + self.BATCH < len(keep) else ""
                self.client.delete(self.collection, filter=f"{low}{high}id not in [{','.join(map(str, part.tolist()))}]")
            self._settle()

    def contains(self, ids: Ids) -> npt.NDArray[np.bool_]:
        ids = np.asarray(ids, dtype=np.int64)
        found: set[int] = set()
        with self._errors("read from"):
            for start in range(0, len(ids), self.BATCH):
                part = ids[start : start + self.BATCH].tolist()
                rows = self.client.query(self.collection, filter=f"id in [{','.join(map(str, part))}]", output_fields=["id"], limit=len(part))
                found.update(int(r["id"]) for r in rows)
        return np.fromiter((int(i) in found for i in ids), dtype=bool, count=len(ids))

    def vectors(self, ids: Ids) -> Matrix:
        ids = np.asarray(ids, dtype=np.int64)
        got: dict[int, list[float]] = {}
        with self._errors("read from"):
            for start in range(0, len(ids), self.BATCH):
                rows = self.client.get(self.collection, ids=ids[start : start + self.BATCH].tolist(), output_fields=["vector"])
                got.update((int(r["id"]), r["vector"]) for r in rows)
        missing = [int(i) for i in ids if int(i) not in got]
        if missing:
            raise IndexUnavailable(f"collection {self.collection} has no row {missing[0]} ({len(missing)} missing); re-ingest")
        return np.asarray([got[int(i)] for i in ids], dtype=np.float32).reshape(len(ids), self.dim)

    def search(
        self, queries: Matrix, k: int, docs: frozenset[str] | None = None, kinds: frozenset[str] | None = None
    ) -> tuple[npt.NDArray[np.float32], Ids]:
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = min(k, 16_384)  # Milvus' largest top-k
        if k < 1 or (docs is not None and not docs) or (kinds is not None and not kinds) or not len(queries):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        terms = [f"{field} in [{', '.join(_quote(v) for v in sorted(values))}]" for field, values in (("doc", docs), ("kind", kinds)) if values]
        params: dict[str, Any] = {"metric_type": "IP"}
        if self._index == "HNSW":
            params["params"] = {"ef": max(self.ef_search, k)}
        with self._errors("search"):
            results = self._reloading(lambda: self.client.search(self.collection, data=[q.tolist() for q in queries], limit=k, filter=" and ".join(terms),
                                                                 output_fields=["id"], search_params=params, timeout=SEARCH_TIMEOUT))  # fmt: skip
        width = max((len(r) for r in results), default=0)
        scores = np.full((len(queries), width), -np.inf, dtype=np.float32)
        found = np.full((len(queries), width), -1, dtype=np.int64)
        for q, hits in enumerate(results):
            for j, hit in enumerate(hits):
                scores[q, j], found[q, j] = hit["distance"], hit["id"]
        return scores, found

    def count(self) -> int:
        with self._errors("count the rows of"):
            rows = self._reloading(lambda: self.client.query(self.collection, filter="", output_fields=["count(*)"]))
        return int(rows[0]["count(*)"]) if rows else 0

    def save(self, folder: Path) -> None:
        saved = {"collection": self.collection, "uri": shown_uri(self.uri), "dim": self.dim, "index": self._index, "ef_search": self.ef_search}
        (folder / self.FILE).write_text(json.dumps(saved, indent=2))

    def drop(self) -> None:
        """Remove the whole collection (an index that no longer uses it)."""
        with self._errors("drop a collection of"):
            self.client.drop_collection(self.collection)
