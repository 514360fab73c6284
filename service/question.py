"""What a question asks for: its key terms (weighted by rarity), the answer types its frame
asks for (`answertypes`), the measure word of "多少张/几个", the years it names, and the terms
next to its frame word ("新建多少所学校" → 新建, 学校): what is asked about, as opposed to where.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from ragqa.index.keyword import KeywordIndex, strip_frame, tokenize
from ragqa.ingest.normalize import normalize_query

from .answertypes import question_types

if TYPE_CHECKING:
    from .necessity import Necessity

_MEASURES = (
    ["平方公里", "平方米", "公里", "千米", "万美元", "美元", "亿元", "万元", "元", "万吨", "吨", "万亩", "亩", "宗", "万人", "人次", "人", "名", "户", "家", "个", "项", "所", "套", "张", "辆", "座", "条", "台", "件", "千瓦", "兆瓦", "分钟", "小时", "周年", "天", "次", "批", "株", "栋", "间", "床", "倍", "日", "工作日"]
)
_MEASURE_AFTER = re.compile(r"(?:多少|(?<!哪)几)(" + "|".join(_MEASURES) + ")")
NUMBER = r"[0-9０-９一二三四五六七八九十百千万两〇零]"
# A word no chunk contains is as often a segmentation slip or a paraphrase as a fact the
# documents lack, so it weighs less than its IDF says.
UNSEEN_FACTOR = 0.5
# The interrogative frame words, and how many characters either side of one a term may start or
# end to count as next to it (chosen on the train split, out of fold: 3, 5 and 8 all helped; 5 most).
_FRAME = re.compile(r"多少|几|哪|什么|何|谁|是否|吗|怎么|如何")
NEAR_FRAME = 5


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    terms: dict[str, float]
    types: frozenset[str]
    measures: tuple[str, ...]
    years: frozenset[int] = frozenset()
    unseen: frozenset[str] = frozenset()
    near_frame: frozenset[str] = frozenset()  # key terms within NEAR_FRAME characters of a frame word
    # What features took from this question and one candidate's text alone, by that text: the
    # rerank and the answer featurize the same sentences of a request (`candidates._own`).
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def total(self) -> float:  # read once per feature of every candidate: computed once
        return sum(self.terms.values()) or 1.0


def split_question(question: str) -> list[str]:
    """A question that asks two things in two sentences ("…哪家医院…？2023年又要…哪家医院…？"),
    as its parts; otherwise [question]."""
    parts = [p for p in re.split(r"(?<=[？?])", question.strip()) if p.strip()]
    return parts if len(parts) > 1 and all(len(normalize_query(p)) >= 6 for p in parts) else [question]


# How much more a word the user typed in a follow-up weighs than one carried over from earlier
# turns. Chosen on the train follow-ups (eval/gold/followup*_train.jsonl: 80 answerable of other
# genres, 20 of the sample documents). With the answer model of candidates-6, 1, 1.5, 2, 3, 4, 6
# gave 0.725 / 0.725 / 0.750 / 0.787 / 0.787 / 0.800 and 0.90 / 0.90 / 0.90 / 0.90 / 0.90 / 0.85;
# with the model shipped with it (candidates-7), 1, 2, 3, 4, 6 gave 0.738 / 0.762 / 0.750 / 0.750 /
# 0.775 and 0.90 / 0.90 / 0.90 / 0.85 / 0.85 (false refusals there 0 / 0 / 0.05 / 0.15 / 0.15).
FOCUS_FACTOR = 2.0


def profile_question(question: str, keyword: KeywordIndex, focus: str = "", necessity: Necessity | None = None) -> QuestionProfile:
    """Key terms (unique) with IDF weights, the answer types asked for, measure words, years.
    Terms of `focus` (what the user typed, when `question` was rewritten from a follow-up) weigh
    FOCUS_FACTOR times as much: the carried-over words say where, the typed ones what. With a
    `necessity` model (the one the answer model was trained with), each weight is also multiplied
    by the term's learned chance of being in the answering lines (service/necessity.py)."""
    text = normalize_query(question)
    focused = set(tokenize(strip_frame(normalize_query(focus)))) if focus else set()
    terms: dict[str, float] = {}
    unseen = set()
    for tok in tokenize(strip_frame(text)):
        if tok not in terms:
            weight = keyword.idf(tok) * (0.5 if len(tok) == 1 else 1.0)
            if keyword.df.get(tok, 0) == 0:
                weight *= UNSEEN_FACTOR
                unseen.add(tok)
            terms[tok] = weight * (FOCUS_FACTOR if tok in focused else 1.0)
    near_frame = _near_frame(text, terms)
    if necessity is not None:
        chance = necessity.of(text, terms, keyword, near_frame)
        terms = {t: w * chance[t] for t, w in terms.items()}
    return QuestionProfile(
        text,
        terms,
        question_types(text),
        tuple(dict.fromkeys(_MEASURE_AFTER.findall(text))),
        years=years_in(text),
        unseen=frozenset(unseen),
        near_frame=near_frame,
    )


def _near_frame(text: str, terms: dict[str, float]) -> frozenset[str]:
    """The terms of `text` that start or end within NEAR_FRAME characters of a frame word."""
    frames = [m.span() for m in _FRAME.finditer(text)]
    near = set()
    for term in terms:
        for m in re.finditer(re.escape(term), text):
            if any(m.start() - NEAR_FRAME <= end and m.end() + NEAR_FRAME >= start for start, end in frames):
                near.add(term)
                break
    return frozenset(near)


_YEAR = re.compile(r"(?<![0-9])((?:19|20)[0-9]{2})(?:\s*年?\s*[-—~～至到]\s*((?:19|20)[0-9]{2}))?(?![0-9])")


def years_in(text: str) -> frozenset[int]:
    """The years (19xx/20xx) `text` names, ranges such as 2019-2021年 filled in."""
    years: set[int] = set()
    for m in _YEAR.finditer(text):
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        years.update(range(first, last + 1) if 0 <= last - first <= 20 else (first, last))
    return frozenset(years)


_THIS_YEAR = re.compile(r"年内|今年|全年|当年|本年")


def year_fits(q: QuestionProfile, text: str, before: str = "") -> bool:
    """False when the question names a year and `text` names only other years (到2021年 does
    not answer a question about 2020). A sentence that names no year (nor 年内/今年) takes the
    last year named `before` it in its paragraph (到2021年,…；规上企业工业增加值率提高到23%)."""
    if not q.years:
        return True
    named = years_in(text)
    if not named and not _THIS_YEAR.search(text):
        mentions = list(_YEAR.finditer(before))
        named = years_in(mentions[-1].group(0)) if mentions else frozenset()
    return not named or bool(named & q.years)


def has_measure(text: str, measure: str) -> bool:
    """Whether a number is followed (allowing 万/亿/余/多 and spaces) by `measure`."""
    return re.search(rf"{NUMBER}[\d.%．]*\s*[万亿千百余多]?\s*{re.escape(measure)}", text) is not None
