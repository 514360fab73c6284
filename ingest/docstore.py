"""The document store: every indexed document's original file, kept apart from the index.

The index can always be rebuilt from the store, and an upload is committed to the store
(fsynced) before the index is rebuilt, so a crash at any later step loses nothing: the next
start finds the index behind the store and rebuilds it. The store is a folder you can `ls`::

    catalog.json   {doc: {file, sha256, bytes, origin, added_at[, groups]}}; the one commit point
    files/         the originals, named by a hash of the document name and of the content
    incoming/      uploads being received; whatever is left here after a crash is removed

`origin` is "upload" (POST /v1/documents), "ingest" (`ragqa ingest PATH`) or "index" (adopted
from an index built before the store existed; stored as its text lines). A document's
identity is the catalog's sha256, which the index manifest records too, so the two can be
compared without reading any file; so are its `groups` (who may read it, docs/access.md), kept
in the catalog only for documents that have some, so a store without groups reads as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from .durable import fsync_dir, fsync_file, write_durably
from .errors import ReadError, StoreDamaged
from .model import Document
from .readers import Skipped, read_document

CATALOG_FORMAT = 1
_SAFE_SUFFIX = re.compile(r"\.[a-z0-9]{1,12}")  # the reader is chosen by it; anything else is read as "no type"


@dataclass(frozen=True)
class StoredFile:
    """One catalog entry."""

    doc: str
    file: str
    sha256: str
    bytes: int
    origin: str
    added_at: str
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class Addition:
    """A document to commit: its parsed form, where its original bytes are, and where it came from."""

    document: Document
    source: Path
    origin: str


class DocumentStore:
    """Originals and their catalog under `root` (RAGQA_DATA_DIR)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = root / "files"
        self.incoming = root / "incoming"
        self.catalog_path = root / "catalog.json"

    def exists(self) -> bool:
        return self.catalog_path.exists()

    def entries(self) -> dict[str, StoredFile]:
        if not self.exists():
            return {}
        try:
            raw = json.loads(self.catalog_path.read_text(encoding="utf-8"))
            entries = {doc: StoredFile(doc=doc, **row) for doc, row in raw["documents"].items()}
            return {doc: replace(e, groups=tuple(str(g) for g in e.groups)) for doc, e in entries.items()}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreDamaged(f"the document store catalog {self.catalog_path} is damaged ({exc}); restore it from a backup") from exc

    def identities(self) -> dict[str, str]:
        """{doc: sha256}, what the index manifest's `corpus` must equal."""
        return {doc: entry.sha256 for doc, entry in self.entries().items()}

    def group_map(self) -> dict[str, list[str]]:
        """{doc: groups} of the documents that have groups, what the index manifest's `groups` must equal."""
        return {doc: list(entry.groups) for doc, entry in self.entries().items() if entry.groups}

    def new_incoming(self, name: str) -> Path:
        """A fresh path in incoming/ for an upload being received (same file system as files/)."""
        self.incoming.mkdir(parents=True, exist_ok=True)
        suffix = Path(name.replace("\x00", "")).suffix.lower()
        return self.incoming / f"{uuid.uuid4().hex}{suffix if _SAFE_SUFFIX.fullmatch(suffix) else ''}"

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time, across processes (`ragqa serve` and `ragqa ingest`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def commit(self, additions: Iterable[Addition] = (), deletions: Iterable[str] = (), *, replace_all: bool = False) -> None:
        """Add/replace and delete documents in one durable step; with `replace_all`, the catalog
        becomes exactly `additions` (deletions are ignored)."""
        with self._locked():
            entries = {} if replace_all else self.entries()
            for doc in deletions:
                entries.pop(doc, None)
            self.files.mkdir(parents=True, exist_ok=True)
            for add in additions:
                entries[add.document.doc_id] = self._store_file(add)
            fsync_dir(self.files)
            self._write_catalog(entries)
            self._drop_unreferenced(entries)

    def _store_file(self, add: Addition) -> StoredFile:
        doc = add.document
        name_key = hashlib.sha256(doc.doc_id.encode("utf-8")).hexdigest()[:16]
        file = f"{name_key}-{doc.sha256[:16]}{add.source.suffix.lower()}"
        target = self.files / file
        if add.source.parent == self.incoming:
            fsync_file(add.source)
            add.source.replace(target)
        elif not target.exists():
            write_durably(target, add.source.read_bytes())
        added = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        return StoredFile(doc.doc_id, file, doc.sha256, target.stat().st_size, add.origin, added, doc.groups)

    def _write_catalog(self, entries: dict[str, StoredFile]) -> None:
        rows = {doc: {k: v for k, v in e.__dict__.items() if k != "doc" and (k != "groups" or v)} for doc, e in sorted(entries.items())}
        data = json.dumps({"format": CATALOG_FORMAT, "documents": rows}, ensure_ascii=False, indent=1)
        write_durably(self.catalog_path, data.encode("utf-8"))

    def _drop_unreferenced(self, entries: dict[str, StoredFile]) -> list[str]:
        keep = {e.file for e in entries.values()}
        dropped = []
        for path in self.files.iterdir() if self.files.exists() else []:
            if path.name not in keep:
                path.unlink(missing_ok=True)
                dropped.append(path.name)
        return dropped

    def recover(self) -> list[str]:
        """Remove what a crash left behind: partial uploads and files no catalog names."""
        notes = []
        if self.incoming.exists():
            leftovers = list(self.incoming.iterdir())
            shutil.rmtree(self.incoming, ignore_errors=True)
            if leftovers:
                notes.append(f"removed {len(leftovers)} unfinished upload(s) from {self.incoming}")
        if self.exists():
            with self._locked():
                dropped = self._drop_unreferenced(self.entries())
            if dropped:
                notes.append(f"removed {len(dropped)} stored file(s) no catalog entry names")
        return notes

    def read_all(self) -> tuple[list[Document], list[Skipped]]:
        """Every stored document, parsed; a file that no longer reads is reported, not fatal."""
        docs, skipped = [], []
        for doc, entry in sorted(self.entries().items()):
            try:
                docs.append(replace(read_document(self.files / entry.file, doc), sha256=entry.sha256, groups=entry.groups))
            except ReadError as exc:
                skipped.append(Skipped(f"{doc} (stored as {entry.file})", str(exc)))
        return docs, skipped

    def adopt(self, documents: Iterable[Document], scratch: Path) -> None:
        """Start the store from an index built before it existed: each document's lines, as text."""
        additions = []
        scratch.mkdir(parents=True, exist_ok=True)
        for i, doc in enumerate(documents):
            path = scratch / f"{i}.txt"
            path.write_text("\n".join(doc.lines) + "\n", encoding="utf-8")
            additions.append(Addition(doc, path, "index"))
        self.commit(additions, replace_all=True)
