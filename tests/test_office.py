"""Word and Excel files in: numbering rendered as the reader sees it, tables as rows, and
answers that cite their exact lines through the HTTP API. (PDF: tests/browser/test_pdf_ingest.py,
which prints its PDFs with Chromium.)"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from fastapi.testclient import TestClient
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.errors import ReadError
from ragqa.ingest.office import format_number, read_docx, read_xlsx
from ragqa.ingest.readers import read_document
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline

from .conftest import settings_for

AUTH = {"Authorization": "Bearer office"}


def _legal_numbering(document: docx.document.Document) -> None:
    """Add Word numbering 90: level 0 "第%1条", level 1 "（%2）", both in Chinese counting."""
    levels = (("0", "第%1条"), ("1", "（%2）"))
    body = "".join(
        f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="chineseCounting"/><w:lvlText w:val="{text}"/></w:lvl>'
        for ilvl, text in levels
    )
    numbering = document.part.numbering_part.element
    numbering.insert(0, parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="90">{body}</w:abstractNum>'))
    numbering.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="90"><w:abstractNumId w:val="90"/></w:num>'))


def _numbered(document: docx.document.Document, text: str, level: int) -> None:
    num_pr = document.add_paragraph(text)._p.get_or_add_pPr().get_or_add_numPr()
    num_pr.get_or_add_ilvl().val = level
    num_pr.get_or_add_numId().val = 90


def make_docx() -> bytes:
    document = docx.Document()
    document.add_paragraph("某市公共数据管理办法")
    _legal_numbering(document)
    _numbered(document, "为规范公共数据管理，制定本办法。", 0)
    _numbered(document, "市数据局负责全市公共数据的统筹管理。", 0)
    _numbered(document, "公共数据目录每年更新一次。", 1)
    _numbered(document, "公共数据开放清单由市数据局发布。", 1)
    _numbered(document, "本办法自2025年3月1日起施行。", 0)
    _numbered(document, "过渡期内按原规定执行。", 1)
    table = document.add_table(rows=3, cols=3)
    for r, row in enumerate((("任务", "牵头单位", "完成时限"), ("数据归集", "市数据局", "2025年6月"), ("目录编制", "市发改委", "2025年9月"))):
        for c, text in enumerate(row):
            table.cell(r, c).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def make_xlsx() -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "重点任务"
    sheet.append(["序号", "任务", "责任单位", "资金（万元）"])
    sheet.append([1, "老旧小区改造", "市住建局", 1200.0])
    sheet.append([2, "城乡供水一体化", "市水务局", 860.5])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_word_numbering_is_rendered_as_written_and_restarts_under_each_article() -> None:
    lines = read_docx(make_docx())
    assert lines[:7] == [
        "某市公共数据管理办法",
        "第一条 为规范公共数据管理，制定本办法。",
        "第二条 市数据局负责全市公共数据的统筹管理。",
        "（一）公共数据目录每年更新一次。",
        "（二）公共数据开放清单由市数据局发布。",
        "第三条 本办法自2025年3月1日起施行。",
        "（一）过渡期内按原规定执行。",
    ]
    assert lines[7:] == ["任务\t牵头单位\t完成时限", "数据归集\t市数据局\t2025年6月", "目录编制\t市发改委\t2025年9月"]


def test_the_chunker_sees_articles_and_table_rows_of_a_word_file(tmp_path: Path) -> None:
    path = tmp_path / "办法.docx"
    path.write_bytes(make_docx())
    chunks = chunk_document(read_document(path, path.name))
    assert any(c.clause_path and c.clause_path[0].startswith("第二条") and "统筹管理" in c.text for c in chunks)
    row = next(c for c in chunks if c.kind == "table_row" and "目录编制" in c.text)
    assert "牵头单位" in row.context and row.start_line == row.end_line == 10


@pytest.mark.parametrize(("n", "fmt", "text"), [(1, "chineseCounting", "一"), (10, "chineseCounting", "十"), (12, "chineseCounting", "十二"),
                                                (23, "chineseCounting", "二十三"), (3, "chineseLegalSimplified", "叁"), (2, "ideographTraditional", "乙"),
                                                (4, "upperRoman", "IV"), (3, "lowerLetter", "c"), (5, "decimalEnclosedCircle", "⑤"), (7, "decimal", "7")])
def test_word_number_formats(n: int, fmt: str, text: str) -> None:
    assert format_number(n, fmt) == text


def test_excel_rows_become_table_rows_with_their_header() -> None:
    assert read_xlsx(make_xlsx()) == ["重点任务", "序号\t任务\t责任单位\t资金（万元）", "1\t老旧小区改造\t市住建局\t1200", "2\t城乡供水一体化\t市水务局\t860.5"]


def test_a_broken_office_file_is_a_read_error_with_its_reason(tmp_path: Path) -> None:
    for name in ("坏.docx", "坏.xlsx", "坏.pdf"):
        (tmp_path / name).write_bytes(b"PK\x03\x04 not really a zip")
        with pytest.raises(ReadError, match="not a readable"):
            read_document(tmp_path / name, name)


@pytest.fixture(scope="module")
def office_client(hash_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    base = tmp_path_factory.mktemp("office")
    shutil.copytree(hash_index.resolve(), base / "build")
    (base / "index").symlink_to(base / "build")
    settings = settings_for(base / "index", admin_key="office")
    with TestClient(create_app(settings, Pipeline.from_settings(settings))) as client:
        yield client


def test_uploaded_word_and_excel_files_are_answered_with_exact_citations(office_client: TestClient) -> None:
    files = [("files", ("数据管理办法.docx", make_docx(), "application/octet-stream")),
             ("files", ("重点任务表.xlsx", make_xlsx(), "application/octet-stream"))]
    response = office_client.post("/v1/documents", files=files, headers=AUTH)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["added"]) == ["数据管理办法.docx", "重点任务表.xlsx"]
    answer = office_client.post("/v1/ask", json={"question": "公共数据开放清单由哪个部门发布？"}).json()
    cited = [c for c in answer["citations"] if c["doc"] == "数据管理办法.docx"]
    assert cited and cited[0]["quote"] == "（二）公共数据开放清单由市数据局发布。" and cited[0]["page"] is None
    lines = office_client.get("/v1/documents/重点任务表.xlsx/lines", params={"start": 4, "end": 4}).json()["lines"]
    assert lines == [{"n": 4, "text": "2\t城乡供水一体化\t市水务局\t860.5", "page": None}]
    found = office_client.post("/v1/search", json={"query": "城乡供水一体化 责任单位", "top_k": 3}).json()["passages"]
    # the row is found, its line shown as in the sheet (with the rows around it; a sample clause on 城乡一体化供水 may rank beside it)
    row = "2\t城乡供水一体化\t市水务局\t860.5"
    assert any(
        p["doc"] == "重点任务表.xlsx" and p["match_start_line"] == p["match_end_line"] == 4 and row in p["text"].split("\n") for p in found
    ), found
