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


# Cantonese (粵語) as Hong Kong and Macau residents type it, read as Standard Written Chinese: the
# question words (幾多 how many, 幾耐 how long, 邊個 who/which, 點樣 how, 乜嘢/咩 what, 係咪 whether)
# and the particles (嘅 的, 喺 在, 咗 了, 冇 沒有, 唔 不 ...) of the language's grammar, on folded
# (Simplified) text. Written from the grammar, not from any question: official documents are in
# Standard Written Chinese whoever asks, and a question whose frame words are Cantonese is otherwise
# asked for no answer type, and its particles count as words no document holds. Characters that
# Mandarin words share (系 of 关系, 边 of 周边, 点 of 重点) are read as Cantonese only where the
# grammar puts them: 系 before a question word, 边 after a verb or at a clause's start, 点解/点样 not
# followed by what makes them 点 + 解决/样品. tests/test_cantonese.py checks that no line of the
# sample and evaluation documents changes.
_C = "\u4e00-\u9fff"
_NOT_SYSTEM = "(?<![关联体维派世直谱院父母水山星银系旁阳语科])"  # 系 of 关系, 体系, 旁系, 太阳系 ...
_CLAUSE_START = f"(?<![{_C}])"
# 边 "which" comes at a clause's start or after a verb or preposition (去边度, 喺边间, 系边个), or
# before 一 and a measure word or before 个/间/啲 (条例边一条), never inside a noun (双边, 周边, 湖边).
_MEASURE = "个间啲位一条项种类日年份张部样"
_BESIDE = "周旁身两双多单这那左右上下东西南北外里前后无天半沿海路床手耳窗河江岸桥湖街"  # X边: a side, not "which"
_WHICH = (f"(?:(?:{_CLAUSE_START}|(?<=[在喺去是系向由问揾找到住买看睇有同比给俾畀用于从返响拣做交报读入]))边"
          f"|(?<![{_BESIDE}])边(?=一[{_MEASURE}]|[个间啲]))")
CANTONESE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"咩(?=[?!。]*$)", "吗"),  # a final 咩 asks yes or no
        (r"[喎㗎嘞啰啩喇]+(?=[?!。,~～…\s]|$)", ""),  # sentence-final particles (not the 喇 of 喇叭)
        (r"仲(?=[有要可未会能使驶系])", "还"),
        (r"(?:使|驶)唔(?:使|驶)", "是否需要"),
        (r"得唔得", "是否可以"),
        (rf"{_NOT_SYSTEM}(?:(?:系|是)唔(?:系|是)|系咪)", "是否"),
        (rf"([{_C}])唔\1", r"是否\1"),  # A唔A: 可唔可以, 会唔会, 要唔要
        (r"唔(?:使|驶)", "不用"),
        (r"唔好", "不要"),
        (r"唔该", "请"),
        (rf"{_NOT_SYSTEM}系(?=[咩乜边几点])", "是"),  # before the question words are read
        (r"净系", "只是"),
        (r"做(?:乜嘢|乜|咩)", "为什么"),
        (r"点解(?![决读答析释除说题])", "为什么"),
        (r"点样(?![品本板式例张])", "怎样"),
        (rf"{_CLAUSE_START}点(?=[做计算办])", "怎么"),
        (r"乜嘢|咩嘢|乜|咩|甚么", "什么"),  # 甚麼: the Hong Kong spelling
        (r"几多", "多少"),
        (r"几耐", "多久"),
        (r"几时", "何时"),
        (r"几钱", "多少钱"),
        (rf"{_WHICH}个(?=[?!。,]|$|[负批管签发决审处做去可会要讲话])", "谁"),
        (rf"{_WHICH}度", "哪里"),
        (rf"{_WHICH}(?=[{_MEASURE}])", "哪"),
        (r"人哋", "别人"),
        (r"佢哋", "他们"),
        (r"(?<=[我你])哋", "们"),
        (rf"呢(?=[{_MEASURE}度段])", "这"),
        (r"[𠮶嗰]阵", "那时"),
        (rf"[𠮶嗰](?=[{_MEASURE}度段])", "那"),
        (r"啲", "些"),
        (r"嘅", "的"),
        (r"喺", "在"),
        (r"咗", "了"),
        (r"冇", "没有"),
        (r"唔", "不"),
        (r"佢", "他"),
        (r"嚟", "来"),
        (r"睇", "看"),
        (r"[揾搵]", "找"),
        (r"攞", "拿"),
        (r"谂", "想"),
        (rf"(?:{_CLAUSE_START}|(?<=[我你他们仲咁但]))而家", "现在"),
        (r"咁样", "这样"),
        (r"咁(?=多|耐|快|长|大)", "这么"),
        (r"[畀俾](?=[我你他她佢钱人])", "给"),  # give (not the 俾 "so that" of formal Taiwan texts)
    )
)


def standard_written(folded: str) -> str:
    """Folded text with Cantonese grammar words (`CANTONESE`) in their Standard Written Chinese
    form; text without them is returned as it is."""
    for pattern, written in CANTONESE:
        folded = pattern.sub(written, folded)
    return folded


def normalize_query(text: str) -> str:
    """A question as search sees it: cleaned and folded, whitespace collapsed, Cantonese grammar
    words read as Standard Written Chinese (`CANTONESE`), statistical acronyms spelled out
    (`ACRONYMS`)."""
    folded = standard_written(fold(_CJK_SPACE.sub("", " ".join(text.split()))))
    return _ACRONYM.sub(lambda m: ACRONYMS[m.group(1).lower()], folded)
