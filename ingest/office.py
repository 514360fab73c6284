"""Readers for office files: PDF with a text layer, Word (.docx) and Excel (.xlsx).

Each turns a file into the lines a person reads, so the chunker and the citations work as for
text files:

- **PDF** (pypdfium2, Apache-2.0/BSD): each page's text in the order the page draws it, except
  a page set in two columns whose lines are drawn across both, which is read column by column
  (`_column_order`, from the characters' boxes). A page that draws ruled lines is searched for
  tables by pdfplumber (MIT); a table of two rows and two columns or more becomes rows of
  tab-separated cells in its place, which the chunker and the records read as table rows. Lines
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

Hostile or damaged files are refused with a reason (`ReadError`), never read without bound: an
encrypted PDF is named as such; a page is rendered for OCR at no more than `OCR_MAX_PIXELS`; an
image over `IMAGE_MAX_PIXELS` is refused before it is decoded; a .docx/.xlsx whose zip directory
says it would inflate past `ZIP_MAX_TOTAL` (or a large part by more than `ZIP_MAX_RATIO` times)
is refused before python-docx or openpyxl open it (`check_zip`); a sheet's declared size is not
trusted, and a workbook is read up to `XLSX_MAX_CELLS` cells.
"""

from __future__ import annotations

import io
import logging
import math
import re
import statistics
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from .errors import ReadError
from .model import PagedLines
from .ocr import UNCERTAIN_BELOW, ocr_image

# ---------------------------------------------------------------- PDF

_PAGE_NUMBER = re.compile(r"^[-—–\s]*(?:第\s*)?\d{1,4}(?:\s*页)?(?:\s*[/／共]\s*\d{1,4}\s*页?)?[-—–\s]*$")
_EDGE = 2  # lines at the top and bottom of a page where running headers and footers live
_SCANNED_BELOW = 20  # a page with fewer characters of its own in its text layer is read by OCR
OCR_MAX_PIXELS = 16_000_000  # a scanned page is rendered at 2x, or smaller when that would be more pixels
IMAGE_MAX_PIXELS = 50_000_000  # an A4 page scanned at 600 dpi is 35 million


