"""Document management: add and delete documents, keep the store and the index in step.

Changes are serialised by one lock. Each is committed to the document store (durable) first,
then the index is updated beside the live one (index/update.py), swapped in, and published to `Retrieval`;
requests in flight finish on the snapshot they took. `prepare_index` runs before serving.

An uploaded file's name is its document's name, never rewritten: a name that cannot be one
(empty, with a folder, a control character or a bidirectional override, a leading dot, over 255
bytes) is refused with its reason (`check_upload_name`). A document is replaced by uploading a
file of the same name; the same file twice leaves one document. Names equal but for case or
Unicode form (Report.txt, report.txt) are one name (`name_key`): a second such file in one upload
is skipped (the first is kept), and a file whose name differs only so from an existing
document's is skipped naming that document, so neither ever replaces the other by surprise.
Stored files are named by hashes (ingest/docstore.py): no uploaded name reaches the file system.

Listing and lookup take the reader's `Access`: a document the reader may not read is neither
listed nor found, and its 404 is word for word a missing document's. An upload gives its files
the upload's groups; a document that has groups is replaced only by an upload that names groups
(possibly others), so a new version sent without them never makes it public by accident.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ragqa.index.build import build_index, index_behind, ingest_paths, rebuild_from_store
from ragqa.index.embedders import Embedder, make_embedder
from ragqa.index.store import Reuse, keep_store, load_index, read_manifest, remove_stale_builds
from ragqa.index.textstore import DocHead
from ragqa.index.vectors import store_config
from ragqa.ingest.docstore import Addition, DocumentStore
from ragqa.ingest.durable import crash_point
from ragqa.ingest.errors import ReadError
from ragqa.ingest.model import Document
from ragqa.ingest.readers import Skipped, read_document

from .access import EVERYONE, Access
from .errors import LastDocument, NotFound
from .retrieval import Retrieval
from .schemas import DocumentInfo
from .settings import Settings


@dataclass(frozen=True)
class Added:
    """What an upload did: the documents added or replaced, and the files skipped with their reasons."""

    added: list[str]
    skipped: list[Skipped]


class Documents:
    """The documents of one index: listing, lookup, add, delete."""

    def __init__(self, settings: Settings, retrieval: Retrieval, embedder: Embedder) -> None:
        self.settings = settings
        self.retrieval = retrieval
        self.embedder = embedder
        self.store = DocumentStore(settings.data_path)
        self._write_lock = threading.Lock()

    def listing(self, access: Access = EVERYONE) -> list[DocumentInfo]:
        """The documents `access` may read, by name (EVERYONE: the CLI and eval, in process)."""
        heads = self.retrieval.current.restricted(access).index.documents.heads
        return [DocumentInfo(doc=h.doc_id, title=h.title, lines=h.lines, chunks=h.chunks) for _, h in sorted(heads.items())]

    def get(self, doc: str, access: Access = EVERYONE) -> Document:
        """Document `doc`; NotFound, the same for a missing one as for one `access` may not read."""
        documents = self.retrieval.current.index.documents
        head = documents.heads.get(doc)
        if head is None or not access.allows(head.groups):
            raise NotFound(f"no document {doc!r}; GET /v1/documents lists them")
        return documents[doc]

    def add(self, files: list[tuple[str, Path]], groups: tuple[str, ...] | None = None) -> Added:
        """Add (or replace) documents from received files, readable by `groups` (None or empty:
        everyone), and rebuild the index; returns the names added and the files skipped, each
        with its reason (ReadError when none is usable). Without `groups`, a file that would
        replace a document that has groups is skipped, naming them.

        The originals are committed to the document store before the index is rebuilt, so a
        crash during the rebuild loses nothing: the next start rebuilds from the store."""
        new, skipped = _read_uploads(files)
        new = [Addition(replace(a.document, groups=groups or ()), a.source, a.origin) for a in new]
        if not new:
            raise ReadError(_reasons(skipped))
        with self._write_lock:
            heads = self.retrieval.current.index.documents.heads
            new = _without_case_clashes(new, heads, skipped)
            if not groups:
                new = _keeping_groups(new, heads, skipped)
            if not new:
                raise ReadError(_reasons(skipped))
            self._adopt_index_if_new()
            self.store.commit(new)
            crash_point("stored")
            self._change([a.document for a in new], set())
        return Added([a.document.doc_id for a in new], skipped)

    def delete(self, doc: str) -> None:
        with self._write_lock:
            heads = self.retrieval.current.index.documents.heads
            if doc not in heads:
                raise NotFound(f"no document {doc!r}; GET /v1/documents lists them")
            if len(heads) == 1:
                raise LastDocument("cannot delete the last document; an index needs at least one (upload another first)")
            self._adopt_index_if_new()
            self.store.commit(deletions=[doc])
            self._change([], {doc})

    def _adopt_index_if_new(self) -> None:
        """An index built before the store existed: its documents become the store's first content."""
        if not self.store.exists():
            self.store.adopt(self.retrieval.current.index.documents.values(), self.store.root / "adopting")
            shutil.rmtree(self.store.root / "adopting", ignore_errors=True)

    def _change(self, added: list[Document], removed: set[str]) -> None:
        """The live index with `added` (replacing documents of the same names) and without
        `removed`, built beside it and published. An exact FAISS index is updated at the cost of
        the changed documents (index/update.py); any other is built again from all documents,
        reusing what the live one computed (chunks and records of unchanged documents, vectors
        and tokens of unchanged chunks), so that too chunks, embeds and tokenises only the change."""
        from ragqa.index.update import update_index, why_not  # with scipy: a service that only answers never loads them

        target, live = self.settings.index_dir, self.retrieval.current.index
        budget, config = self.settings.token_budget, store_config(self.settings)
        built = None
        if why_not(live, self.embedder, budget) is None:
            built = update_index(live, target, added, removed, self.embedder, budget, self.settings.hnsw_above)
        if built is None:
            docs = {name: doc for name, doc in live.documents.items() if name not in removed}
            docs.update({doc.doc_id: doc for doc in added})
            build_index(sorted(docs.values(), key=lambda d: d.doc_id), target, self.embedder, budget, hnsw_above=self.settings.hnsw_above,
                        reuse=Reuse.of(live), store=keep_store(target, config))  # fmt: skip
        self.retrieval.publish(load_index(target, self.embedder.name, config))


