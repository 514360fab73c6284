"""Clause chunking: a Document becomes Chunks that follow its numbering hierarchy.

Chinese official documents number their clauses 第X章 / 第X条, 一、, (一), 1. or 1、, (1), ①,
and 一是/二是 at the start of a paragraph, mixing several systems in one hierarchy. We do not
fix an order of levels: a stack of open headings is kept, and a heading of a kind already on the
stack closes everything below that kind and becomes its sibling; a new kind nests under the top.
So numbering that restarts inside a section (1. 2. … under each 一、/二、) gets the right path.

Only a marker at the start of a line is a heading; a marker followed by 的/之/中/所/规定/要求
("(二)的要求", "第3条规定") is a cross-reference, not a heading. Lines with tabs, and markdown rows (| a | b |), are table rows:
one chunk per row (continuation rows with an empty first cell stay with their row), the
table's header row attached to the first row after it and given to the others as context.

A heading line whose next content is a sub-heading joins that sub-clause's chunk, so no chunk
is a bare heading. A clause over the token budget is split between lines, and a single line over
the budget at sentence ends (the chunk then records character offsets in that line).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from .model import Chunk, Document, chunk_source_text
from .normalize import SENTENCE_END, SENTENCE_RE, clean_line, fold, join_lines, match_line
from .tokens import count_tokens
from .xref import Articles, references

CHUNKER_VERSION = "clauses-13"  # 13: Hong Kong numbering in citations (第119E條, 第 9(1) 條, (第210章)第9條 is another ordinance's); 12: a clause holds the text of the articles it cites by number, for search only (ingest/xref.py); 11: 第18C條 and 第十条之一 open articles; 10: a title wrapped after its first line takes the line above its tail; 9: a table of contents is one passage, its entries no headings; a short row takes its spanned cells from the row above; 8: a table's second header row and indented sub-rows; 7: a bundled document's title line is a division; 6: a chapter or section closes the numbered items open above it; 5: pipe rows without outer pipes

_CN = "一二三四五六七八九十百零〇两"
_HEADINGS: list[tuple[str, re.Pattern[str]]] = [
    ("chapter", re.compile(rf"^第[{_CN}\d]{{1,4}}章")),
    ("section", re.compile(rf"^第[{_CN}\d]{{1,4}}节")),
    # 第12-1條 (Taiwan), 第18C條 (Hong Kong, Macau: an article inserted after 第18條), 第一百二十条之一 (the mainland's)
    ("article", re.compile(rf"^第[{_CN}\d]{{1,4}}(?:-\d{{1,3}}|[A-Z]{{1,2}})?条(?:之[{_CN}]{{1,3}}(?![的规])|(?=之))?")),
    ("cn", re.compile(rf"^[{_CN}]{{1,3}}[、]")),
    ("paren_cn", re.compile(rf"^[(][{_CN}]{{1,3}}[)]")),
    ("arabic", re.compile(r"^\d{1,3}(?:、|\.(?!\d))")),
    ("paren_arabic", re.compile(r"^[(]\d{1,3}[)]")),
    ("circled", re.compile(r"^[\u2460-\u2473]")),
    ("shi", re.compile(r"^(?:十[一二三四五六七八九]?|[一二三四五六七八九])是(?!的)")),
]
_ANNEX = re.compile(r"^附件\s*\d{0,2}\s*[:：]?\s*$")
# What follows "第三条" when a line quotes an article instead of opening it (第三条的规定, 第三条中…);
# after an item marker (一、 （一）) the words that also open a heading (一、中国…, 1.明确职责, 二、提出…)
# are left out.
_QUOTING = "的|之|所|款|项|條|条|规定|規定|要求|第|、|至|及|或|和|与"
_CROSS_REF = re.compile(rf"^\s*(?:{_QUOTING}|中|提出|明确|明確)")
_ITEM_CROSS_REF = re.compile(rf"^\s*(?:{_QUOTING})")
_NUMBERED = ("chapter", "section", "article")
_LABEL_MAX = 36
_TITLE_BLOCK = 3  # lines
_MARKER_START = re.compile(r"^[\d《“\"(（]")


@dataclass(frozen=True)
class Heading:
    kind: str
    label: str
    line: int = 0


def detect_heading(cleaned: str) -> Heading | None:
    """The heading that `cleaned` (a cleaned line) opens, or None for body text."""
    probe = fold(cleaned)  # NFKC and Traditional -> Simplified: 第 1 條 is an article too
    if _ANNEX.match(probe):
        return Heading("annex", cleaned.rstrip(":：").strip())
    for kind, pattern in _HEADINGS:
        m = pattern.match(probe)
        if m and not (_CROSS_REF if kind in _NUMBERED else _ITEM_CROSS_REF).match(probe[m.end() :]):
            return Heading(kind, heading_label(cleaned))
    return None


def heading_label(cleaned: str) -> str:
    """The path element for a heading line: its text up to the first sentence end."""
    cut = re.split(rf"[{SENTENCE_END}:：]", cleaned, maxsplit=1)[0].strip()
    return cut if len(cut) <= _LABEL_MAX else cut[: _LABEL_MAX - 1] + "…"


@dataclass
class _Segment:
    kind: str
    path: tuple[str, ...]
    lines: list[int] = field(default_factory=list)
    path_lines: tuple[int, ...] = ()
    heading_only: bool = False
    context: str = ""


_RULE_CELL = re.compile(r":?-{2,}:?")


def table_cells(raw: str) -> list[str] | None:
    """The cells of a table row: a line with tabs, a markdown row `| a | b |`, or one with
    its outer pipes left out as GitHub allows (`a | b | c`, at least three cells); None for
    other lines. A markdown rule row (`|---|:--|`, `---|---|---`) has no cells: []."""
    if "\t" in raw:
        return [clean_line(c) for c in raw.rstrip().split("\t")]
    line = raw.strip()
    if line.count("|") < 2:
        return None
    cells = [clean_line(c) for c in line.removeprefix("|").removesuffix("|").split("|")]
    if len(cells) < 2:
        return None
    return [] if all(_RULE_CELL.fullmatch(c.strip()) for c in cells) else cells


def _row_cells(raw: str, in_table: bool) -> list[str] | None:
    """`table_cells(raw)`; inside a table (`in_table`) also the two cells of `a | b`, a row whose
    other cells span from above, unless one is a sentence (a note under the table: "注：… | …。").
    Outside a table such a line is text."""
    cells = table_cells(raw)
    if cells is not None or not in_table:
        return cells
    left, bar, right = (clean_line(part) for part in raw.strip().partition("|"))
    if not (bar and left and right) or "|" in right or any(c.endswith(tuple(SENTENCE_END)) for c in (left, right)):
        return None
    return [left, right]


# Kinds that divide a whole document, outermost first: an annex, a document bundled into this one
# under its own title line, a chapter, a section. None sits inside a numbered item (一、, (一),
# 1. …), however the text before it was numbered.
_DIVISIONS = ("annex", "document", "chapter", "section")
# A bundled document's title: a line without sentence punctuation that ends in the name of a kind
# of document (…实施方案, …考试大纲, …的通知).
_TITLE_LINE = re.compile(r"^[^。；;，,：:！？!?|]{6,60}(?:大纲|办法|规定|通知|方案|细则|意见|条例|规则|决定|公告|通告|计划|规划|纲要|指南|须知|章程|目录|清单|标准|报告|决议|函|批复)$")


def _bundled_title(cleaned: str, line: int, own_title: str) -> Heading | None:
    """The heading of a document bundled into this one (an attached 实施方案, the next syllabus of
    a set) when line `line`, `cleaned`, titles one: a title-shaped line below the title block that
    is not the document's own title (`own_title`, folded, without spaces) or a part of it."""
    probe = re.sub(r"\s+", "", fold(cleaned))
    if line <= _TITLE_BLOCK or _MARKER_START.match(probe) or not _TITLE_LINE.match(probe) or probe in own_title:
        return None
    return Heading("document", heading_label(cleaned))


