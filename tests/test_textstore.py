"""Chunks, documents and records on disk (index/textstore.py), read by id, and keyword top-k by
partial selection (index/search.py `top_positions`): the sample corpus's real chunks and records
round-trip through text.sqlite, records looked up by key select what a full scan selects, and
partial selection ranks exactly as a full stable sort."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from ragqa.index.search import HIDDEN, top_positions
from ragqa.index.textstore import ChunkTable, DocumentTable, RecordTable, TextStore, write_text
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.model import Chunk, Document
from ragqa.ingest.readers import read_files
from ragqa.ingest.records import Record, extract_records
from ragqa.service.listing import GLOSSARY, RESPONSIBILITY, RecordBook, RecordQuery, build_definition, build_listing
from ragqa.service.suggest import candidate_questions

from .conftest import SAMPLES


@pytest.fixture(scope="module")
def corpus() -> tuple[list[Document], list[Chunk], list[Record]]:
    read, skipped = read_files([SAMPLES])
    assert not skipped
    documents = [doc for doc, _ in read]
    documents.append(Document("术语.txt", "某市数字经济促进办法", ("某市数字经济促进办法", "第二条 本办法所称数字经济，是指以数据资源为关键生产要素的经济形态。",
                                                          "第三条 本办法所称数据资源，是指以电子形式记录的各类信息资源。")))  # glossary records
    documents[0] = Document(documents[0].doc_id, documents[0].title, documents[0].lines, "abc", (1,) * len(documents[0].lines), (2,), ("hr",))
    chunks = [c for doc in documents for c in chunk_document(doc, 350)]
    records = [r for doc in documents for r in extract_records(doc)]
    return documents, chunks, records


@pytest.fixture()
def store(tmp_path: Path, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> TextStore:
    documents, chunks, records = corpus
    write_text(tmp_path / "text.sqlite", documents, iter(chunks), iter(records))
    return TextStore(tmp_path / "text.sqlite")


def test_chunks_documents_and_records_round_trip(store: TextStore, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> None:
    documents, chunks, records = corpus
    table = ChunkTable(store)
    assert len(table) == len(chunks) and list(table) == chunks
    assert [table[i] for i in (0, 7, len(chunks) - 1, -1)] == [chunks[0], chunks[7], chunks[-1], chunks[-1]]
    assert table.many([5, 3, 5]) == [chunks[5], chunks[3], chunks[5]] and table[2:5] == chunks[2:5]
    docs = DocumentTable(store)
    assert list(docs) == [d.doc_id for d in documents] and all(docs[d.doc_id] == d for d in documents)
    first = documents[0]
    assert (docs[first.doc_id].pages, docs[first.doc_id].uncertain, docs[first.doc_id].groups) == (first.pages, (2,), ("hr",))
    head = docs.heads[first.doc_id]
    assert (head.title, head.sha256, head.lines, head.chunks) == (first.title, "abc", len(first.lines), sum(c.doc_id == first.doc_id for c in chunks))
    assert list(RecordTable(store)) == records and len(RecordTable(store)) == len(records) > 0


def test_a_missing_id_or_document_is_an_error(store: TextStore) -> None:
    table = ChunkTable(store)
    with pytest.raises(IndexError, match="no chunk"):
        table.many([0, len(table)])
    with pytest.raises(IndexError):
        table[len(table)]
    with pytest.raises(KeyError):
        DocumentTable(store)["no such.txt"]


def test_a_restricted_view_hides_other_documents_chunks_and_records(store: TextStore, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> None:
    documents, chunks, records = corpus
    allowed = frozenset({documents[1].doc_id, documents[3].doc_id})
    table = ChunkTable(store)
    mask = table.doc_mask(allowed)
    assert mask.tolist() == [c.doc_id in allowed for c in chunks]
    view = table.restricted(mask, HIDDEN)
    assert list(view) == [c if c.doc_id in allowed else HIDDEN for c in chunks]
    assert view.many([0, int(np.flatnonzero(mask)[0])]) == [HIDDEN if chunks[0].doc_id not in allowed else chunks[0], chunks[int(np.flatnonzero(mask)[0])]]
    narrower = view.doc_mask(frozenset({documents[1].doc_id, documents[0].doc_id}))
    assert narrower.tolist() == [c.doc_id == documents[1].doc_id for c in chunks]
    assert list(DocumentTable(store).restricted(allowed)) == [documents[1].doc_id, documents[3].doc_id]
    kept = RecordTable(store).restricted(allowed)
    assert list(kept) == [r for r in records if r.doc_id in allowed] and len(kept) == len(list(kept))


def test_an_open_store_reads_a_folder_a_later_build_deleted(tmp_path: Path, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> None:
    documents, chunks, records = corpus
    folder = tmp_path / "build"
    folder.mkdir()
    write_text(folder / "text.sqlite", documents, chunks, records)
    store = TextStore(folder / "text.sqlite")
    shutil.rmtree(folder)
    assert ChunkTable(store).many([1, 2]) == chunks[1:3] and DocumentTable(store)[documents[2].doc_id] == documents[2]


def test_a_chunk_of_an_unknown_document_is_refused(tmp_path: Path, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> None:
    documents, chunks, records = corpus
    with pytest.raises(ValueError, match="not among the documents"):
        write_text(tmp_path / "text.sqlite", documents[1:], chunks, records)


def test_partial_top_k_equals_a_full_stable_sort() -> None:
    rng = np.random.default_rng(7)
    for _ in range(2000):
        n = int(rng.integers(0, 80))
        scores = (rng.integers(-3, 6, size=n) * rng.choice([1.0, 0.25])).astype(np.float32)  # many ties and zeros
        for k in (0, 1, 3, 10, 50):
            full = [int(i) for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
            assert top_positions(scores, k) == full
    scores = rng.random(200_000).astype(np.float32)
    assert top_positions(scores, 50) == [int(i) for i in np.argsort(-scores, kind="stable")[:50]]


def test_records_looked_up_by_key_answer_as_a_full_scan(store: TextStore, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> None:
    documents, _, records = corpus
    table = RecordTable(store)
    on_disk = RecordBook(table, DocumentTable(store))
    in_memory = RecordBook(records, {d.doc_id: d for d in documents})
    assert on_disk.persons == in_memory.persons and on_disk.unit_keys == in_memory.unit_keys and on_disk.doc_ids == in_memory.doc_ids
    assert all(on_disk.title(d) == in_memory.title(d) for d in in_memory.doc_ids)
    units = sorted(in_memory.unit_keys)[:6]
    persons = sorted(in_memory.persons)[:3]
    queries = [RecordQuery(kind=RESPONSIBILITY), RecordQuery(kind=GLOSSARY), RecordQuery(), RecordQuery(persons=tuple(persons[:2])),
               RecordQuery(kind=RESPONSIBILITY, units=tuple(units[:2]), either=True), RecordQuery(units=tuple(units[1:3])),
               RecordQuery(kind=RESPONSIBILITY, units=(units[0],), role="lead", only=True), RecordQuery(doc=documents[2].doc_id)]
    queries += [RecordQuery(kind=RESPONSIBILITY, units=(u,), role=role) for u in units for role in ("lead", "co", "any")]
    assert any(in_memory.select(q) for q in queries[3:])
    for query in queries:
        assert on_disk.select(query) == in_memory.select(query)
    assert all(on_disk.unit_name(u) == in_memory.unit_name(u) for u in units)
    for question in ("市发改局牵头哪些重点工作？", "胡利群负责的民生实事有哪些？", "一共多少项任务由市经信局牵头？", "市财政局配合哪些工作？"):
        assert build_listing(question, on_disk) == build_listing(question, in_memory)
    glossary = [r for r in records if r.kind == GLOSSARY and len(r.number) >= 2]
    assert len(glossary) == 2
    for term in {r.number for r in glossary}:
        assert build_definition(f"{term}是指什么？", on_disk) is not None
        assert build_definition(f"{term}是指什么？", on_disk) == build_definition(f"{term}是指什么？", in_memory)
    allowed = frozenset(documents[i].doc_id for i in (1, 3))
    view = RecordBook(table.restricted(allowed), DocumentTable(store).restricted(allowed))
    assert view.doc_ids == [d for d in in_memory.doc_ids if d in allowed]
    assert view.select(RecordQuery(kind=RESPONSIBILITY)) == [r for r in in_memory.select(RecordQuery(kind=RESPONSIBILITY)) if r.doc_id in allowed]


def test_suggested_questions_read_only_the_chunks_they_need(store: TextStore, corpus: tuple[list[Document], list[Chunk], list[Record]]) -> None:
    documents, chunks, _ = corpus
    docs = {d.doc_id: d for d in documents}
    every = candidate_questions(chunks, docs)
    assert len({q for q in every}) > len(documents)  # several rounds of documents taking turns
    for limit in range(1, len(every) + 2):
        read: list[Chunk] = []
        assert candidate_questions((read.append(c) or c for c in ChunkTable(store)), docs, limit) == every[:limit]
        assert len(read) < len(chunks) or limit >= len({c.doc_id for c in chunks if c.clause_path})
