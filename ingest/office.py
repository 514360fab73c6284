"""Readers for office files: PDF with a text layer, Word (.docx) and Excel (.xlsx).

Each turns a file into the lines a person reads, so the chunker and the citations work as for
text files:

- **PDF** (pypdfium2, Apache-2.0/BSD): each page's text in the order the page draws it. Lines
  that repeat at the top or bottom of most pages (running headers, footers) and bare page
  numbers ("- 3 -", "第3页") are dropped. Every line knows its page (`PagedLines.pages`), and
  citations carry it. A page without a text layer (a scan) is read by OCR (`ingest/ocr.py`);
  lines it reads with low confidence are flagged. Images (.png, .jpg) are read by OCR too.
- **DOCX** (python-docx): paragraphs and tables in document order. Word's automatic
  numbering is not in the text runs, so it is rendered from the numbering definitions
  ("第%1条" with Chinese counting gives 第一条, "（%1）" gives （一）, decimal "%1." gives 1.).
  A table row becomes one line of tab-separated cells, which the chunker reads as a row.
- **XLSX** (openpyxl): each sheet's name, then one tab-separated line per non-empty row; the
  first row is the header the chunker pairs with each row.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from .errors import ReadError
from .model import PagedLines
from .ocr import UNCERTAIN_BELOW, ocr_image

# ---------------------------------------------------------------- PDF

_PAGE_NUMBER = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*[/／共]\s*\d{1,4}\s*页?)?[-—–\s]*$")
_EDGE = 2  # lines at the top and bottom of a page where running headers and footers live
_SCANNED_BELOW = 20  # a page with fewer characters of its own in its text layer is read by OCR


def read_pdf(data: bytes) -> PagedLines:
    """The text lines of a PDF with their page numbers; ReadError for a scan or a broken file."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ReadError(f"not a readable PDF ({exc})") from None
    confidence: dict[tuple[int, str], float] = {}
    try:
        pages = [_page_lines(pdf[i]) for i in range(len(pdf))]
        layer_running = _running_lines(pages)
        for i, lines_of_page in enumerate(pages):
            own = "".join(line for line in lines_of_page if _shape(line) not in layer_running and not _PAGE_NUMBER.match(line))
            if len(own.strip()) < _SCANNED_BELOW:  # (almost) no text of its own: a scanned page
                read = ocr_image(pdf[i].render(scale=2).to_numpy())
                pages[i] = [text for text, _ in read]
                confidence.update({(i, text): score for text, score in read})
    finally:
        pdf.close()
    if not any(pages):
        raise ReadError("no text in this PDF, not even by OCR")
    running = _running_lines(pages)
    lines: list[str] = []
    page_of: list[int] = []
    uncertain: list[int] = []
    for number, page in enumerate(pages, start=1):
        for i, line in enumerate(page):
            at_edge = i < _EDGE or i >= len(page) - _EDGE
            if at_edge and (_PAGE_NUMBER.match(line) or _shape(line) in running):
                continue
            lines.append(line)
            page_of.append(number)
            if confidence.get((number - 1, line), 1.0) < UNCERTAIN_BELOW:
                uncertain.append(len(lines))
    return PagedLines(lines, page_of, uncertain)