# A table of contents: a line that says so, then short lines (headings, maybe with dot leaders and
# page numbers) up to the line that opens the body by repeating the first of them.
_TOC = re.compile(r"^(?:目录|目次|目錄)$")
_TOC_PAGE = re.compile(r"[.·…．・\-—_]*[0-9ⅠⅡⅢⅣⅤⅥⅦⅧⅨⅩIVXivx]*$")
_TOC_ENTRY_MAX = 60  # characters
_TOC_ENTRIES_MAX = 400


def _toc_key(cleaned: str) -> str:
    """A contents entry or heading without spaces, dot leaders and page number ("5.1 通则 …… 2")."""
    return _TOC_PAGE.sub("", re.sub(r"\s+", "", fold(cleaned)))


def _toc_span(doc: Document) -> tuple[int, int] | None:
    """The lines (first, last) of the document's table of contents: its 目录 line and the entries
    below it, which end where the body begins by repeating the first entry. None when there is
    no such line, or no entry is repeated (then the short lines are the body's own headings)."""
    lines = [(n, clean_line(raw)) for n, raw in enumerate(doc.lines, start=1) if raw.strip()]
    for k, (start, cleaned) in enumerate(lines):
        if not _TOC.match(re.sub(r"\s+", "", cleaned)):
            continue
        entries = lines[k + 1 : k + 1 + _TOC_ENTRIES_MAX]
        first = _toc_key(entries[0][1]) if entries else ""
        for i, (_, text) in enumerate(entries):
            if len(text) > _TOC_ENTRY_MAX or text.endswith(("。", "；", ";")):
                break
            if i >= 2 and first and _toc_key(text) == first:
                return start, entries[i - 1][0]
        return None
    return None


