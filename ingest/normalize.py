"""Matching text: what PDF extraction and format conversion did to a line, undone for search.

Two levels, both pure functions of one line:

* `clean_line` keeps the document's own script and removes extraction artefacts: markdown
  marks ('#', '>', '- ', '**', '<u>'), pinyin left after characters (`產(chǎn)` -> `產`, while
  acronyms such as `(ccp)` stay), and spaces beside CJK characters (`增长 7.5%` -> `增长7.5%`).
  Answers shown to people are cut from cleaned text, so they read well and invent nothing.
* `match_line` goes further for search and comparison: full-width -> half-width (NFKC) and
  Traditional -> Simplified (OpenCC t2s).

`join_lines` glues lines of one passage for matching where `line_glues` says a sentence was
broken across them, the same rule the answerer's sentences use.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef\u2018-\u201d\u2026\u2014\u00b7"
SENTENCE_END = "。；;！!？?"
# A sentence end as readers see one: its marks, then any closing quote or bracket.
SENTENCE_RE = re.compile(rf"[{SENTENCE_END}]+[”’\"')）]*")

_TONED = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_NEUTRAL = {"de", "le", "men", "zi", "me", "ne", "ma", "ba", "zhe", "guo", "li", "tou", "shang", "xia"}
_PINYIN = re.compile(rf"(?<=[^\s(（])[(（]([a-zü{_TONED}]{{1,7}})[)）]")
_MD_PREFIX = re.compile(r"^\s*(?:#{1,6}\s*|>\s*|[-*+]\s+)+")
_MD_INLINE = re.compile(r"\*\*|__|</?(?:u|b|i|em|strong|span|sup|sub)\b[^>]*>")
# (The second branch starts only where a run of spaces starts: linear, not quadratic, on long runs.)
_CJK_SPACE = re.compile(rf"(?<=[{CJK}{CJK_PUNCT}])[ \t\u00a0\u3000]+|(?<![ \t\u00a0\u3000])[ \t\u00a0\u3000]+(?=[{CJK}{CJK_PUNCT}])")


def _is_pinyin(syllable: str) -> bool:
    return any(c in _TONED for c in syllable) or syllable in _NEUTRAL


def strip_pinyin(text: str) -> str:
    """Remove pinyin annotations after characters: `規(guī)模` -> `規模`; keeps `(ccp)`."""
    return _PINYIN.sub(lambda m: "" if _is_pinyin(m.group(1)) else m.group(0), text)


def clean_line(line: str) -> str:
    """A line without extraction artefacts, in the document's own script."""
    text = _MD_PREFIX.sub("", line)
    text = _MD_INLINE.sub("", text)
    text = strip_pinyin(text)
    text = _CJK_SPACE.sub("", text)
    return text.strip()


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified (OpenCC t2s); Simplified text passes unchanged."""
    return str(_t2s().convert(text))


def fold(text: str) -> str:
    """Full-width -> half-width and Traditional -> Simplified, for matching only."""
    return to_simplified(unicodedata.normalize("NFKC", text))


def match_line(line: str) -> str:
    """The search form of one line: cleaned, folded."""
    return fold(clean_line(line))


_SHORT_LINE = 16
_WRAPPABLE = re.compile(r"[\u3400-\u9fff0-9%\"“”'‘’、,，(（)）a-zA-Z]")


def line_glues(prev_line: str, next_line: str) -> bool:
    """Whether the break between two lines of one passage is inside a sentence (a PDF line
    wrap): both sides are text that wraps, and the first line does not end a sentence or a
    lead-in. A short line that ends without a comma is a title, date or label line of its
    own, not a wrapped one. The one rule for search text (`join_lines`) and for the sentences
    answers are cut from (`ingest/sentences.py`)."""
    if not prev_line or not next_line:
        return False
    prev, nxt = prev_line[-1], next_line[0]
    if len(prev_line) < _SHORT_LINE and prev not in "、,，":
        return False
    return bool(_WRAPPABLE.match(prev)) and bool(_WRAPPABLE.match(nxt)) and prev not in ":："


def join_lines(lines: list[str]) -> str:
    """Join cleaned lines of one passage, gluing sentences that PDF extraction broke."""
    out = ""
    last = ""
    for line in lines:
        if not line:
            continue
        if out and not line_glues(last, line):
            out += "\n"
        out += line
        last = line
    return out


# The statistical acronyms Chinese official texts spell out in full (the 国家统计局 usage):
# a question's "GDP" is the documents' 国内/地区生产总值. The common core is searched for.
ACRONYMS = {"gdp": "生产总值", "cpi": "居民消费价格", "ppi": "工业生产者出厂价格", "pmi": "采购经理指数"}
_ACRONYM = re.compile(r"(?<![a-z])(" + "|".join(ACRONYMS) + r")(?![a-z])", re.IGNORECASE)


def normalize_query(text: str) -> str:
    """A question as search sees it: cleaned and folded, whitespace collapsed, statistical
    acronyms spelled out (`ACRONYMS`)."""
    folded = fold(_CJK_SPACE.sub("", " ".join(text.split())))
    return _ACRONYM.sub(lambda m: ACRONYMS[m.group(1).lower()], folded)