def read_pdf(data: bytes) -> PagedLines:
    """The text lines of a PDF with their page numbers; ReadError for a scan or a broken file."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ReadError(_pdf_refusal(exc, data)) from None
    confidence: dict[tuple[int, str], float] = {}
    tables = _Tables(data)
    try:
        pages = [tables.lines(i) or _page_lines(pdf[i]) if _has_rules(pdf[i]) else _page_lines(pdf[i]) for i in range(len(pdf))]
        layer_running = _running_lines(pages)
        for i, lines_of_page in enumerate(pages):
            own = "".join(line for line in lines_of_page if _shape(line) not in layer_running and not _PAGE_NUMBER.match(line))
            if len(own.strip()) < _SCANNED_BELOW:  # (almost) no text of its own: a scanned page
                read = ocr_image(_render_for_ocr(pdf[i]))
                pages[i] = [text for text, _ in read]
                confidence.update({(i, text): score for text, score in read})
    finally:
        pdf.close()
        tables.close()
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


def _pdf_refusal(exc: Exception, data: bytes) -> str:
    """Why PDFium would not open a file, in words an uploader can act on. PDFium sets its error
    code only for some failures (a wrong password, a format error); for others (no pages) the
    code is the last one of another file read on this thread, so "password" alone proves nothing:
    the file must also carry an /Encrypt dictionary, which every encrypted PDF has in the clear."""
    import pypdfium2.raw as pdfium_c

    unset = getattr(exc, "err_code", None) in (pdfium_c.FPDF_ERR_SUCCESS, pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY)
    if unset and b"/Encrypt" in data:
        return ("an encrypted (password-protected, 已加密) PDF: it cannot be read without its password; "
                "save or print it as a PDF without a password and upload that")
    if unset:
        return "not a readable PDF (it has no pages, or a page tree PDFium cannot follow)"
    return f"not a readable PDF ({exc})"


def _render_for_ocr(page: Any) -> Any:
    """A page as an array for OCR: at 2x, or at the scale that keeps it within OCR_MAX_PIXELS (a
    page can declare itself 5 m wide; rendered at 2x, that is 3 GB of pixels)."""
    width, height = page.get_size()
    scale = min(2.0, math.sqrt(OCR_MAX_PIXELS / max(float(width) * float(height), 1.0)))
    return page.render(scale=scale).to_numpy()


def read_image(data: bytes) -> PagedLines:
    """The lines OCR reads in a scanned page (.png, .jpg), as page 1."""
    import numpy as np
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > IMAGE_MAX_PIXELS:
                raise ReadError(f"an image of {image.width}x{image.height} pixels is over the limit of {IMAGE_MAX_PIXELS // 1_000_000} "
                                "million; scan at 300 dpi or scale it down")
            pixels = np.asarray(image.convert("RGB"))[:, :, ::-1]  # the OCR models expect BGR, as OpenCV reads
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ReadError(f"not a readable image ({exc})") from None
    read = ocr_image(pixels)
    if not read:
        raise ReadError("no text found in this image by OCR")
    return PagedLines([t for t, _ in read], [1] * len(read), [n for n, (_, score) in enumerate(read, start=1) if score < UNCERTAIN_BELOW])


def _page_lines(page: Any) -> list[str]:
    """A page's lines in reading order: as drawn, unless the page is set in two columns whose
    lines are drawn across both (left line 1, right line 1, …), which are then read column by
    column (`_column_order`)."""
    textpage = page.get_textpage()
    text = textpage.get_text_range()
    drawn = [line.rstrip() for line in re.split(r"\r\n|\r|\n", text) if line.strip()]
    reordered = _column_order(_segments(textpage), float(page.get_size()[0]))
    return reordered if reordered is not None else drawn


_MIN_RULES = 4  # path objects (ruling lines, cell borders) before a page is searched for tables
MAX_TABLE_PAGES = 300  # pages of one PDF searched for tables; the rest are read as drawn
_RADICALS = re.compile(r"[\u2e80-\u2fdf]")  # CJK radicals some PDFs draw for ordinary characters (⽔ for 水)


def _has_rules(page: Any) -> bool:
    """Whether a page draws enough lines to hold a ruled table (a cheap test before pdfplumber)."""
    import pypdfium2.raw as pdfium_c

    count = 0
    for obj in page.get_objects(max_depth=1):
        count += obj.type == pdfium_c.FPDF_PAGEOBJ_PATH
        if count >= _MIN_RULES:
            return True
    return False


class _Tables:
    """Ruled tables of a PDF's pages by pdfplumber's table finder (MIT), opened on first use."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pdf: Any = None
        self.searched = 0

    def lines(self, index: int) -> list[str] | None:
        """Page `index`'s lines with each ruled table as rows of tab-separated cells (the header
        row first, as the chunker reads tables), the text around it in order; None when the page
        has no table of at least two rows and two columns, or the search budget is spent."""
        if self.searched >= MAX_TABLE_PAGES:
            return None
        self.searched += 1
        import pdfplumber

        logging.getLogger("pdfminer").setLevel(logging.ERROR)  # font-descriptor warnings of ordinary PDFs
        try:
            if self.pdf is None:
                self.pdf = pdfplumber.open(io.BytesIO(self.data))
            page = self.pdf.pages[index]
            found = [t for t in page.find_tables() if len(t.rows) >= 2 and max(len(r.cells) for r in t.rows) >= 2]
            if not found:
                return None
            placed: list[tuple[float, int, str]] = []
            outside = page
            for table in found:
                outside = outside.outside_bbox(table.bbox)
                for n, row in enumerate(table.extract()):
                    cells = [_RADICALS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), re.sub(r"\s*\n\s*", "", c or "")) for c in row]
                    if any(cells):
                        placed.append((float(table.bbox[1]), n, "\t".join(cells)))
            for line in outside.extract_text_lines():
                text = _RADICALS.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), line["text"]).rstrip()
                if text.strip():
                    placed.append((float(line["top"]), -1, text))
        except Exception:  # pdfminer meets PDFs pdfium reads: fall back to the text as drawn
            return None
        return [text for _, _, text in sorted(placed, key=lambda p: (p[0], p[1]))]

    def close(self) -> None:
        if self.pdf is not None:
            self.pdf.close()


@dataclass
class _Segment:
    """A run of characters on one line with no wide gap inside: a line, or its part in a column."""

    text: str
    x0: float
    x1: float
    top: float
    height: float


_MAX_CHARS_FOR_LAYOUT = 20_000  # pages with more characters are read as drawn