def _push_heading(stack: list[Heading], heading: Heading) -> list[Heading]:
    """The clause path after `heading`: a division (`_DIVISIONS`) closes every open heading but the
    divisions above it; any other kind already open closes itself and everything under it
    (numbering that restarts per section gets the right parent)."""
    if heading.kind in _DIVISIONS:
        above = _DIVISIONS[: _DIVISIONS.index(heading.kind)]
        return [*(h for h in stack if h.kind in above), heading]
    kinds = [h.kind for h in stack]
    if heading.kind in kinds:
        stack = stack[: kinds.index(heading.kind)]
    return [*stack, heading]


@dataclass
class _Table:
    """The table being read: its header (two rows merged when the second is wider), the header
    lines no row has taken yet, and the rows an indented row is under."""

    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # the header rows as written
    pending: list[int] = field(default_factory=list)
    parents: list[tuple[int, str]] = field(default_factory=list)  # (indent, first cell)
    last: list[str] = field(default_factory=list)  # the last row's cells, the spanned ones filled in

    def takes_header(self, n: int, cells: list[str], after_row: bool) -> bool:
        """Whether line `n` (`cells`) is a header row, read into this table: a repeated header, the
        first row of a table (not a bare number), or a second header row right after the first."""
        if cells in self.rows or (not after_row and not self.pending and not re.fullmatch(r"\d{1,4}", cells[0])):
            self.header, self.rows, self.pending, self.parents, self.last = cells, [cells], [n], [], []
            return True
        if self.pending and len(self.rows) == 1 and _second_header(cells, self.header):
            self.header, self.rows = _merged_header(self.header, cells), [*self.rows, cells]
            self.pending.append(n)
            return True
        return False

    def spanned(self, cells: list[str]) -> list[str]:
        """The leading cells a row narrower than the header takes from the row above: cells that
        span several rows, their span lost in the text ("凤凰街道 | 179" under "广州市 | 天河区 | … |
        201"). Only when, aligned to the right, each of its cells is a number where the row above
        has one and text where it has text, and the cells taken are labels, not numbers: a row whose
        trailing cells were left out, or a table of pairs laid side by side, takes nothing.
        Records the row, filled in, as the last."""
        width, lead = len(self.header), len(self.header) - len(cells)
        take = self.last[:lead] if 0 < len(cells) < width and len(self.last) == width else []
        fits = all(bool(_DATA_CELL.fullmatch(a)) == bool(_DATA_CELL.fullmatch(b)) for a, b in zip(cells, self.last[lead:], strict=False))
        if not (take and fits and all(c and not _DATA_CELL.fullmatch(c) for c in take)):
            take = []
        self.last = [*take, *cells]
        return take

    def label(self, raw: str, first: str) -> str:
        """A row's path element: the header's first cell, the rows it is indented under, its own first cell."""
        indent = _indent(raw)
        while self.parents and self.parents[-1][0] >= indent:
            self.parents.pop()
        under = " ".join(cell for _, cell in self.parents)
        if first:
            self.parents.append((indent, first))
        return " ".join(x for x in (self.header[0] if self.header and self.header[0] else "行", under, first) if x)

    def context(self, title: str) -> str:
        cells = " | ".join(c for c in self.header if c)
        return f"{title}\n{cells}" if title and cells else title or cells