def _read_uploads(files: list[tuple[str, Path]]) -> tuple[list[Addition], list[Skipped]]:
    """Each received file read into a document, or skipped with its reason: a bad name, a second
    file of one name (or of names that differ only in case) in the upload, an unreadable file."""
    new: list[Addition] = []
    skipped: list[Skipped] = []
    first: dict[str, str] = {}
    for name, path in files:
        try:
            check_upload_name(name)
            key = name_key(name)
            if key in first:
                raise ReadError(f"the upload has an earlier file named {first[key]!r} (names that differ only in case are one document); "
                                "the first is kept")
            first[key] = name
            new.append(Addition(read_document(path, name), path, "upload"))
        except ReadError as exc:
            skipped.append(Skipped(name[:255], str(exc)))
    return new, skipped


def _without_case_clashes(new: list[Addition], docs: Mapping[str, DocHead], skipped: list[Skipped]) -> list[Addition]:
    """`new` without the files whose names differ only in case from an existing document's (each
    is added to `skipped`); a file of exactly an existing document's name replaces it."""
    known = {name_key(doc): doc for doc in docs}
    kept = []
    for add in new:
        name = add.document.doc_id
        other = known.get(name_key(name), name)
        if name in docs or other == name:
            kept.append(add)
            continue
        skipped.append(Skipped(name, f"a document named {other!r} is already here, and names that differ only in case are one "
                                     f"document; upload the file as {other!r} to replace it, or delete {other!r} first"))
    return kept


