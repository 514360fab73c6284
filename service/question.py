"""What a question asks for: its key terms (weighted by rarity) and the kind of answer.

The kind decides what a sentence must hold to answer it: a number (and, for "多少张/套/亩…",
that measure word after a number), a date, a responsible unit or leader, or a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import jieba.posseg

from ragqa.index.keyword import KeywordIndex, strip_frame, tokenize
from ragqa.ingest.normalize import fold, normalize_query

_UNIT_Q = re.compile(r"(哪个|哪家|哪一|什么|哪些)(单位|部门|机构|机关|领导)|由谁|谁|哪位|牵头|负责|责任单位|组长")
_LEADER_Q = re.compile(r"哪位|领导|谁")
_DATE_Q = re.compile(r"什么时候|何时|哪天|哪一天|日期|时间节点|哪年|哪一年|几月|截止|期限|落款|什么时间")
_NUMERIC_Q = re.compile(r"多少(?!时间)|多大|多长(?!时间)|多高|多远|多重|(?<!哪)几[个家项所条万亿张套倍名人]|比重|比例|占比|增速|百分之|几成")
_LIST_Q = re.compile(r"哪些|分别|哪几|哪[二三四五六七八九十两]")
ISSUE_VERB = re.compile(r"印发|发布|落款|签发|出台|公布|成文|发文|下发")
_YEAR_Q = re.compile(r"哪一?年|哪个年份|什么年份|哪年份")
_MEASURES = (
    "平方公里 平方米 公里 千米 万美元 美元 亿元 万元 元 万吨 吨 万亩 亩 宗 万人 人次 人 名 户 家 个 项 所 套 张 "
    "辆 座 条 台 件 千瓦 兆瓦 分钟 小时 周年 天 次 批 株 栋 间 床 倍".split()
)
_MEASURE_AFTER = re.compile(r"(?:多少|(?<!哪)几)(" + "|".join(_MEASURES) + ")")
NUMBER = r"[0-9０-９一二三四五六七八九十百千万两〇零]"
_YEARLESS_NUMBER = re.compile(r"(?<![0-9])(?![12][0-9]{3}年)[0-9]+(?:\.[0-9]+)?|[一二三四五六七八九十百千两]+(?=[个家项所条万亿%])")
_CLAUSE = re.compile(r"[,，;；。]")
# A word no chunk contains is as often a segmentation slip (各定, 三大文) or a paraphrase
# (债券 for 债) as a fact the documents lack, so it weighs less than its IDF says.
UNSEEN_FACTOR = 0.5
_PLACE_SUFFIX = re.compile(r"(?:县|市|区|镇|乡|街道)$")

# Terms of Chinese government reports that questions and documents spell differently.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "gdp": ("地区生产总值", "生产总值"),
    "地区生产总值": ("gdp",),
    "经开区": ("开发区", "经济技术开发区"),
    "开发区": ("经开区",),
    "增速": ("增长",),
    "r&d": ("研发",),
    "研发": ("r&d",),
    "十四五": ("第十四个五年",),
    "落款": ("印发", "日"),
    "电商": ("电子商务",),
    "规上": ("规模以上",),
    "规模以上": ("规上",),
    "债券": ("债",),
}
_WHICH_CLAUSE_Q = re.compile(r"属于哪|哪一条|哪一项|哪个方面|哪一部分|归在哪|归入哪|哪个.{0,8}(?:目标|任务|部分|条)下")


@dataclass(frozen=True)
class QuestionProfile:
    text: str
    terms: dict[str, float]
    kind: str
    measures: tuple[str, ...]
    leader: bool
    places: tuple[str, ...] = ()
    which_clause: bool = False
    asks_year: bool = False
    issued: bool = False
    years: frozenset[int] = frozenset()
    place_terms: frozenset[str] = frozenset()

    def covers(self, term: str, text: str) -> bool:
        """Whether `text` (folded) holds `term` or one of its synonyms."""
        return term in text or any(s in text for s in SYNONYMS.get(term, ()))

    @property
    def total(self) -> float:
        return sum(self.terms.values()) or 1.0


def question_places(text: str, titles: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Place names in the question that some document's title names (scope the answer), and
    the words they were found in (缙云县 for 缙云)."""
    places, words = [], []
    for word in jieba.posseg.lcut(text):
        if word.flag in ("ns", "nz") and len(word.word) >= 2 and not ISSUE_VERB.fullmatch(word.word):
            place = _PLACE_SUFFIX.sub("", word.word) if len(word.word) > 2 else word.word
            if any(place in t for t in titles):
                places.append(place)
                words.append(word.word)
    return tuple(dict.fromkeys(places)), tuple(dict.fromkeys(words))


