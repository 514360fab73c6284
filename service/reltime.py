"""Relative time: 今年 / 去年 / 明年 / 本届 in the terms of the document that answers.

    "今年全市GDP目标是多少？" + index ─> resolve_relative_time() ─> "2023年全市GDP目标是多少？"

They mean the year (or term) of the document that answers, never the machine's clock: the
question is searched once without them, the best document's own year (its title, issue number
or date line) fills them in, and the question is searched again.

A document about a past year is read from the year it was issued: the asker's 今年/去年/明年
count from the day it speaks (a 2025 statistical bulletin dated 2026 calls 2025 去年), while
本年/上年 count from the year it is about ("2024年末人口比上年末…" is 2023).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold

from .conversation import RELATIVE_YEAR, RELATIVE_YEARS, slots
from .question import years_in

if TYPE_CHECKING:
    from .retrieval import Snapshot

_TERM = re.compile(r"本[届屆]")
_ISSUE_YEAR = re.compile(r"[〔\[［(（【]\s*((?:19|20)[0-9]{2})\s*[〕\]］)）】]")
_DATE = re.compile(r"((?:19|20)[0-9]{2})\s*年\s*[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*日")
_TERM_NAME = re.compile(r"(?:第)?([一二三四五六七八九十]{1,3})\s*届")
_HEAD_LINES = 15


def document_year(doc: Document) -> int | None:
    """The year a document is about: a single year in its title (2023年政府工作报告), else
    the year of its issue number (东政发〔2022〕21号), else its first full date (2019年12月8日)."""
    title_years = years_in(fold(doc.title))
    if len(title_years) == 1:
        return next(iter(title_years))
    head = [fold(line) for line in doc.lines[:_HEAD_LINES]]
    for line in head:
        m = _ISSUE_YEAR.search(line)
        if m:
            return int(m.group(1))
    return _date_year(doc)


def speaking_year(doc: Document) -> int | None:
    """The year a document speaks from: the year it is about (`document_year`), or the next
    year when it is dated then: a bulletin, audit or final-accounts report on a year is issued
    in the following one. A title of one year dated later still (a 2019 regulation amended in
    2023) keeps its year."""
    year = document_year(doc)
    return year + 1 if year is not None and len(years_in(fold(doc.title))) == 1 and _date_year(doc) == year + 1 else year


def _date_year(doc: Document) -> int | None:
    """The year of a document's first full date (2019年12月8日) in its first or last lines."""
    for line in (*doc.lines[:_HEAD_LINES], *doc.lines[-_HEAD_LINES:]):
        m = _DATE.search(fold(line).replace(" ", ""))
        if m:
            return int(m.group(1))
    return None


def document_term(doc: Document) -> str | None:
    """The term (届) a document belongs to, e.g. 十六届, from its title or first lines."""
    for line in (doc.title, *doc.lines[:_HEAD_LINES]):
        m = _TERM_NAME.search(fold(line))
        if m:
            return f"{m.group(1)}届"
    return None


def has_relative_time(question: str) -> bool:
    return bool(RELATIVE_YEAR.search(question) or _TERM.search(question))


def without_relative_time(question: str) -> str:
    return _TERM.sub("", RELATIVE_YEAR.sub("", question))


def resolve_time(question: str, doc: Document) -> str | None:
    """`question` with 今年/去年/明年/本届 … put in `doc`'s own terms; None when `doc` has no
    year (or term) to put them in."""
    text = question
    year, speaking, term = _years_and_term(doc)
    changed = False
    if year is not None and speaking is not None and RELATIVE_YEAR.search(text):
        text = RELATIVE_YEAR.sub(lambda m: f"{(speaking if m.group(0) in SPEAKER_YEARS else year) + RELATIVE_YEARS[m.group(0)]}年", text)
        changed = True
    if term is not None and _TERM.search(text):
        text = _TERM.sub(term, text)
        changed = True
    return text if changed else None


# The words counted from the day the document speaks (the asker's own now); the others (本年, 上年,
# 上一年, 下一年) from the year it is about.
SPEAKER_YEARS = frozenset({"今年", "今年度", "去年", "前年", "明年", "后年", "後年"})
_YEARS: dict[tuple[str, str], tuple[int | None, int | None, str | None]] = {}  # by document id and content hash


def _years_and_term(doc: Document) -> tuple[int | None, int | None, str | None]:
    """`doc`'s `document_year`, `speaking_year` and `document_term`; cached."""
    key = (doc.doc_id, doc.sha256 or doc.title)
    if key not in _YEARS:
        if len(_YEARS) > 10_000:
            _YEARS.clear()
        _YEARS[key] = (document_year(doc), speaking_year(doc), document_term(doc))
    return _YEARS[key]


@dataclass(frozen=True)
class Query:
    """The question that is searched and answered, and a note for the answer (which year 今年 meant)."""

    text: str
    note: str | None = None

    def rewritten(self, question: str) -> str | None:
        return self.text if self.text != question else None


def resolve_relative_time(question: str, snap: Snapshot, top_k: int) -> Query:
    """`question` with 今年/去年/明年/本届 in the terms of the document that answers it. The
    question is searched without them; for each year among the documents found (at most
    YEARS_TRIED, in rank order), the question with that year is searched again, and the year
    whose own documents gain most keyword score from it wins (the passage that states the fact
    names its year); without a gain, the best-ranked document's year. When the documents found have different years, the note says which
    year was used."""
    if not has_relative_time(question):
        return Query(question)
    probe = snap.search(without_relative_time(question), max(top_k, PROBE))
    docs = [snap.index.documents[d] for d in dict.fromkeys(h.chunk.doc_id for h in probe)]
    places = slots(question).places
    docs = [d for d in docs if all(_mentions(d, p) for p in places)] or docs  # the place asked about
    base: dict[str, float] = {}
    for h in probe:
        base[h.chunk.doc_id] = max(base.get(h.chunk.doc_id, 0.0), h.keyword_score)
    by_year: dict[int | None, list[Document]] = {}
    for doc in docs:
        by_year.setdefault(_years_and_term(doc)[0], []).append(doc)
    choices: list[tuple[float, int, str, Document]] = []
    for rank, group in enumerate(by_year.values()):
        resolved = resolve_time(question, group[0])
        if resolved is None or len(choices) >= YEARS_TRIED:
            continue
        gain = 0.0
        if len(by_year) > 1:
            ids = {d.doc_id for d in group}
            gain = max((h.keyword_score - base.get(h.chunk.doc_id, 0.0) for h in snap.search(resolved, top_k) if h.chunk.doc_id in ids), default=0.0)
        choices.append((max(gain, 0.0), -rank, resolved, group[0]))
    if not choices:
        return Query(question)
    _, _, resolved, doc = max(choices, key=lambda c: c[:2])
    year = _years_and_term(doc)[0]
    note = f"（时间按《{doc.title}》的年份{year}年理解。）" if year is not None and len(by_year.keys() - {None}) > 1 else None
    return Query(resolved, note)


YEARS_TRIED = 3
PROBE = 10
_MENTIONS: dict[tuple[str, str, str], bool] = {}


def _mentions(doc: Document, words: str) -> bool:
    """Whether `doc` (title or text, folded to Simplified) contains `words`; cached."""
    key = (doc.doc_id, doc.sha256, words)
    if key not in _MENTIONS:
        if len(_MENTIONS) > 50_000:
            _MENTIONS.clear()
        target = fold(words)
        _MENTIONS[key] = target in fold(doc.title) or any(target in fold(line) for line in doc.lines)
    return _MENTIONS[key]