def _keeping_groups(new: list[Addition], docs: Mapping[str, DocHead], skipped: list[Skipped]) -> list[Addition]:
    """`new` without the files that would replace a document that has groups (each is added to
    `skipped`, naming the groups): an upload without groups would make it public."""
    kept = []
    for add in new:
        old = docs.get(add.document.doc_id)
        if old is None or not old.groups:
            kept.append(add)
            continue
        skipped.append(Skipped(add.document.doc_id, f"this document is readable only by the groups {', '.join(old.groups)}; send them "
                                                    "again in the upload's groups field to replace it, or delete it first to make it public"))
    return kept


# Bidirectional embeddings, overrides and isolates: they make "报告\u202etxt.exe" show as "报告exe.txt".
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NAME_BYTES = 255


def name_key(name: str) -> str:
    """What makes two names one document name: equal after Unicode NFC and case folding."""
    return unicodedata.normalize("NFC", name).casefold()


def _reasons(skipped: list[Skipped]) -> str:
    return "; ".join(f"{s.path[:80]}: {s.reason}" for s in skipped) or "no files in the upload"


def check_upload_name(name: str) -> None:
    """ReadError unless `name` can be a document name as it is: not empty, no folder, no control
    character (C0, DEL, C1; NUL among them) or bidirectional override, no leading dot (hidden),
    at most 255 bytes."""
    shown = repr(name[:80]) + ("…" if len(name) > 80 else "")
    if not name:
        raise ReadError("a file without a name; give it one such as 通知.txt")
    if "/" in name or "\\" in name:
        raise ReadError(f"{shown} has a folder in it; upload files by their plain names (a document is replaced by name)")
    odd = next((c for c in name if unicodedata.category(c) in ("Cc", "Cs") or c in _BIDI_CONTROLS), None)
    if odd is not None:
        raise ReadError(f"{shown} has a control character (U+{ord(odd):04X}) in it; rename the file")
    if name.startswith("."):
        raise ReadError(f"{shown} is a hidden file's name (it starts with a dot); rename the file")
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_BYTES:
        raise ReadError(f"{shown} is {size} bytes long in UTF-8; a name may have {NAME_BYTES} (85 Chinese characters); rename the file")


def prepare_index(settings: Settings, seed: list[Path] | None = None, say: Callable[[str], None] = print) -> None:
    """Before serving: clear what a crash left, and make the index match the document store.

    First start: an existing index is adopted into the store; without one, `seed` (e.g. the
    sample corpus) is ingested. Later starts never re-seed: the store is the truth, and an index
    that is missing or behind it (a crash between commit and swap) is rebuilt from it."""
    store = DocumentStore(settings.data_path)
    for note in store.recover() + [f"removed unfinished build {b}" for b in remove_stale_builds(settings.index_dir)]:
        say(note)
    has_index = (settings.index_dir / "manifest.json").exists()
    if not store.exists():
        if has_index:
            say(f"document store {store.root}: starting it from the documents of {settings.index_dir}")
            with tempfile.TemporaryDirectory(dir=store.root.parent) as scratch:
                store.adopt(load_index(settings.index_dir, store=store_config(settings)).documents.values(), Path(scratch))
        elif seed:
            say(f"first start: ingesting {', '.join(map(str, seed))} into {store.root}")
            report = ingest_paths(seed, settings.index_dir, make_embedder(settings.embedder, settings.embed_threads),
                                  settings.token_budget, hnsw_above=settings.hnsw_above, store=store, vectors=store_config(settings))
            say(f"indexed {report.documents} documents into {report.chunks} chunks")
            return
        else:
            return
    if index_behind(store, settings.index_dir):
        built_with = read_manifest(settings.index_dir).get("embedder") if has_index else settings.embedder
        say(f"the index at {settings.index_dir} does not match the document store {store.root}; rebuilding it from the store")
        report = rebuild_from_store(store, settings.index_dir, make_embedder(str(built_with), settings.embed_threads),
                                    settings.token_budget, hnsw_above=settings.hnsw_above,
                                    vectors=keep_store(settings.index_dir, store_config(settings)))
        for skipped in report.skipped:
            say(f"skipped {skipped.path}: {skipped.reason}")
        say(f"rebuilt: {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f}s")
