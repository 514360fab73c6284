"""Routes of records: GET /v1/records (JSON, paged) and its CSV / XLSX export.

The filters are those of a list answer (`listing.RecordQuery`), so the export link of a list
answer downloads exactly the rows it listed. Unit names are matched by their canonical key
(市发改局 = 发改局 = 市发展和改革局), persons and words in either script. Only the records of
documents the reader may read are searched and exported (docs/access.md).
"""

from __future__ import annotations

import csv
import io
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response
from ragqa.ingest.normalize import fold
from ragqa.ingest.records import Record
from ragqa.ingest.units import unit_key

from .deps import ERRORS, Pipe, Reader
from .listing import RecordBook, RecordQuery
from .schemas import ApiError, RecordOut, RecordsPage

router = APIRouter(tags=["records"])

KINDS = ("responsibility", "table_row", "article", "glossary")
EXPORT_MAX = 10_000
_VALUE = 200  # longest filter value


def _query(
    type: Annotated[str | None, Query(max_length=40, description=f"one of {', '.join(KINDS)}")] = None,
    person: Annotated[list[str] | None, Query(description="a leading official's name (repeatable: all must match)")] = None,
    unit: Annotated[list[str] | None, Query(description="a unit, full or short name (市发改局, 发改局); repeatable")] = None,
    role: Annotated[str, Query(pattern="^(lead|co|any)$", description="the unit's role: lead, co (co-operating) or any")] = "any",
    doc: Annotated[str | None, Query(max_length=_VALUE)] = None,
    group: Annotated[list[str] | None, Query(description="words that must occur in the row's headings")] = None,
    title: Annotated[list[str] | None, Query(description="words that must occur in the document's title")] = None,
    q: Annotated[list[str] | None, Query(description="words that must occur in the row's headings or text")] = None,
    either: bool = False,
    only: bool = False,
) -> RecordQuery:
    if type is not None and type not in KINDS:
        raise ApiError(400, "unknown_record_type", f"type must be one of {', '.join(KINDS)}, not {type[:40]!r}")
    lists = {"person": person, "unit": unit, "group": group, "title": title, "q": q}
    for name, values in lists.items():
        if values and any(len(v) > _VALUE for v in values):
            raise ApiError(400, "filter_too_long", f"a '{name}' value is longer than {_VALUE} characters")
    return RecordQuery(
        kind=type, persons=tuple(fold(p.strip()) for p in person or ()), units=tuple(unit_key(u) for u in unit or ()),
        role=role, doc=doc, groups=tuple(group or ()), titles=tuple(title or ()), terms=tuple(q or ()), either=either,
        only=only,
    )  # fmt: skip


def _out(record: Record, book: RecordBook) -> RecordOut:
    doc = book.documents.get(record.doc_id)
    return RecordOut(
        id=f"{record.doc_id}:{record.start_line}:{record.kind}", type=record.kind, doc=record.doc_id,
        title=doc.title if doc else "", group=list(record.group), number=record.number, text=record.text,
        fields=dict(record.fields), persons=list(record.persons), lead=list(record.lead), co=list(record.co),
        deadline=record.deadline, start_line=record.start_line, end_line=record.end_line,
        page=doc.page_of(record.start_line) if doc else None,
    )  # fmt: skip