def split_question(question: str) -> list[str]:
    """A question that asks two things in two sentences ("…哪家医院…？2023年又要…哪家医院…？"),
    as its parts; otherwise [question]."""
    parts = [p for p in re.split(r"(?<=[？?])", question.strip()) if p.strip()]
    return parts if len(parts) > 1 and all(len(normalize_query(p)) >= 6 for p in parts) else [question]


def profile_question(question: str, keyword: KeywordIndex, titles: list[str] | None = None) -> QuestionProfile:
    """Key terms (unique) with IDF weights, the answer kind, and the places it is about."""
    text = normalize_query(question)
    terms: dict[str, float] = {}
    for tok in tokenize(strip_frame(text)):
        if tok not in terms:
            weight = keyword.idf(tok) * (0.5 if len(tok) == 1 else 1.0)
            terms[tok] = weight * (UNSEEN_FACTOR if keyword.df.get(tok, 0) == 0 else 1.0)
    if _UNIT_Q.search(text):
        kind = "unit"
    elif _DATE_Q.search(text):
        kind = "date"
    elif _NUMERIC_Q.search(text):
        kind = "numeric"
    elif _LIST_Q.search(text):
        kind = "list"
    else:
        kind = "fact"
    measures = tuple(dict.fromkeys(_MEASURE_AFTER.findall(text)))
    places, place_words = question_places(text, [fold(t) for t in titles or []])
    place_terms = frozenset(t for t in terms if any(t in w for w in place_words))
    return QuestionProfile(
        text,
        terms,
        kind,
        measures,
        leader=bool(_LEADER_Q.search(text)),
        places=places,
        which_clause=bool(_WHICH_CLAUSE_Q.search(text)),
        asks_year=bool(_YEAR_Q.search(text)),
        issued=kind == "date" and bool(ISSUE_VERB.search(text)),
        years=years_in(text),
        place_terms=place_terms,
    )


def clause_has_number(q: QuestionProfile, text: str, measure: str | None = None) -> bool:
    """Whether one clause of `text` holds a question term and a number (not a year) or `measure`."""
    present = [t for t in q.terms if len(t) >= 2 and t not in q.place_terms and not t.isdigit() and q.covers(t, text)]
    anchors = sorted(present, key=lambda t: -q.terms[t])[:2]
    for clause in _CLAUSE.split(text):
        if not any(q.covers(t, clause) for t in anchors):
            continue
        if measure is not None and has_measure(clause, measure):
            return True
        if measure is None and _YEARLESS_NUMBER.search(clause):
            return True
    return False


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
        last = None
        for last in _YEAR.finditer(before):
            pass
        named = years_in(last.group(0)) if last else frozenset()
    return not named or bool(named & q.years)


def has_number(text: str) -> bool:
    return re.search(NUMBER, text) is not None


def has_measure(text: str, measure: str) -> bool:
    """Whether a number is followed (allowing 万/亿/余/多 and spaces) by `measure`."""
    return re.search(rf"{NUMBER}[\d.%．]*\s*[万亿千百余多]?\s*{re.escape(measure)}", text) is not None


def has_date(text: str, year_will_do: bool = False) -> bool:
    """A date precise enough to answer "when": a month, 年底/年内/上半年 and the like, or an ISO
    date; with `year_will_do` (the question asks "which year") a year is enough."""
    if re.search(rf"{NUMBER}+\s*月|年底|年内|月底|年末|上半年|下半年|季度|[12][0-9]{{3}}-[01]?[0-9]-[0-3]?[0-9]", text):
        return True
    return year_will_do and re.search(r"(?:[12][0-9]{3}|[〇零一二][〇零一二三四五六七八九]{3})\s*年", text) is not None