def _segments(doc: Document) -> list[_Segment]:
    stack: list[Heading] = []
    segments: list[_Segment] = []
    table = _Table()
    table_title = ""
    above: list[str] = []

    def path() -> tuple[str, ...]:
        return tuple(h.label for h in stack)

    def path_lines() -> tuple[int, ...]:
        return tuple(h.line for h in stack)

    own_title = re.sub(r"\s+", "", fold(doc.title))
    toc = _toc_span(doc)
    contents: _Segment | None = None
    for n, raw in enumerate(doc.lines, start=1):
        if not raw.strip():
            continue
        if toc is not None and toc[0] <= n <= toc[1]:
            if n == toc[0]:  # the contents are one passage under their own label, no heading opened
                contents = _Segment("clause", (*path(), heading_label(clean_line(raw))), [], (*path_lines(), n))
                segments.append(contents)
            segments[-1].lines.append(n)
            continue
        after_row = bool(segments) and segments[-1].kind == "table_row"
        cells = _row_cells(raw, after_row)
        if cells == []:
            continue
        if cells is not None:
            if table.takes_header(n, cells, after_row):
                continue
            if cells[0] or not after_row or table.pending:
                first = " ".join(c for c in (*table.spanned(cells), cells[0]) if c)
                seg = _Segment("table_row", (*path(), table.label(raw, first)), path_lines=path_lines(), context=table.context(table_title))
                seg.lines.extend(table.pending)
                table.pending = []
                segments.append(seg)
            segments[-1].lines.append(n)
            continue
        if table.pending:
            segments.append(_Segment("table_row", path(), list(table.pending), path_lines()))
            table.pending = []
        cleaned = clean_line(raw)
        # A table's title: the last two short lines above it ("…计划表" then "单位:人").
        above = ([*above, cleaned])[-2:] if len(cleaned) <= 60 else []
        table_title = " ".join(above)
        heading = detect_heading(cleaned) or _bundled_title(cleaned, n, own_title)
        if heading is not None:
            stack = _push_heading(stack, Heading(heading.kind, heading.label, n))
            segments.append(_Segment("clause", path(), [n], path_lines(), heading_only=True))
            continue
        if not segments or segments[-1].kind == "table_row" or segments[-1] is contents:
            segments.append(_Segment("clause" if stack else "text", path(), path_lines=path_lines()))
        segments[-1].lines.append(n)
        segments[-1].heading_only = False
    if table.pending:
        segments.append(_Segment("table_row", path(), list(table.pending), path_lines()))
    return _attach_bare_headings(segments)


# A data cell: a number (with a sign, thousands separators, a decimal point or a per cent sign) or
# a placeholder for a missing or withheld value (-, —, …, **).
_DATA_CELL = re.compile(r"[-+−]?[\d,，.．]+\s*[%‰]?|[-—–…*]+")


def _second_header(cells: list[str], top: list[str]) -> bool:
    """Whether a row right after a table's header row `top` is a second header row: the columns
    under header cells that span several (a span the text lost, so the row is wider than `top`),
    at least two cells, all short and none a number."""
    rest = [c for c in cells if c]
    return len(cells) > len(top) and len(rest) >= 2 and all(len(c) <= 20 and not _DATA_CELL.fullmatch(c) for c in rest)


def _merged_header(top: list[str], below: list[str]) -> list[str]:
    """Two header rows as one: each top cell over the cells below it when the widths divide evenly
    ("法人单位 | 个体经营户" over "数量 | 比重 | 数量 | 比重" gives "法人单位 数量", "法人单位 比重",
    "个体经营户 数量", …); else the lower row followed by the top row's cells. An empty first cell
    in both (over the rows' labels) stays empty."""
    label = bool(top) and bool(below) and not top[0] and not below[0]
    upper, lower = (top[1:], below[1:]) if label else (top, below)
    if upper and len(lower) % len(upper) == 0:
        width = len(lower) // len(upper)
        cells = [f"{upper[j // width]} {lower[j]}".strip() for j in range(len(lower))]
    else:
        cells = [*lower, *(c for c in upper if c)]
    return ["", *cells] if label else cells


def _indent(raw: str) -> int:
    """How far a table row's first cell is indented (a statistical table's sub-rows, such as the
    kinds under a total, are indented under the row they belong to): its leading spaces, a
    full-width one counting two; the one space after a markdown row's opening pipe does not count."""
    line = raw.rstrip()
    if "\t" not in line and line.lstrip().startswith("|"):
        line = line.lstrip()[1:].removeprefix(" ")
    first = line.split("\t", 1)[0] if "\t" in line else line.split("|", 1)[0]
    lead = first[: len(first) - len(first.lstrip())]
    return sum(2 if c == "\u3000" else 1 for c in lead)