@router.get("/v1/records", response_model=RecordsPage, responses=ERRORS)
def records(
    pipe: Pipe,
    reader: Reader,
    type: Annotated[str | None, Query(max_length=40, description=f"one of {', '.join(KINDS)}")] = None,
    person: Annotated[list[str] | None, Query(description="a leading official's name")] = None,
    unit: Annotated[list[str] | None, Query(description="a unit, full or short name (市发改局, 发改局)")] = None,
    role: Annotated[str, Query(pattern="^(lead|co|any)$", description="lead, co or any")] = "any",
    doc: Annotated[str | None, Query(max_length=_VALUE)] = None,
    group: Annotated[list[str] | None, Query(description="words of the row's headings")] = None,
    title: Annotated[list[str] | None, Query(description="words of the document's title")] = None,
    q: Annotated[list[str] | None, Query(description="words of the row's headings or text")] = None,
    either: Annotated[bool, Query(description="true: a row matches when any given unit does (default: all)")] = False,
    only: Annotated[bool, Query(description="true: the row's units are exactly the given ones")] = False,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
) -> RecordsPage:
    """Records (responsibility rows, table rows, articles, glossary entries) matching every
    filter given, in document order; a page past the end is empty. 例：?person=胡利群&role=lead"""
    book = pipe.retrieval.current.restricted(reader).records
    found = book.select(_query(type, person, unit, role, doc, group, title, q, either, only))
    start = (page - 1) * page_size
    return RecordsPage(total=len(found), page=page, page_size=page_size, records=[_out(r, book) for r in found[start : start + page_size]])


_COLUMNS = ["文档", "分组", "类型", "序号", "内容", "牵头领导", "牵头单位", "配合单位", "完成时限", "起始行", "结束行"]
_SKIP = {"牵头领导", "牵头单位", "配合单位", "完成时限"}


def _table(found: list[Record], book: RecordBook) -> tuple[list[str], list[list[str]]]:
    """Export columns (the fixed ones, then every other field name in order) and rows."""
    extra = list(dict.fromkeys(k for r in found for k, _ in r.fields if k not in _SKIP))
    rows = []
    for r in found:
        doc = book.documents.get(r.doc_id)
        fields = dict(r.fields)
        rows.append([
            doc.title if doc else r.doc_id, " › ".join(r.group), r.kind, r.number, r.text, "、".join(r.persons),
            "、".join(r.lead), "、".join(r.co), r.deadline, str(r.start_line), str(r.end_line),
            *[fields.get(k, "") for k in extra],
        ])  # fmt: skip
    return _COLUMNS + extra, rows


def _download(body: bytes, media: str, name: str) -> Response:
    return Response(body, media_type=media, headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})


@router.get("/v1/records/export.{fmt}", responses={**ERRORS, 200: {"content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export(
    fmt: str,
    pipe: Pipe,
    reader: Reader,
    type: Annotated[str | None, Query(max_length=40)] = None,
    person: Annotated[list[str] | None, Query()] = None,
    unit: Annotated[list[str] | None, Query()] = None,
    role: Annotated[str, Query(pattern="^(lead|co|any)$")] = "any",
    doc: Annotated[str | None, Query(max_length=_VALUE)] = None,
    group: Annotated[list[str] | None, Query()] = None,
    title: Annotated[list[str] | None, Query()] = None,
    q: Annotated[list[str] | None, Query()] = None,
    either: bool = False,
    only: bool = False,
) -> Response:
    """The records of the same filters as a spreadsheet: `export.csv` (UTF-8 with BOM, opens in
    Excel) or `export.xlsx`; at most 10,000 rows."""
    if fmt not in ("csv", "xlsx"):
        raise ApiError(404, "not_found", f"no export format {fmt[:20]!r}: use export.csv or export.xlsx")
    book = pipe.retrieval.current.restricted(reader).records
    found = book.select(_query(type, person, unit, role, doc, group, title, q, either, only))[:EXPORT_MAX]
    columns, rows = _table(found, book)
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(columns)
        writer.writerows(rows)
        return _download(("\ufeff" + text.getvalue()).encode("utf-8"), "text/csv; charset=utf-8", "ragqa-records.csv")
    from openpyxl import Workbook  # here, not at import: 0.1 s that only an export needs

    book_xlsx = Workbook(write_only=True)
    sheet = book_xlsx.create_sheet("records")
    sheet.append(columns)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book_xlsx.save(out)
    media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return _download(out.getvalue(), media, "ragqa-records.xlsx")
