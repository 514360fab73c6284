"""Sentences of a passage, each knowing the physical lines it came from: the one sentence and
line model, used by the chunker's sentence ends (`SENTENCE_RE`) and by the answerer.

PDF extraction breaks sentences across lines and pads CJK text with spaces; the answerer and
the citation narrowing both need sentences as a reader sees them, mapped back to lines. A
passage's lines are cleaned (`clean_line`), glued where a sentence was broken, and split at
sentence ends (。；！？ and their ASCII forms). Table rows stay whole, one per line.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from .clauses import detect_heading, table_cells
from .model import Chunk
from .normalize import SENTENCE_RE, clean_line, fold, line_glues

# A line that starts a unit of its own in responsibility breakdowns (责任单位：…), never glued on.
LABELLED = re.compile(r"^(?:责任单位|責任單位|牵头单位|牽頭單位|配合单位|配合單位|协同单位|協同單位)")
_END = SENTENCE_RE
_WRAP_MIN = 20  # a passage's widest line this long or longer may be the width its PDF wrapped at


@dataclass(frozen=True)
class Sentence:
    """Display text (document's script, artefacts removed), match text, and source line span."""

    text: str
    match: str
    start_line: int
    end_line: int
    table_cells: tuple[str, ...] = ()


def _line_texts(chunk: Chunk) -> list[tuple[int, str]]:
    parts = chunk.text.split("\n")
    return [(chunk.start_line + i, part) for i, part in enumerate(parts)]


def split_sentences(chunk: Chunk) -> list[Sentence]:
    """The sentences of `chunk` in order, each with the physical lines it spans."""
    out: list[Sentence] = []
    buf: list[tuple[str, int]] = []

    def flush() -> None:
        text = "".join(ch for ch, _ in buf).strip()
        if text:
            lines = [n for ch, n in buf if not ch.isspace()]
            out.append(Sentence(text, fold(text), min(lines), max(lines)))
        buf.clear()

    prev_line = ""
    lines = [(n, raw, clean_line(raw)) for n, raw in _line_texts(chunk)]
    width = max((len(line) for _, _, line in lines), default=0)  # a PDF's full line
    for n, raw, line in lines:
        row = table_cells(raw)
        if row is not None:
            flush()
            cells = tuple(row)
            text = " | ".join(c for c in cells if c)
            if text:
                out.append(Sentence(text, fold(text), n, n, cells))
            continue
        if not line:
            continue
        heading = detect_heading(line) is not None
        if buf and (heading or LABELLED.match(line) is not None or not line_glues(prev_line, line)):
            flush()
        prev_line = line
        pos = 0
        for m in _END.finditer(line):
            buf.extend((ch, n) for ch in line[pos : m.end()])
            flush()
            pos = m.end()
        buf.extend((ch, n) for ch in line[pos:])
        if heading and pos == 0 and len(line) <= 40 and not (width >= _WRAP_MIN and len(line) >= width - 1):
            flush()  # a numbered heading, unless it fills the line: then it is an item wrapped onto the next
    flush()
    return out


# An enumeration marker inside running text: （一） (1) 1． 2、 ①, and 一是 after a start, a space or punctuation.
_ITEM = re.compile(
    r"(?<![A-Za-z0-9_])[(（][一二三四五六七八九十\d]{1,3}[)）]|(?<![A-Za-z0-9_.．])\d{1,2}[．.、](?![\d.．])|[\u2460-\u2473]"
    r"|(?:(?<=^)|(?<=[。；;：:，,\s]))[一二三四五六七八九十]{1,3}是"
)
_MIN_ITEMS = 2


def split_items(text: str) -> list[str]:
    """The items of an enumeration run together in one sentence or line ("1．…2．…3．…",
    "（一）…（二）…", "一是…二是…"), each from its marker to the next; [] when `text` holds fewer
    than two markers. The lead-in before the first marker is not an item."""
    starts = [m.start() for m in _ITEM.finditer(text)]
    if len(starts) < _MIN_ITEMS:
        return []
    bounds = [*starts, len(text)]
    return [text[a:b].strip() for a, b in itertools.pairwise(bounds) if text[a:b].strip()]