def _attach_bare_headings(segments: list[_Segment]) -> list[_Segment]:
    """A heading with no body of its own joins the sub-clause that follows it."""
    out: list[_Segment] = []
    for seg in reversed(segments):
        nxt = out[-1] if out else None
        if (
            seg.heading_only
            and nxt is not None
            and nxt.path[: len(seg.path)] == seg.path
            and len(nxt.path) > len(seg.path)
        ):
            nxt.lines[:0] = seg.lines
            continue
        out.append(seg)
    out.reverse()
    return out


@dataclass(frozen=True)
class _Piece:
    line: int
    start: int
    end: int | None
    tokens: int


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for m in SENTENCE_RE.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


# Where a sentence too long for the budget may be cut: after a comma, colon or enumeration
# comma, before an item marker ((一) 1． 2、), or at a space.
_SOFT_BREAK = re.compile(r"(?<=[，,、：:；;])|(?=[(（][一二三四五六七八九十\d]{1,3}[)）])|(?=(?<![\d.])\d{1,3}[．.、](?!\d))|(?<=\s)(?=\S)")


def _fit(text: str, a: int, b: int, budget: int, count: Callable[[str], int]) -> list[tuple[int, int]]:
    """The span text[a:b] cut into spans of at most `budget` tokens: at soft breaks where the
    text has them, else every `budget // 2` characters (a CJK character is 1-2 tokens)."""
    if b - a <= 4 * budget and count(text[a:b]) <= budget:
        return [(a, b)]
    cuts = sorted({m.start() for m in _SOFT_BREAK.finditer(text, a, b) if a < m.start() < b} | {b})
    out: list[tuple[int, int]] = []
    start, prev = a, a
    for cut in cuts:
        if cut - start <= 4 * budget and count(text[start:cut]) <= budget:
            prev = cut
            continue
        if prev > start:
            out.append((start, prev))
            start = prev
        while cut - start > 4 * budget or count(text[start:cut]) > budget:
            step = start + max(1, budget // 2)
            out.append((start, step))
            start = step
        prev = cut
    if start < b:
        out.append((start, b))
    return out


def _pieces(doc: Document, line_numbers: list[int], budget: int, count: Callable[[str], int]) -> list[_Piece]:
    pieces: list[_Piece] = []
    for n in line_numbers:
        raw = doc.line(n)
        tokens = count(clean_line(raw))
        if tokens <= budget:
            pieces.append(_Piece(n, 0, None, tokens))
            continue
        spans = [cut for a, b in _sentence_spans(raw) for cut in _fit(raw, a, b, budget, count)]
        for i, (a, b) in enumerate(spans):
            start = 0 if i == 0 else a
            end = None if i == len(spans) - 1 else b
            pieces.append(_Piece(n, start, end, count(clean_line(raw[a:b]))))
    return pieces


def _group(pieces: list[_Piece], budget: int) -> list[list[_Piece]]:
    groups: list[list[_Piece]] = []
    total = 0
    for piece in pieces:
        if groups and total + piece.tokens <= budget:
            groups[-1].append(piece)
            total += piece.tokens
        else:
            groups.append([piece])
            total = piece.tokens
    return groups


def chunk_document(doc: Document, budget: int = 350, count: Callable[[str], int] = count_tokens) -> list[Chunk]:
    """Split `doc` into clause chunks of at most `budget` tokens (long sentences are cut, see `_fit`)."""
    if budget < 20:
        raise ValueError(f"token budget {budget} is too small; use 20 or more")
    chunks: list[Chunk] = []
    articles = Articles(doc.lines)
    for seg in _segments(doc):
        for group in _group(_pieces(doc, seg.lines, budget, count), budget):
            first, last = group[0], group[-1]
            probe = Chunk(doc_id=doc.doc_id, start_line=first.line, end_line=last.line, clause_path=seg.path, text="", match_text="",
                          kind=seg.kind, start_char=first.start, end_char=last.end)
            text = chunk_source_text(doc, probe)
            match = join_lines([match_line(part) for part in text.split("\n")])
            context = fold(" › ".join((doc.title, *seg.path)))
            if seg.context:
                context += "\n" + fold(seg.context)
            cited = references(articles, [(n, doc.line(n)) for n in range(first.line, last.line + 1)])
            chunks.append(
                replace(probe, text=text, match_text=match, context=context, clause_lines=seg.path_lines, cited=cited)
            )
    return chunks
