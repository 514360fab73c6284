"""Chunk text, document lines and records on disk, read by id (issue 14): `text.sqlite`.

    chunks     id (= BM25 doc = dense row), doc (the document's position), the Chunk as JSON
    documents  pos, doc, title, sha256, groups, line and chunk counts (its head, kept in memory),
               and lines, pages and uncertain lines as JSON, read when the document is asked for
    records    id, doc (position), the Record as JSON
    record_keys  what list answers look records up by: kind:K, person:P and name:P (P folded;
               name: only names of two or more characters), unit:U (U a unit key)

A served index keeps in memory only what ranking needs for every chunk (the BM25 and vector
stores' numpy arrays) and one head per document; a chunk is read when it becomes a hit, a
document when a citation or a page needs its lines (the last `CACHED` documents stay), records
when a list answer goes through them. At a million chunks the JSON behind these is gigabytes,
which a Python list of `Chunk`s held in memory several times over.

One read-only connection per loaded index, shared under a lock (a read by id takes tens of
microseconds). A build folder never changes after its swap, and the open connection keeps
reading a folder that a later swap deleted, so a request in flight on an old snapshot still
finds its chunks.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.normalize import fold
from ragqa.ingest.records import Record
from ragqa.ingest.units import unit_key

FILE = "text.sqlite"
CACHED = 256  # documents kept decoded (a document's lines are what citations quote)
BATCH = 2000  # rows per read when going through a table
Mask = npt.NDArray[np.bool_]

_SCHEMA = """
CREATE TABLE documents (pos INTEGER PRIMARY KEY, doc TEXT NOT NULL UNIQUE, title TEXT NOT NULL, sha256 TEXT NOT NULL,
                        groups TEXT NOT NULL, lines INTEGER NOT NULL, chunks INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE chunks (id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE records (id INTEGER PRIMARY KEY, doc INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE record_keys (key TEXT NOT NULL, id INTEGER NOT NULL, doc INTEGER NOT NULL);
"""
_KEYS_INDEX = "CREATE INDEX record_keys_key ON record_keys (key)"


@dataclass(frozen=True)
class DocHead:
    """What is known of a document without reading its lines."""

    doc_id: str
    title: str
    sha256: str
    groups: tuple[str, ...]
    lines: int
    chunks: int
    pos: int


def write_text(path: Path, documents: Sequence[Document], chunks: Iterable[Chunk], records: Iterable[Record]) -> None:
    """Write `text.sqlite` at `path` (a new file): chunk i gets id i. ValueError when a chunk or
    record names a document not in `documents`."""
    pos = {doc.doc_id: i for i, doc in enumerate(documents)}
    counts = [0] * len(documents)
    db = _new_file(path)
    try:

        def counted(items: Iterable[Chunk]) -> Iterator[Chunk]:
            for chunk in items:
                if chunk.doc_id in pos:
                    counts[pos[chunk.doc_id]] += 1
                yield chunk

        _insert_rows(db, "chunks", counted(chunks), pos)
        _insert_rows(db, "records", records, pos)
        db.executemany(_INSERT_DOCUMENT, (_document_row(i, d, counts[i]) for i, d in enumerate(documents)))
        db.execute(_KEYS_INDEX)
        db.commit()
    finally:
        db.close()


@dataclass(frozen=True)
class Moved:
    """A document of the live `text.sqlite` kept by `splice_text`: its rows move by these offsets."""

    old_pos: int
    new_pos: int
    chunk_shift: int
    record_shift: int


@dataclass(frozen=True)
class Added:
    """A document `splice_text` writes anew, with its chunks and records from these ids on."""

    pos: int
    document: Document
    chunks: Sequence[Chunk]
    records: Sequence[Record]
    first_chunk: int
    first_record: int


def splice_text(path: Path, live: Path, moved: Sequence[Moved], added: Sequence[Added]) -> None:
    """Write `text.sqlite` at `path` (a new file) from the live one at `live`: the rows of the
    `moved` documents copied by SQLite with their ids and positions shifted, the `added` ones
    written from Python. The other documents' chunks are never decoded, so the cost in Python is
    that of the added documents."""
    db = _new_file(path)
    try:
        db.execute("ATTACH DATABASE ? AS live", (f"{live.absolute().as_uri()}?mode=ro",))
        db.execute("CREATE TEMP TABLE moves (old INTEGER PRIMARY KEY, new INTEGER, chunk_shift INTEGER, record_shift INTEGER)")
        db.executemany("INSERT INTO moves VALUES (?, ?, ?, ?)", ((m.old_pos, m.new_pos, m.chunk_shift, m.record_shift) for m in moved))
        db.execute("INSERT INTO documents SELECT m.new, d.doc, d.title, d.sha256, d.groups, d.lines, d.chunks, d.body "
                   "FROM live.documents d JOIN moves m ON d.pos = m.old")  # fmt: skip
        db.execute("INSERT INTO chunks SELECT c.id + m.chunk_shift, m.new, c.data FROM live.chunks c JOIN moves m ON c.doc = m.old ORDER BY c.id")
        db.execute("INSERT INTO records SELECT r.id + m.record_shift, m.new, r.data FROM live.records r JOIN moves m ON r.doc = m.old ORDER BY r.id")
        db.execute("INSERT INTO record_keys SELECT k.key, k.id + m.record_shift, m.new FROM live.record_keys k JOIN moves m ON k.doc = m.old")
        for add in added:
            pos = {add.document.doc_id: add.pos}
            _insert_rows(db, "chunks", add.chunks, pos, add.first_chunk)
            _insert_rows(db, "records", add.records, pos, add.first_record)
            db.execute(_INSERT_DOCUMENT, _document_row(add.pos, add.document, len(add.chunks)))
        db.execute(_KEYS_INDEX)
        db.commit()
        db.execute("DETACH DATABASE live")
    finally:
        db.close()


_INSERT_DOCUMENT = "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


def _new_file(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
    return db


def _insert_rows(db: sqlite3.Connection, table: str, items: Iterable[Chunk | Record], pos: Mapping[str, int], first: int = 0) -> None:
    """Chunks or records as rows of `table` from id `first` on (and, for records, their keys);
    ValueError for one whose document has no position in `pos`."""
    keys: list[tuple[str, int, int]] = []

    def rows() -> Iterator[tuple[int, int, str]]:
        for i, item in enumerate(items, start=first):
            place = pos.get(item.doc_id)
            if place is None:
                raise ValueError(f"{type(item).__name__.lower()} {i} belongs to {item.doc_id!r}, which is not among the documents")
            if isinstance(item, Record):
                keys.extend((key, i, place) for key in record_keys(item))
            yield i, place, json.dumps(item.to_json(), ensure_ascii=False)

    db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", rows())
    db.executemany("INSERT INTO record_keys VALUES (?, ?, ?)", keys)


def _document_row(pos: int, d: Document, chunks: int) -> tuple[object, ...]:
    body = {"lines": list(d.lines), "pages": list(d.pages), "uncertain": list(d.uncertain)}
    return (pos, d.doc_id, d.title, d.sha256, json.dumps(list(d.groups), ensure_ascii=False), len(d.lines), chunks,
            json.dumps(body, ensure_ascii=False))  # fmt: skip


def record_keys(record: Record) -> set[str]:
    """The keys `RecordTable.having` finds `record` by."""
    keys = {f"kind:{record.kind}"}
    keys.update(f"person:{fold(p)}" for p in record.persons)
    keys.update(f"name:{fold(p)}" for p in record.persons if len(p) >= 2)
    keys.update(f"unit:{unit_key(u)}" for u in record.units)
    return keys


class TextStore:
    """The open `text.sqlite` of one index folder. sqlite3.Error (a DatabaseError) when it is missing or damaged."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise sqlite3.OperationalError(f"{path} is missing")
        self.path = path
        self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, Document] = OrderedDict()
        rows = self._query("SELECT pos, doc, title, sha256, groups, lines, chunks FROM documents ORDER BY pos")
        self.heads = {r[1]: DocHead(r[1], r[2], r[3], tuple(json.loads(r[4])), r[5], r[6], r[0]) for r in rows}
        self.names = list(self.heads)
        self.chunk_count = int(self._query("SELECT count(*) FROM chunks")[0][0])
        self.record_count = int(self._query("SELECT count(*) FROM records")[0][0])

    def _query(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            rows: list[tuple[Any, ...]] = self._db.execute(sql, args).fetchall()
        return rows

    def _by_id(self, table: str, ids: Sequence[int]) -> dict[int, str]:
        """id -> JSON of the rows of `table` ("chunks" or "records") with `ids`, 500 ids a query."""
        got: dict[int, str] = {}
        unique = list(dict.fromkeys(int(i) for i in ids))
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            rows = self._query(f"SELECT id, data FROM {table} WHERE id IN ({','.join('?' * len(part))})", part)
            got.update((int(str(r[0])), str(r[1])) for r in rows)
        return got

    def chunks(self, ids: Sequence[int]) -> list[Chunk]:
        """The chunks of `ids`, in that order; IndexError for an id the index does not have."""
        got = self._by_id("chunks", ids)
        missing = [int(i) for i in ids if int(i) not in got]
        if missing:
            raise IndexError(f"no chunk {missing[0]} in {self.path} ({self.chunk_count} chunks)")
        return [_chunk(got[int(i)]) for i in ids]

    @cached_property
    def chunk_docs(self) -> npt.NDArray[np.int32]:
        """Each chunk's document position, in chunk order (one pass over the table, on first use:
        a reader's view needs it)."""
        out = np.empty(self.chunk_count, dtype=np.int32)
        with self._lock:
            cursor = self._db.execute("SELECT id, doc FROM chunks ORDER BY id")
            while rows := cursor.fetchmany(65_536):
                got = np.asarray(rows, dtype=np.int64)
                out[got[:, 0]] = got[:, 1]
        return out

    def scan(self, table: str, docs: frozenset[int] | None = None) -> Iterator[tuple[int, str]]:
        """(id, JSON) of the rows of `table` ("chunks" or "records") in id order, `BATCH` at a
        time, only of the documents at positions `docs` when given."""
        if table not in ("chunks", "records"):
            raise ValueError(f"no table {table!r}")
        last = -1
        while True:
            rows = self._query(f"SELECT id, doc, data FROM {table} WHERE id > ? ORDER BY id LIMIT {BATCH}", (last,))
            if not rows:
                return
            for row in rows:
                if docs is None or row[1] in docs:
                    yield int(str(row[0])), str(row[2])
            last = int(str(rows[-1][0]))

    def records(self, ids: Sequence[int]) -> list[Record]:
        """The records of `ids`, in that order."""
        got = self._by_id("records", ids)
        return [Record.from_json(json.loads(got[int(i)])) for i in ids]

    def distinct_keys(self, low: str, high: str) -> list[str]:
        """The distinct record keys from `low` up to, not including, `high` (read off the key index)."""
        return [str(r[0]) for r in self._query("SELECT DISTINCT key FROM record_keys WHERE key >= ? AND key < ?", (low, high))]

    def keyed(self, low: str, high: str) -> list[tuple[str, int, int]]:
        """(key, record id, document position) of the record keys from `low` up to, not including, `high`."""
        return [(str(r[0]), int(r[1]), int(r[2])) for r in self._query("SELECT key, id, doc FROM record_keys WHERE key >= ? AND key < ?", (low, high))]

    def ranges(self, table: str) -> dict[int, tuple[int, int]] | None:
        """Document position -> (first id, count) of its rows in `table` ("chunks" or "records"),
        or None unless each document's rows are one run of ids, in document order (as builds
        write them)."""
        if table not in ("chunks", "records"):
            raise ValueError(f"no table {table!r}")
        rows = self._query(f"SELECT doc, min(id), max(id), count(*) FROM {table} GROUP BY doc ORDER BY doc")
        out, after = {}, 0
        for doc, low, high, count in rows:
            if high - low + 1 != count or low != after:
                return None
            out[int(doc)], after = (int(low), int(count)), int(high) + 1
        return out

    def record_docs(self) -> list[int]:
        """The positions of the documents that have records, in order."""
        return [int(r[0]) for r in self._query("SELECT DISTINCT doc FROM records ORDER BY doc")]

    def document(self, doc: str) -> Document:
        """Document `doc` with its lines (KeyError when the index has none of that name)."""
        with self._lock:
            found = self._cache.get(doc)
            if found is not None:
                self._cache.move_to_end(doc)
                return found
        head = self.heads[doc]
        body = json.loads(str(self._query("SELECT body FROM documents WHERE pos = ?", (head.pos,))[0][0]))
        found = Document(doc, head.title, tuple(body["lines"]), head.sha256, tuple(body["pages"]), tuple(body["uncertain"]), head.groups)
        with self._lock:
            self._cache[doc] = found
            while len(self._cache) > CACHED:
                self._cache.popitem(last=False)
        return found


class ChunkTable(Sequence[Chunk]):
    """The chunks of an index as a sequence read from its `TextStore` by position. With `mask`,
    a reader's view: chunks it may not read are `hidden` (same positions, so ids stay valid)."""

    def __init__(self, store: TextStore, mask: Mask | None = None, hidden: Chunk | None = None) -> None:
        if (mask is None) != (hidden is None):
            raise ValueError("a masked chunk table needs both the mask and the chunk that stands in for hidden ones")
        if mask is not None and len(mask) != store.chunk_count:
            raise ValueError(f"a mask of {len(mask)} for {store.chunk_count} chunks")
        self.store, self.mask, self.hidden = store, mask, hidden

    def __len__(self) -> int:
        return self.store.chunk_count

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return self.many(range(len(self))[i])
        if not -len(self) <= i < len(self):
            raise IndexError(f"chunk {i} of {len(self)}")
        return self.many([i % len(self)])[0]

    def many(self, ids: Sequence[int]) -> list[Chunk]:
        """The chunks at positions `ids`, read in one query."""
        found = self.store.chunks(ids)
        if self.mask is None or self.hidden is None:
            return found
        return [c if self.mask[i] else self.hidden for i, c in zip(ids, found, strict=True)]

    def __iter__(self) -> Iterator[Chunk]:
        for i, data in self.store.scan("chunks"):
            yield Chunk.from_json(json.loads(data)) if self.mask is None or self.mask[i] or self.hidden is None else self.hidden

    def doc_mask(self, docs: frozenset[str]) -> Mask:
        """Which chunks belong to `docs` (and to this view)."""
        wanted = np.array([name in docs for name in self.store.names], dtype=bool)
        mask: Mask = wanted[self.store.chunk_docs]
        return mask if self.mask is None else mask & self.mask

    def restricted(self, mask: Mask, hidden: Chunk) -> ChunkTable:
        return ChunkTable(self.store, mask if self.mask is None else mask & self.mask, hidden)


class DocumentTable(Mapping[str, Document]):
    """The documents of an index by name; each read with its lines when asked for (recent ones
    cached). `heads` has every document's title, groups and counts without reading lines."""

    def __init__(self, store: TextStore, names: Iterable[str] | None = None) -> None:
        self.store = store
        self.heads = store.heads if names is None else {n: store.heads[n] for n in names if n in store.heads}

    def __getitem__(self, doc: str) -> Document:
        if doc not in self.heads:
            raise KeyError(doc)
        return self.store.document(doc)

    def __iter__(self) -> Iterator[str]:
        return iter(self.heads)

    def __len__(self) -> int:
        return len(self.heads)

    def __contains__(self, doc: object) -> bool:
        return doc in self.heads

    def restricted(self, docs: frozenset[str]) -> DocumentTable:
        return DocumentTable(self.store, [d for d in self.heads if d in docs])


class RecordTable(Sequence[Record]):
    """The records of an index (of some documents, in a reader's view), read from its
    `TextStore` as they are gone through; none is held in memory."""

    def __init__(self, store: TextStore, docs: frozenset[str] | None = None) -> None:
        self.store, self.docs = store, docs
        self._positions = None if docs is None else frozenset(h.pos for d, h in store.heads.items() if d in docs)
        self._count = store.record_count if docs is None else -1

    def __len__(self) -> int:
        if self._count < 0:
            self._count = sum(1 for _ in self.store.scan("records", self._positions))
        return self._count

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> list[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | list[Record]:
        every = list(self)
        return every[i]

    def __iter__(self) -> Iterator[Record]:
        for _, data in self.store.scan("records", self._positions):
            yield Record.from_json(json.loads(data))

    def _allowed(self, rows: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
        return rows if self._positions is None else [r for r in rows if r[2] in self._positions]

    def keys(self, prefix: str) -> set[str]:
        """The keys (`record_keys`) starting with `prefix`, without it: `keys("name:")` is every
        person named by two or more characters, folded."""
        high = prefix + "\U0010ffff"
        if self._positions is None:
            return {key[len(prefix) :] for key in self.store.distinct_keys(prefix, high)}
        return {key[len(prefix) :] for key, _, _ in self._allowed(self.store.keyed(prefix, high))}

    def having(self, key: str) -> set[int]:
        """The ids of the records with `key` (`record_keys`)."""
        return {i for _, i, _ in self._allowed(self.store.keyed(key, key + "\x00"))}

    def read(self, ids: Iterable[int]) -> list[Record]:
        """The records of `ids` (of this view), in id order: the order they are gone through."""
        return self.store.records(sorted(ids))

    def documents(self) -> list[str]:
        """The documents that have records, in order."""
        names = self.store.names
        return [names[d] for d in self.store.record_docs() if self._positions is None or d in self._positions]

    def restricted(self, docs: frozenset[str]) -> RecordTable:
        return RecordTable(self.store, docs if self.docs is None else docs & self.docs)


@lru_cache(maxsize=4096)
def _chunk(data: str) -> Chunk:
    """A chunk from its stored JSON (cached by that text: a chunk is immutable, the chunks that
    answer recur, and decoding is a tenth of a search)."""
    return Chunk.from_json(json.loads(data))