def _segments(textpage: Any) -> list[_Segment]:
    """The page's characters joined into segments: the same line (vertical centres within half a
    character) and no horizontal gap wider than two characters."""
    count = textpage.count_chars()
    if count > _MAX_CHARS_FOR_LAYOUT:
        return []
    chars = []
    for i in range(count):
        ch = textpage.get_text_range(i, 1)
        if not ch.strip():
            continue
        left, bottom, right, top = textpage.get_charbox(i)
        if right <= left or top <= bottom:
            continue
        chars.append((ch, left, right, (top + bottom) / 2, top - bottom))
    segments: list[_Segment] = []
    for ch, left, right, middle, height in chars:  # drawn order: a segment grows while its line goes on
        last = segments[-1] if segments else None
        if (last is not None and abs((last.top - last.height / 2) - middle) <= max(last.height, height) / 2
                and -height <= left - last.x1 <= 2 * max(last.height, height)):
            last.text += ch
            last.x1 = max(last.x1, right)
        else:
            segments.append(_Segment(ch, left, right, middle + height / 2, height))
    return segments


_MIN_GUTTER = 8.0  # points between two columns
_MIN_COLUMN_SEGMENTS = 4
_MIN_COLUMN_SHARE = 0.2  # a column of running text: its typical line is at least this share of the page width


def _column_order(segments: list[_Segment], width: float) -> list[str] | None:
    """Lines column by column when the segments are set in two columns and were drawn across
    them; None when the page is one column or its drawing order already reads column by column.

    Two columns: a vertical line in the middle half of the page that at most a fifth of the
    segments cross (titles and other spanning lines), with at least `_MIN_COLUMN_SEGMENTS`
    segments wholly on each side and `_MIN_GUTTER` points of white between them. The spanning
    segments cut the page into bands; each band is read left column then right, top to bottom."""
    if len(segments) < 2 * _MIN_COLUMN_SEGMENTS:
        return None
    best: tuple[int, float, float] | None = None  # (segments crossing, -white, x)
    for step in range(0, 51):
        x = width * (0.25 + 0.5 * step / 50)
        crossing = sum(1 for s in segments if s.x0 < x < s.x1)
        left_end = max((s.x1 for s in segments if s.x1 <= x), default=None)
        right_start = min((s.x0 for s in segments if s.x0 >= x), default=None)
        if left_end is None or right_start is None:
            continue
        white = right_start - left_end
        if white >= _MIN_GUTTER and (best is None or (crossing, -white) < best[:2]):
            best = (crossing, -white, x)
    if best is None or best[0] > len(segments) // 5:
        return None
    x = best[2]
    left = [s for s in segments if s.x1 <= x]
    right = [s for s in segments if s.x0 >= x]
    if len(left) < _MIN_COLUMN_SEGMENTS or len(right) < _MIN_COLUMN_SEGMENTS:
        return None
    if min(statistics.median(s.x1 - s.x0 for s in side) for side in (left, right)) < _MIN_COLUMN_SHARE * width:
        return None  # short cells side by side: a table, not columns of running text
    ordered: list[_Segment] = []
    band: list[_Segment] = []
    for seg in sorted(segments, key=lambda s: -s.top):
        if seg.x0 < x < seg.x1:
            ordered += [*_read_band(band, x), seg]
            band = []
        else:
            band.append(seg)
    ordered += _read_band(band, x)
    if [id(s) for s in ordered] == [id(s) for s in segments]:
        return None
    return [s.text for s in ordered]


def _read_band(band: list[_Segment], x: float) -> list[_Segment]:
    """A band's segments, left column then right, each top to bottom (sorted already)."""
    return [s for s in band if s.x1 <= x] + [s for s in band if s.x1 > x]


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
_STYLE_DEPTH = 32  # how far a paragraph's style chain (basedOn) is followed for its numbering