def read_image(data: bytes) -> PagedLines:
    """The lines OCR reads in a scanned page (.png, .jpg), as page 1."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # the OCR models expect BGR, as OpenCV reads
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ReadError(f"not a readable image ({exc})") from None
    read = ocr_image(pixels)
    if not read:
        raise ReadError("no text found in this image by OCR")
    return PagedLines([t for t, _ in read], [1] * len(read), [n for n, (_, score) in enumerate(read, start=1) if score < UNCERTAIN_BELOW])


def _page_lines(page: Any) -> list[str]:
    text = page.get_textpage().get_text_range()
    return [line.rstrip() for line in re.split(r"\r\n|\r|\n", text) if line.strip()]


def _shape(line: str) -> str:
    """A line with its digits blurred, so "第3页 共10页" on every page counts as one line."""
    return re.sub(r"\d+", "#", line.strip())


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Shapes of lines found at a page edge on at least half the pages (and on 3 or more)."""
    if len(pages) < 3:
        return set()
    seen: Counter[str] = Counter()
    for page in pages:
        seen.update({_shape(line) for line in page[:_EDGE] + page[-_EDGE:]})
    return {shape for shape, n in seen.items() if n >= max(3, len(pages) // 2)}


# ---------------------------------------------------------------- DOCX

_CHINESE_DIGITS = "零一二三四五六七八九"
_LEGAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_STEMS = "甲乙丙丁戊己庚辛壬癸"
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _chinese(n: int, digits: str = _CHINESE_DIGITS, ten: str = "十") -> str:
    """1..99 in Chinese counting (一, 十, 十一, 二十三); larger numbers digit by digit."""
    if n < 10:
        return digits[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return (digits[tens] if tens > 1 else "") + ten + (digits[ones] if ones else "")
    return "".join(digits[int(d)] for d in str(n))


def _roman(n: int) -> str:
    out = ""
    for value, glyph in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                         (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):
        count, n = divmod(n, value)
        out += glyph * count
    return out


def format_number(n: int, fmt: str) -> str:
    """Word's number format `fmt` (w:numFmt) applied to `n`."""
    if fmt in ("chineseCounting", "chineseCountingThousand", "taiwaneseCounting", "taiwaneseCountingThousand"):
        return _chinese(n)
    if fmt == "chineseLegalSimplified":
        return _chinese(n, _LEGAL_DIGITS, "拾")
    if fmt == "ideographTraditional":
        return _STEMS[(n - 1) % 10]
    if fmt == "decimalEnclosedCircle" or fmt == "decimalEnclosedCircleChinese":
        return chr(0x2460 + n - 1) if 1 <= n <= 20 else str(n)
    if fmt in ("upperLetter", "lowerLetter"):
        letter = chr(ord("A") + (n - 1) % 26)
        return letter if fmt == "upperLetter" else letter.lower()
    if fmt in ("upperRoman", "lowerRoman"):
        return _roman(n) if fmt == "upperRoman" else _roman(n).lower()
    if fmt == "decimalZero":
        return f"{n:02d}"
    return str(n)


class _Numbering:
    """Word's list numbering: definitions per (numId, level) and running counters."""

    def __init__(self, numbering: Any) -> None:
        self.levels: dict[tuple[str, int], tuple[str, str, int]] = {}
        self.counters: dict[str, list[int]] = {}
        if numbering is None:
            return
        abstract = {a.get(f"{_W}abstractNumId"): a for a in numbering.iter(f"{_W}abstractNum")}
        for num in numbering.iter(f"{_W}num"):
            num_id = num.get(f"{_W}numId")
            ref = num.find(f"{_W}abstractNumId")
            definition = abstract.get(ref.get(f"{_W}val")) if ref is not None else None
            for lvl in definition.iter(f"{_W}lvl") if definition is not None else []:
                self.levels[(num_id, int(lvl.get(f"{_W}ilvl", "0")))] = _level(lvl)
            for override in num.iter(f"{_W}lvlOverride"):
                start = override.find(f"{_W}startOverride")
                key = (num_id, int(override.get(f"{_W}ilvl", "0")))
                if start is not None and key in self.levels:
                    fmt, text, _ = self.levels[key]
                    self.levels[key] = (fmt, text, int(start.get(f"{_W}val", "1")))

    def label(self, num_id: str, ilvl: int) -> str:
        """The rendered number of the next paragraph at (num_id, ilvl), e.g. 第三条 or （二）."""
        if (num_id, ilvl) not in self.levels:
            return ""
        counters = self.counters.setdefault(num_id, [0] * 9)
        fmt, text, start = self.levels[(num_id, ilvl)]
        counters[ilvl] = max(counters[ilvl], start - 1) + 1
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        if fmt in ("bullet", "none"):
            return ""

        def value(m: re.Match[str]) -> str:
            level = int(m.group(1)) - 1
            level_fmt = self.levels.get((num_id, level), ("decimal", "", 1))[0]
            return format_number(counters[level] or 1, level_fmt)

        return re.sub(r"%([1-9])", value, text)


def _level(lvl: Any) -> tuple[str, str, int]:
    fmt = lvl.find(f"{_W}numFmt")
    text = lvl.find(f"{_W}lvlText")
    start = lvl.find(f"{_W}start")
    return (
        fmt.get(f"{_W}val", "decimal") if fmt is not None else "decimal",
        text.get(f"{_W}val", "") if text is not None else "",
        int(start.get(f"{_W}val", "1")) if start is not None else 1,
    )


def _num_pr(paragraph: Any) -> tuple[str, int] | None:
    """(numId, level) of a paragraph's numbering, its own or its style's (numId 0 = none)."""
    holders = [paragraph._p.pPr]
    style = paragraph.style
    while style is not None:
        holders.append(style.element.pPr)
        style = style.base_style
    for pPr in holders:
        num_pr = pPr.numPr if pPr is not None else None
        if num_pr is None or num_pr.numId is None:
            continue
        num_id = str(num_pr.numId.val)
        return (None if num_id == "0" else (num_id, int(num_pr.ilvl.val) if num_pr.ilvl is not None else 0))
    return None


def read_docx(data: bytes) -> list[str]:
    """The lines of a Word document: numbered paragraphs with their numbers, table rows as tab-joined cells."""
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReadError(f"not a readable .docx file ({exc})") from None
    try:
        numbering = _Numbering(document.part.numbering_part.element)
    except (KeyError, NotImplementedError):
        numbering = _Numbering(None)
    lines: list[str] = []
    for child in document.element.body.iterchildren():
        if child.tag == f"{_W}p":
            paragraph = Paragraph(child, document)
            text = paragraph.text.strip()
            where = _num_pr(paragraph)
            label = numbering.label(*where) if where else ""
            if text or label:
                gap = " " if label and not label.endswith(("、", ".", "．", "）", ")", "】", " ")) else ""
                lines.append(f"{label}{gap}{text}".strip())
        elif child.tag == f"{_W}tbl":
            lines.extend(_table_rows(Table(child, document)))
    return lines


def _table_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells: list[str] = []
        last = None
        for cell in row.cells:
            if cell._tc is last:  # a merged cell repeats; keep it once
                continue
            last = cell._tc
            cells.append(" ".join(cell.text.split()))
        if any(cells):
            yield "\t".join(cells)


# ---------------------------------------------------------------- XLSX


def read_xlsx(data: bytes) -> list[str]:
    """Each sheet's name, then one tab-separated line per non-empty row (header first)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReadError(f"not a readable .xlsx file ({exc})") from None
    lines: list[str] = []
    try:
        for sheet in book.worksheets:
            rows = [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
            rows = [r for r in rows if any(r)]
            if not rows:
                continue
            width = max(max((i for i, v in enumerate(r) if v), default=0) for r in rows) + 1
            lines.append(str(sheet.title))
            lines.extend("\t".join(r[:width] + [""] * (width - len(r))) for r in rows)
    finally:
        book.close()
    return lines


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())
