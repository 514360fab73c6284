"""Access control: who may read what (docs/access.md).

A small corpus of five documents in three groups (财务处, audit, hr) and one public document is
built with the real reader, chunker, FAISS and BM25 and the hash embedder. Each reader (no
header, 财务处, audit, hr) goes through every reading endpoint, and a forbidden document's name
and code word must appear in no response. Retrieval for a reader is compared with a fresh index
of only the documents that reader may read: the same passages in the same order, and the same
answer. `access_corpus`, `access_client`, `READERS`, `VISIBLE` and `assert_only_visible` are for
other test files too (the /v1/ask and /v1/chat/completions rows).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from ragqa.index.build import index_behind, ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.search import HIDDEN, FusionConfig, Searcher
from ragqa.index.store import load_index, read_manifest
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.model import parse_groups
from ragqa.ingest.readers import read_files
from ragqa.service.access import EVERYONE, Access
from ragqa.service.answering import list_answer
from ragqa.service.app import create_app
from ragqa.service.documents import prepare_index
from ragqa.service.pipeline import Pipeline
from ragqa.service.retrieval import VIEWS, Retrieval, Snapshot

from .conftest import settings_for

HEADER = "X-Ragqa-Groups"
KEY = "access-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def _pdf(text: bytes) -> bytes:
    """A one-page PDF with one line of Helvetica text, written by hand."""
    content = b"BT /F1 18 Tf 72 700 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _plan(title: str, leader: str, word: str, unit: str, amount: str) -> str:
    """A responsibility breakdown whose tasks name `word` (the document's code word) and `unit`."""
    return (
        f"某市2024年{title}工作要点\n\n一、{leader}市长牵头的重点工作\n\n"
        f"1.推进{word}工程建设，全年投入资金{amount}万元，年底前完成主体工程。\n\n责任单位：{unit}、市发改局\n\n"
        f"2.建立{word}工程月度调度机制，按月报送进度。\n\n责任单位：{unit}\n"
    )


# doc -> (text or PDF bytes, code word found only in it)
DOCS: dict[str, tuple[str | bytes, str]] = {
    "公开.txt": (_plan("城市绿化", "白明", "白鹭", "市园林局", "1200"), "白鹭"),
    "财务.txt": (_plan("财政预算", "青山", "青鸾", "市财政局", "3800"), "青鸾"),
    "人事.txt": (_plan("人才引进", "朱林", "朱雀", "市人社局", "2600"), "朱雀"),
    "audit/审计.txt": (_plan("专项审计", "玄青", "玄武", "市审计局", "900"), "玄武"),
    "audit/报告.pdf": (_pdf(b"Zenith audit report of the year"), "Zenith"),
}
# who may read which document: a sidecar for 财务 and 人事 (one group per line there), a folder rule for audit/
GROUP_FILES = {"财务.txt.groups": "财务处\n", "人事.txt.groups": "# two groups\nhr\n财务处\n", "audit/.groups": "audit\n"}
READERS: dict[str, str | None] = {"anonymous": None, "finance": "财务处", "audit": "audit", "hr": "hr"}
VISIBLE: dict[str, set[str]] = {
    "anonymous": {"公开.txt"},
    "finance": {"公开.txt", "财务.txt", "人事.txt"},
    "audit": {"公开.txt", "audit/审计.txt", "audit/报告.pdf"},
    "hr": {"公开.txt", "人事.txt"},
}
QUESTIONS = ["青鸾工程全年投入资金多少万元？", "玄武工程建设年底前完成什么？", "朱雀工程月度调度机制", "白鹭工程全年投入资金多少？", "市发改局配合哪些工作？",
             "市审计局牵头哪些重点工作？", "Zenith audit report"]  # fmt: skip


def access_corpus(root: Path, docs: set[str] | None = None, group_files: bool = True) -> Path:
    """Write the access corpus (only `docs` when given) and its group files under `root`."""
    for name, (body, _) in DOCS.items():
        if docs is not None and name not in docs:
            continue
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    for name, text in GROUP_FILES.items() if group_files else ():
        if (root / name).parent.exists():
            (root / name).write_text(text, encoding="utf-8")
    return root


def build_access_index(folder: Path) -> Path:
    """The access corpus ingested as `ragqa ingest` does (with its document store); the index path."""
    corpus = access_corpus(folder / "corpus")
    index = folder / "index"
    ingest_paths([corpus], index, HashEmbedder(64), store=DocumentStore(folder / "index.data"))
    return index


def access_client(index: Path, trusted: bool = True, **settings: Any) -> TestClient:
    """An app over `index` that reads groups from `HEADER` (unless not `trusted`), with the admin key `KEY`."""
    header = {"trusted_groups_header": HEADER} if trusted else {}
    config = settings_for(index, admin_key=KEY, **header, **settings)
    return TestClient(create_app(config, Pipeline.from_settings(config)))


def reader_headers(reader: str) -> dict[str, bytes]:
    """The proxy header of `reader` (UTF-8 bytes, as nginx passes them), none for anonymous."""
    value = READERS[reader]
    return {} if value is None else {HEADER: value.encode("utf-8")}


def assert_only_visible(text: str, reader: str) -> None:
    """No name or code word of a document `reader` may not read occurs in `text`."""
    for doc, (_, word) in DOCS.items():
        if doc not in VISIBLE[reader]:
            assert word not in text and doc not in text and doc.rsplit("/", 1)[-1] not in text, (reader, doc)


def _access(reader: str) -> Access:
    value = READERS[reader]
    return Access.from_header(value)


@pytest.fixture(scope="module")
def access_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_access_index(tmp_path_factory.mktemp("access"))


@pytest.fixture(scope="module")
def client(access_index: Path) -> Iterator[TestClient]:
    with access_client(access_index) as c:
        yield c


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    """Per reader: a snapshot of a fresh index built from only the documents it may read."""
    out = {}
    for reader, docs in VISIBLE.items():
        folder = tmp_path_factory.mktemp(f"fresh-{reader}")
        ingest_paths([access_corpus(folder / "corpus", docs, group_files=False)], folder / "index", HashEmbedder(64))
        out[reader] = Retrieval(load_index(folder / "index"), HashEmbedder(64), FusionConfig()).current
    return out


# ---------------------------------------------------------------- groups from files, the index and the store


def test_group_files_give_each_document_its_groups(access_index: Path) -> None:
    groups = {doc: d.groups for doc, d in load_index(access_index).documents.items()}
    assert groups == {"公开.txt": (), "财务.txt": ("财务处",), "人事.txt": ("hr", "财务处"), "audit/审计.txt": ("audit",), "audit/报告.pdf": ("audit",)}
    manifest = read_manifest(access_index)
    assert manifest["format"] == 3 and manifest["groups"] == {d: list(g) for d, g in groups.items() if g}
    assert DocumentStore(access_index.parent / "index.data").group_map() == manifest["groups"]


def test_the_nearest_folder_rule_wins_and_a_sidecar_beats_it(tmp_path: Path) -> None:
    for name in ("a.txt", "x/b.txt", "x/y/c.txt", "x/y/d.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("第一条 本市设立档案馆。\n", encoding="utf-8")
    (tmp_path / "x" / ".groups").write_text("outer，second\n", encoding="utf-8")
    (tmp_path / "x" / "y" / ".groups").write_text("inner\n", encoding="utf-8")
    (tmp_path / "x" / "y" / "d.txt.groups").write_text("own, other\n", encoding="utf-8")
    read, skipped = read_files([tmp_path])
    assert not skipped
    assert {d.doc_id: d.groups for d, _ in read} == {"a.txt": (), "x/b.txt": ("outer", "second"), "x/y/c.txt": ("inner",), "x/y/d.txt": ("other", "own")}
    single, _ = read_files([tmp_path / "x" / "y" / "c.txt"])
    assert single[0][0].groups == ("inner",)


@pytest.mark.parametrize(
    ("content", "reason"),
    [(b"", "names no group"), (b"# only a comment\n", "names no group"), ("组" * 65, "65 characters"), (b"\xff\xfe\x00\xd8", "unusable")],
)
def test_an_unusable_group_file_skips_its_documents_never_makes_them_public(tmp_path: Path, content: bytes | str, reason: str) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "secret.txt").write_text("第一条 机密事项。\n", encoding="utf-8")
    (tmp_path / "open.txt").write_text("第一条 公开事项。\n", encoding="utf-8")
    (tmp_path / "sub" / ".groups").write_bytes(content.encode() if isinstance(content, str) else content)
    read, skipped = read_files([tmp_path])
    assert [d.doc_id for d, _ in read] == ["open.txt"]
    assert len(skipped) == 1 and skipped[0].path.endswith("secret.txt") and reason in skipped[0].reason and "delete" in skipped[0].reason


@pytest.mark.parametrize(
    ("text", "groups"), [("a,b", ("a", "b")), (" b ，a, a,, ", ("a", "b")), ("", ()), ("财务处", ("财务处",)), ("Ａ", ("Ａ",))]
)
def test_group_names_parse(text: str, groups: tuple[str, ...]) -> None:
    assert parse_groups(text) == groups


@pytest.mark.parametrize(("text", "reason"), [("a\nb", "control character"), ("x" * 65, "65 characters"), ("a\u202eb", "control character")])
def test_bad_group_names_are_refused(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_groups(text)


def test_an_index_without_groups_loads_and_everything_is_public(hash_index: Path) -> None:
    index = load_index(hash_index)
    assert read_manifest(hash_index)["format"] == 3 and all(not d.groups for d in index.documents.values())
    snap = Retrieval(index, HashEmbedder(64), FusionConfig()).current
    assert snap.restricted(Access.of([])) is snap and snap.restricted(Access.of(["anything"])) is snap


def test_a_crash_between_committing_new_groups_and_the_swap_rebuilds_on_start(tmp_path: Path) -> None:
    index = build_access_index(tmp_path)
    store = DocumentStore(tmp_path / "index.data")
    assert not index_behind(store, index)
    catalog = json.loads(store.catalog_path.read_text(encoding="utf-8"))
    catalog["documents"]["公开.txt"]["groups"] = ["audit"]  # committed, then the process died before the swap
    store.catalog_path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    assert index_behind(store, index)
    prepare_index(settings_for(index), say=lambda _: None)
    assert load_index(index).documents["公开.txt"].groups == ("audit",) and not index_behind(store, index)


# ---------------------------------------------------------------- the restricted snapshot


def test_a_restricted_snapshot_holds_no_forbidden_text(access_index: Path) -> None:
    snap = Retrieval(load_index(access_index), HashEmbedder(64), FusionConfig()).current
    for reader in READERS:
        view = snap.restricted(_access(reader))
        index = view.index
        assert set(index.documents) == {d.doc_id for d in view.records.documents.values()} == VISIBLE[reader]
        assert {c.doc_id for c in index.chunks} <= VISIBLE[reader] | {""} and len(index.chunks) == len(snap.index.chunks)
        assert {r.doc_id for r in view.records.records} == VISIBLE[reader] - {"audit/报告.pdf"}
        everything = json.dumps(
            [[c.to_json() for c in index.chunks], [r.to_json() for r in view.records.records], [list(d.lines) for d in index.documents.values()],
             index.manifest], ensure_ascii=False,
        )  # fmt: skip
        assert_only_visible(everything, reader)
        assert set(index.keyword.df) <= set(snap.index.keyword.df) and index.keyword.n_docs == sum(c is not HIDDEN for c in index.chunks)


def test_views_are_kept_per_groups_that_matter_and_bounded(access_index: Path) -> None:
    snap = Retrieval(load_index(access_index), HashEmbedder(64), FusionConfig()).current
    audit = snap.restricted(Access.of(["audit"]))
    assert snap.restricted(Access.of(["audit", "no-such-group"])) is audit and snap.restricted(EVERYONE) is snap
    assert snap.restricted(Access.of(["audit", "财务处", "hr"])) is snap  # every document readable: the snapshot itself
    assert audit.restricted(Access.of(["财务处"])).index.documents.keys() == {"公开.txt"}  # a view narrows, never widens
    for n in range(VIEWS + 5):
        snap.restricted(Access.of(["audit", f"g{n}"]))
    assert len(snap._views) <= VIEWS


@pytest.mark.parametrize("reader", list(READERS))
def test_restricted_search_ranks_as_an_index_of_only_the_readable_documents(access_index: Path, fresh: dict[str, Snapshot], reader: str) -> None:
    snap = Retrieval(load_index(access_index), HashEmbedder(64), FusionConfig()).current.restricted(_access(reader))
    alone = fresh[reader]
    for question in QUESTIONS:
        got = [(h.chunk.doc_id, h.chunk.start_line, h.chunk.end_line, h.keyword_rank, h.dense_rank) for h in snap.search(question, 10)]
        want = [(h.chunk.doc_id, h.chunk.start_line, h.chunk.end_line, h.keyword_rank, h.dense_rank) for h in alone.search(question, 10)]
        assert got == want, (reader, question)
        assert {doc for doc, *_ in got} <= VISIBLE[reader]
    for token in ("青鸾", "玄武", "朱雀", "白鹭", "工程"):
        assert snap.index.keyword.idf(token) == pytest.approx(alone.index.keyword.idf(token))


@pytest.mark.parametrize("reader", list(READERS))
def test_answers_and_list_answers_are_those_of_an_index_of_only_the_readable_documents(
    access_index: Path, fresh: dict[str, Snapshot], reader: str
) -> None:
    pipe = Pipeline(settings_for(access_index), load_index(access_index), HashEmbedder(64))
    snap = pipe.retrieval.current.restricted(_access(reader))
    for question in QUESTIONS:
        got = pipe.answerer.answer(question, snap.search(question, 5), snap)
        want = pipe.answerer.answer(question, fresh[reader].search(question, 5), fresh[reader])
        assert (got.text, got.refused, got.citations, got.listing) == (want.text, want.refused, want.citations, want.listing), (reader, question)
        assert_only_visible(got.text + json.dumps([c.model_dump() for c in got.citations], ensure_ascii=False), reader)
    listed = list_answer("市发改局配合哪些工作？", snap)
    assert listed is not None and listed.listing is not None
    assert {c.doc for c in listed.citations} == VISIBLE[reader] - {"audit/报告.pdf"}


def test_a_forbidden_documents_words_are_unseen_words_for_the_reader(access_index: Path) -> None:
    snap = Retrieval(load_index(access_index), HashEmbedder(64), FusionConfig()).current
    hr = snap.restricted(_access("hr"))
    assert "玄武" in snap.index.keyword.df and "玄武" not in hr.index.keyword.df
    hits = hr.search("玄武", 5)
    assert hits and all(h.keyword_rank is None and h.chunk.doc_id in VISIBLE["hr"] for h in hits)  # only dense neighbours
    assert {h.chunk.doc_id for h in hr.restricted(Access.of([])).search("朱雀", 5)} == VISIBLE["anonymous"]
    assert not float(hr.index.keyword.scores("玄武 青鸾").max()) and float(snap.index.keyword.scores("玄武 青鸾").max())


def test_an_hnsw_index_searches_only_the_allowed_vectors(access_index: Path) -> None:
    folder = access_index.parent / "hnsw"
    if not folder.exists():
        ingest_paths([access_index.parent / "corpus"], folder, HashEmbedder(64), hnsw_above=0)
    index = load_index(folder)
    assert index.manifest["dense"] == "hnsw32-sq8"
    searcher = Searcher(index, HashEmbedder(64), FusionConfig(keyword_weight=0.0, dense_weight=1.0)).restricted(frozenset(VISIBLE["hr"]))
    hits = searcher.search("青鸾工程 玄武工程 资金", 20)
    assert hits and {h.chunk.doc_id for h in hits} <= VISIBLE["hr"]


# ---------------------------------------------------------------- every reading endpoint, per reader


def _not_found(response: Any, doc: str) -> None:
    assert response.status_code == 404, response.text
    assert response.json() == {"error": {"code": "not_found", "message": f"no document {doc!r}; GET /v1/documents lists them"}}


@pytest.mark.parametrize("reader", list(READERS))
def test_every_reading_endpoint_shows_only_the_readers_documents(client: TestClient, reader: str) -> None:
    headers = reader_headers(reader)
    seen: list[str] = []

    listed = client.get("/v1/documents", headers=headers)
    assert {d["doc"] for d in listed.json()["documents"]} == VISIBLE[reader]
    seen.append(listed.text)

    for doc in DOCS:
        lines = client.get(f"/v1/documents/{doc}/lines", headers=headers)
        page = client.get(f"/v1/documents/{doc}/pages/1.png", params={"line": 1}, headers=headers)
        if doc in VISIBLE[reader]:
            assert lines.status_code == 200 and lines.json()["doc"] == doc
            assert page.status_code == 200 if doc.endswith(".pdf") else page.json()["error"]["message"].endswith("GET its /lines instead")
        else:
            _not_found(lines, doc)  # word for word a missing document's answer, which echoes only the name asked for
            _not_found(page, doc)
    missing = client.get("/v1/documents/没有这个.txt/lines", headers=headers)
    _not_found(missing, "没有这个.txt")

    records = client.get("/v1/records", params={"page_size": 500}, headers=headers).json()
    assert {r["doc"] for r in records["records"]} == VISIBLE[reader] - {"audit/报告.pdf"} and records["total"] == len(records["records"])
    seen.append(json.dumps(records, ensure_ascii=False))
    for doc in DOCS.keys() - VISIBLE[reader]:
        assert client.get("/v1/records", params={"doc": doc}, headers=headers).json()["total"] == 0
    assert client.get("/v1/records", params={"unit": "市审计局"}, headers=headers).json()["total"] == (2 if reader == "audit" else 0)

    csv_body = client.get("/v1/records/export.csv", headers=headers)
    rows = list(csv.reader(io.StringIO(csv_body.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + records["total"]
    xlsx = load_workbook(io.BytesIO(client.get("/v1/records/export.xlsx", headers=headers).content), read_only=True)
    cells = [[str(c) for c in row] for row in xlsx.active.iter_rows(values_only=True)]  # type: ignore[union-attr]
    assert len(cells) == 1 + records["total"]
    seen += [csv_body.content.decode("utf-8-sig"), json.dumps(cells, ensure_ascii=False)]

    metrics = client.get("/metrics").text
    seen.append(metrics)
    for text in seen:
        assert_only_visible(text, reader)


def test_without_the_header_configured_a_forged_header_is_ignored(access_index: Path) -> None:
    with access_client(access_index, trusted=False) as open_app:
        everything = {d["doc"] for d in open_app.get("/v1/documents").json()["documents"]}
        forged = {d["doc"] for d in open_app.get("/v1/documents", headers={HEADER: "hr"}).json()["documents"]}
        assert everything == forged == set(DOCS)
        assert open_app.get("/v1/documents/audit/审计.txt/lines", headers={HEADER: "hr"}).status_code == 200


def test_with_the_header_configured_a_request_without_it_reads_public_documents_only(client: TestClient) -> None:
    assert {d["doc"] for d in client.get("/v1/documents").json()["documents"]} == VISIBLE["anonymous"]
    assert {d["doc"] for d in client.get("/v1/documents", headers={HEADER: " , "}).json()["documents"]} == VISIBLE["anonymous"]
    both = client.get("/v1/documents", headers={HEADER: "audit, hr"}).json()["documents"]
    assert {d["doc"] for d in both} == VISIBLE["audit"] | VISIBLE["hr"]


def test_two_copies_of_the_header_are_refused(client: TestClient) -> None:
    response = client.get("/v1/documents", headers=[(HEADER, "hr"), (HEADER, "audit")])
    assert response.status_code == 400 and "replace it, not append" in response.json()["error"]["message"]


@pytest.mark.parametrize("reader", list(READERS))
def test_healthz_counts_only_what_the_reader_may_read(client: TestClient, reader: str) -> None:
    body = client.get("/healthz", headers=reader_headers(reader)).json()
    assert body["documents"] == len(VISIBLE[reader]) < len(DOCS)
    everything = client.get("/healthz", headers={HEADER: "财务处,audit,hr".encode()}).json()
    assert body["chunks"] < everything["chunks"] and everything["documents"] == len(DOCS)
    assert_only_visible(json.dumps(body, ensure_ascii=False), reader)


# ---------------------------------------------------------------- uploads


def _upload(c: TestClient, name: str, text: str, groups: str | None = None) -> Any:
    data = {"groups": groups} if groups is not None else None
    return c.post("/v1/documents", files=[("files", (name, text.encode(), "text/plain"))], data=data, headers=AUTH)


@pytest.mark.parametrize(("groups", "reason"), [("a\nb", "control character"), ("x" * 65, "65 characters"), ("ok, " + "y" * 70, "70 characters")])
def test_an_upload_with_an_unusable_group_name_is_a_422_with_the_reason(client: TestClient, groups: str, reason: str) -> None:
    response = _upload(client, "新.txt", "第一条 新规定。\n", groups)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_request"
    assert reason in response.json()["error"]["message"]


def test_uploaded_groups_survive_an_incremental_upload_and_a_restart(tmp_path: Path) -> None:
    index = build_access_index(tmp_path)
    with access_client(index) as c:
        added = _upload(c, "纪检.txt", _plan("纪检监察", "黄河", "麒麟", "市纪委", "300"), "inspect, audit")
        assert added.status_code == 200 and added.json()["added"] == ["纪检.txt"]
        assert "纪检.txt" in {d["doc"] for d in c.get("/v1/documents", headers=reader_headers("audit")).json()["documents"]}
        assert "纪检.txt" not in {d["doc"] for d in c.get("/v1/documents", headers=reader_headers("hr")).json()["documents"]}
        assert _upload(c, "公告.txt", "第一条 公告事项。\n").json()["added"] == ["公告.txt"]  # an upload without groups: public
        replaced = _upload(c, "纪检.txt", "第一条 新版本。\n")  # would make 纪检.txt public: skipped, so nothing usable
        assert replaced.status_code == 400 and replaced.json()["error"]["code"] == "unreadable_document"
        assert "audit, inspect" in replaced.text and "groups field" in replaced.text
        assert "新版本" not in c.get("/v1/documents/纪检.txt/lines", headers=reader_headers("audit")).text
        assert _upload(c, "财务.txt", _plan("财政预算", "青山", "青鸾", "市财政局", "3900"), "hr").json()["added"] == ["财务.txt"]
    store = DocumentStore(tmp_path / "index.data")
    assert store.group_map()["纪检.txt"] == ["audit", "inspect"] and "公告.txt" not in store.group_map()
    assert not index_behind(store, index)
    with access_client(index) as restarted:
        groups = {doc: d.groups for doc, d in restarted.app.state.pipeline.index.documents.items()}  # type: ignore[attr-defined]
        assert groups["纪检.txt"] == ("audit", "inspect") and groups["人事.txt"] == ("hr", "财务处") and groups["公告.txt"] == ()
        assert groups["财务.txt"] == ("hr",) and groups["audit/审计.txt"] == ("audit",)
        _not_found(restarted.get("/v1/documents/纪检.txt/lines", headers=reader_headers("hr")), "纪检.txt")
        assert restarted.get("/v1/documents/财务.txt/lines", headers=reader_headers("hr")).status_code == 200
    shutil.rmtree(index.resolve())  # the index is lost: rebuilt from the store, groups and all
    index.unlink()
    prepare_index(settings_for(index), say=lambda _: None)
    assert load_index(index).documents["纪检.txt"].groups == ("audit", "inspect")


def test_re_ingesting_a_folder_applies_changed_group_files(tmp_path: Path) -> None:
    index = build_access_index(tmp_path)
    (tmp_path / "corpus" / "财务.txt.groups").unlink()
    (tmp_path / "corpus" / "audit" / ".groups").write_text("audit\nhr\n", encoding="utf-8")
    ingest_paths([tmp_path / "corpus"], index, HashEmbedder(64), store=DocumentStore(tmp_path / "index.data"))
    groups = {doc: d.groups for doc, d in load_index(index).documents.items()}
    assert groups["财务.txt"] == () and groups["audit/审计.txt"] == ("audit", "hr")