def _chinese(n: int, digits: str = _CHINESE_DIGITS, ten: str = "十") -> str:
    """1..99 in Chinese counting (一, 十, 十一, 二十三); larger numbers digit by digit."""
    if n < 10:
        return digits[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return (digits[tens] if tens > 1 else "") + ten + (digits[ones] if ones else "")
    return "".join(digits[int(d)] for d in str(n))


def _roman(n: int) -> str:
    if not 0 < n < 4000:  # Word itself counts in roman numerals only this far; and "M" * 10**9 is a gigabyte
        return str(n)
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
        if not 0 <= ilvl < 9 or (num_id, ilvl) not in self.levels:
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
    for _ in range(_STYLE_DEPTH):  # styles based on each other in a circle must not loop forever
        if style is None:
            break
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

    check_zip(data, ".docx")
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ReadError(f"not a readable .docx file ({exc})") from None
    try:
        numbering = _Numbering(document.part.numbering_part.element)
    except (KeyError, NotImplementedError, ValueError):  # none, or numbers that are not numbers: paragraphs unnumbered
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

XLSX_MAX_CELLS = 5_000_000  # cells visited across a workbook's sheets, the gaps a file declares included


def read_xlsx(data: bytes) -> list[str]:
    """Each sheet's name, then one tab-separated line per non-empty row (header first)."""
    import openpyxl

    check_zip(data, ".xlsx")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ReadError(f"not a readable .xlsx file ({exc})") from None
    lines: list[str] = []
    budget = [XLSX_MAX_CELLS]
    try:
        for sheet in book.worksheets:
            lines.extend(_sheet_lines(sheet, budget))
    finally:
        book.close()
    return lines


def _sheet_lines(sheet: Any, budget: list[int]) -> list[str]:
    """A sheet's name and its non-empty rows, in the columns some row uses; `budget` is what is
    left of XLSX_MAX_CELLS. The size a sheet declares (<dimension ref="A1:XFD1048576"/>) is not
    trusted: openpyxl pads every row to it, which made a 5 KB file take gigabytes."""
    if hasattr(sheet, "reset_dimensions"):
        sheet.reset_dimensions()
    rows: list[list[str]] = []
    for row in sheet.iter_rows(values_only=True):
        budget[0] -= max(len(row), 1)
        if budget[0] < 0:
            raise ReadError(f"a workbook of more than {XLSX_MAX_CELLS:,} cells (counting empty ones up to the last used cell of each row); "
                            "split it or save it as CSV text")
        cells = [_cell(v) for v in row]
        if any(cells):
            rows.append(cells)
    if not rows:
        return []
    used = sorted({i for r in rows for i, v in enumerate(r) if v})  # columns empty in every row are left out
    return [str(sheet.title)] + ["\t".join(r[i] if i < len(r) else "" for i in used) for r in rows]


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


# ---------------------------------------------------------------- zip containers (DOCX, XLSX)

ZIP_MAX_MEMBERS = 10_000
ZIP_MAX_TOTAL = 200 * 1024 * 1024  # bytes of all parts together, inflated
ZIP_BIG_PART = 10 * 1024 * 1024  # a part inflating to more than this ...
ZIP_MAX_RATIO = 100  # ... may not be more than this many times its compressed size


def check_zip(data: bytes, kind: str) -> None:
    """ReadError for a .docx/.xlsx that is no zip archive, whose zip directory says it would
    inflate past the limits above (a zip bomb), or whose parts do not inflate to what the
    directory says; all before python-docx or openpyxl inflate a byte.

    The directory is checked first, so an honest bomb is refused without inflating anything.
    Then every part is inflated once, a megabyte at a time, and dropped: zipfile stops a part
    at its recorded size and fails its CRC, so a directory that lies about sizes is caught too
    (read whole, as the readers read parts, such a part would inflate in one piece to a
    thousand times its compressed size before being cut)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_sizes(archive.infolist(), len(data), kind)
            for part in archive.infolist():
                with archive.open(part) as stream:
                    while stream.read(1 << 20):
                        pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, ValueError, EOFError, OSError, zlib.error) as exc:
        raise ReadError(f"not a readable {kind} file: not an intact zip archive, as {kind} files are ({exc}); "
                        "a renamed text or old .doc/.xls file, or a damaged one?") from None


def _check_sizes(parts: list[zipfile.ZipInfo], size: int, kind: str) -> None:
    mb = 1024 * 1024
    if len(parts) > ZIP_MAX_MEMBERS:
        raise ReadError(f"refused: a {kind} file of {len(parts):,} parts (over {ZIP_MAX_MEMBERS:,}); not an office document")
    total = sum(p.file_size for p in parts)
    if total > ZIP_MAX_TOTAL:
        raise ReadError(f"refused as a zip bomb: this {size / mb:.1f} MB {kind} file would inflate to {total / mb:,.0f} MB "
                        f"(the limit is {ZIP_MAX_TOTAL // mb} MB)")
    for part in parts:
        if part.file_size > ZIP_BIG_PART and part.file_size > ZIP_MAX_RATIO * max(part.compress_size, 1):
            raise ReadError(f"refused as a zip bomb: its part {part.filename[:80]!r} would inflate from {part.compress_size / mb:.1f} MB "
                            f"to {part.file_size / mb:,.0f} MB ({part.file_size // max(part.compress_size, 1):,} times; the limit is {ZIP_MAX_RATIO})")
