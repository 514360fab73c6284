"""Follow-ups and relative time: a question as it was typed to the question that is searched.

    history + "那金华开发区呢？"      ─> followup()  ─> "金华开发区2022年GDP增长目标是多少？"
    "东阳今年GDP目标是多少？" + index ─> relative() ─> "东阳2023年GDP目标是多少？" (the document's year)

A follow-up leans on the turns before it: it drops the subject ("它的牵头单位是谁？"), names
only what changes ("那金华开发区呢？", "去年呢？"), or points back ("这个要在什么时候完成？").
The extractive rewriter carries over what the new question lacks, by kind of slot: the year,
the place or body (jieba's part-of-speech tags and place suffixes), and the subject (the earlier
question's content words). A new slot of a kind the earlier question had replaces it; anything
else is added. With an LLM configured, the LLM rewrites instead (prompts/rewrite.txt) and this
is its fallback.

今年 / 去年 / 明年 / 本届 mean the year (or term) of the document that answers, never the
machine's clock: the question is searched once without them, the best document's own year
(its title, issue number or date line) fills them in, and the question is searched again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragqa.index.keyword import STOPWORDS, strip_frame
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold

from .question import years_in

if TYPE_CHECKING:
    from .retrieval import Snapshot

def _cut(text: str) -> Any:
    """jieba's part-of-speech tagging (imported on first use: its model takes 0.4 s to load, and
    only follow-ups and relative years need it)."""
    import jieba.posseg

    return jieba.posseg.cut(text)


# Words that make a question lean on the turn before it.
_LEAD = re.compile(r"^(?:那么|那|还有|另外|同样|此外|而|又|再问一下|再问|那请问)[，,、\s]*")
_TAIL = re.compile(r"(?:的情况|情况)?(?:又|分别|各自)?(?:是)?(?:怎样|怎么样|如何|多少|什么)?呢[？?。.！!\s]*$")
_POINTER = re.compile(r"(?:(?:这|那|该|此)一?[个项条位家所些种类批件份部台座笔张次轮]?|其(?![他它实余])|它们|它|上述|前述|上面说的|刚才说的)")
_YEAR_WORDS = re.compile(r"(?:19|20)[0-9]{2}\s*年(?:度|底|末|内)?|[今去明前后本上下]一?年(?:度)?|年内|[0-9]{4}")
# Place and body suffixes (a word ending so is a place or an organisation, whatever its tag).
_PLACE_END = re.compile(r"(?:省|市|县|縣|区|區|镇|鎮|乡|鄉|村|街道|社区|开发区|园区|新区|州|局|委|办|厅|部|院|中心|公司|集团|政府|管委会)$")
_NAME_TAGS = frozenset({"nz", "nr", "nrt", "j", "ns"})  # a name that a place suffix may follow
# A question this short (content characters, frame and stopwords removed) names no subject of its own.
_BARE = 6


@dataclass(frozen=True)
class Slots:
    """A question cut into what a follow-up may keep or replace."""

    text: str
    years: tuple[str, ...]
    places: tuple[str, ...]
    content: str  # the question without its interrogative frame, years and places

    @property
    def frame_only(self) -> bool:
        return len(re.sub(r"\W", "", self.content)) == 0


def slots(question: str) -> Slots:
    text = question.strip()
    years = tuple(m.group(0) for m in _YEAR_WORDS.finditer(text))
    places: list[str] = []
    words = [(w.word.strip(), w.flag) for w in _cut(_YEAR_WORDS.sub(" ", text))]
    joined = False  # whether the previous word is the end of a place
    for i, (word, flag) in enumerate(words):
        core = flag == "ns" or (flag.startswith("n") and len(word) >= 2 and _PLACE_END.search(word) is not None and word not in STOPWORDS)
        if not core:
            joined = False
            continue
        if joined:
            places[-1] += word
        elif i > 0 and words[i - 1][1] in _NAME_TAGS and words[i - 1][0]:
            places.append(words[i - 1][0] + word)  # 金华 + 开发区
        else:
            places.append(word)
        joined = True
    content = strip_frame(text)
    for piece in (*years, *places):
        content = content.replace(piece, " ")
    content = _unpoint(_TAIL.sub("", _LEAD.sub("", content)))
    return Slots(text, years, tuple(p for p in places if len(p) >= 2), content)


def _content_chars(text: str) -> int:
    return len([c for c in re.sub(r"[\W\d_]", "", text) if c not in STOPWORDS])


def leans_on_context(question: str) -> bool:
    """Whether `question` reads as a follow-up: it starts with 那/还有…, ends in 呢, points back
    with 这个/该/其/它…, or names no subject of its own."""
    text = question.strip()
    if _LEAD.match(text) or _TAIL.search(text) or _pointers(text):
        return True
    own = slots(text)
    return not own.places and _content_chars(own.content) <= _BARE


_ORDINAL_IN = re.compile(r"第[0-9一二三四五六七八九十百]+[个项条款章节点方面批类件]*")
_TOPIC_THEN_ASK = re.compile(r"^(?:那么|那|还有|另外)?\s*([^，,呢]{2,20})呢[，,]\s*(.{2,})$")
_ORDINAL = re.compile(r"^(?:第|其)[0-9一二三四五六七八九十百]+[个项条款章节点方面批类件种]*$|^(?:最后|首|末)(?:一)?[个项条款章节点方面批类件种]$")
_NOUNISH = ("n", "eng", "vn", "nz", "j", "l")
_DANGLING = re.compile(r"(?:有|是|为|包括|包含|分别是|主要有|共有|要|将)$")
_MEASURE_LEFT = re.compile(r"\s+[个项家所条张套宗名户辆座台件次批株栋间床倍亩]?\s*")


Similar = Callable[[str, list[str]], list[float]]


def overlap(a: str, options: list[str]) -> list[float]:
    """How much of each option's characters `a` shares (Jaccard over characters)."""
    chars = set(a)
    return [len(chars & set(o)) / max(len(chars | set(o)), 1) for o in options]


def noun_runs(text: str) -> list[str]:
    """The maximal runs of nouns (names, places, English words and codes included) of `text`,
    in order: the things a follow-up may swap for another."""
    runs: list[str] = []
    current, has_noun = "", False
    for w in _cut(_YEAR_WORDS.sub(" ", text)):
        word = w.word.strip()
        nounish = bool(word) and (w.flag.startswith(_NOUNISH) or re.fullmatch(r"[A-Za-z0-9.]+", word) is not None) and word not in STOPWORDS
        numeral = w.flag == "m" and not _YEAR_WORDS.fullmatch(word)  # 轻伤 + 一级, 一次 + 退休金
        if (nounish or numeral) and not _YEAR_WORDS.fullmatch(word):
            current += word
            has_noun = has_noun or nounish
        else:
            if current and has_noun:
                runs.append(current)
            current, has_noun = "", False
    if current and has_noun:
        runs.append(current)
    return [r for r in runs if len(r) >= 2 and not r.isdigit()]


_GEO_END = re.compile(r"(?:省|市|县|縣|区|區|镇|鎮|乡|鄉|村|街道|社区|州)$")


def _geographic(text: str) -> float:
    """The share of `text` that names places (words jieba tags ns, or that end as places do)."""
    words = list(_cut(text))
    geo = sum(len(w.word) for w in words if w.flag == "ns" or (len(w.word) >= 2 and _GEO_END.search(w.word) is not None))
    return geo / max(len(text), 1)


_MEASURED = re.compile(r"(多少|几)[个项家所条张套宗名户辆座台件次批株栋间床倍亩人](?=[?？。]?$)")


def _window(topic: str, text: str) -> str | None:
    """The stretch of `text` as long as `topic` that shares most of its characters (at least half),
    starting and ending with characters of `topic`: 轻伤一级 for 轻伤二级, where the parts of speech
    do not make a noun phrase of it."""
    chars, n = set(topic), len(topic)
    best, score = None, 0.5
    for i in range(len(text) - n + 1):
        piece = text[i : i + n]
        if piece == topic or piece[0] not in chars or piece[-1] not in chars:
            continue
        value = overlap(topic, [piece])[0]
        if value > score:
            best, score = piece, value
    return best


def _most_similar(target: str, runs: list[str], similar: Similar | None) -> str | None:
    if not runs:
        return None
    kind = _geographic(target)
    scores = overlap(target, runs)
    if similar is not None:
        scores = [a + b for a, b in zip(scores, similar(target, runs), strict=True)]
    scores = [sc + 0.5 * (1 - abs(kind - _geographic(r))) for sc, r in zip(scores, runs, strict=True)]
    return runs[max(range(len(runs)), key=lambda i: (scores[i], -i))]


def merge(previous: str, question: str, similar: Similar | None = None) -> str:
    """`question` made self-contained from the self-contained `previous` one. `similar(a, bs)`
    scores how alike `a` is to each of `bs` (e.g. embedding cosine); character overlap always counts."""
    if not leans_on_context(question):
        return question
    prev, new = slots(previous), slots(question)
    base_year = next((y for y in (int(m) for m in re.findall(r"(?:19|20)[0-9]{2}", " ".join(prev.years)))), None)
    new_years = tuple(_relative_to(y, base_year) for y in new.years)
    split = _TOPIC_THEN_ASK.match(question.strip())
    if split:  # "信访总量呢，要降多少？": a new subject, then a new ask about it
        carried = "".join(p for p in (*prev.places, *prev.years) if p not in question)
        return f"{carried}{split.group(1)}{split.group(2)}"
    if _TAIL.search(question) and strip_frame(_TAIL.sub("", question)) == _TAIL.sub("", question):
        # "那金华开发区呢？" / "去年呢？" / "轻伤二级呢？": the earlier question with its most similar
        # noun run (or its year) replaced.
        out = _replace(previous.strip(), prev.years, new_years)
        topic = _TAIL.sub("", _LEAD.sub("", question.strip()))
        for y in new.years:
            topic = topic.replace(y, "")
        topic = _unpoint(topic).strip("，,、？?的到在 ")
        ordinal = _ORDINAL_IN.search(out)
        if _ORDINAL.match(topic) and ordinal:  # "第一个是什么？" → "第二个呢？"
            found = _ORDINAL_IN.match(topic)
            return out.replace(ordinal.group(0), found.group(0) if found else topic, 1)
        if _ORDINAL.match(topic):  # "第二项呢？": a part of what was asked about, not a new subject
            return _DANGLING.sub("", _MEASURE_LEFT.sub("", strip_frame(out)).strip("，,、？?。 ")) + "的" + topic
        if len(re.sub(r"\W", "", topic)) < 2:
            return out
        best = _window(topic, out) or _most_similar(topic, [r for r in noun_runs(out) if r not in new_years], similar)
        if not best:
            return f"{topic}{out}"
        return _MEASURED.sub(r"\1", out.replace(best, topic, 1))  # 多少个 counted the old subject, not the new one
    pointed = _pointed(question)
    if pointed:
        # "这部宪法是哪天生效的？": the pointer and its noun become what they point at.
        phrase, noun = pointed
        best = _most_similar(noun, noun_runs(previous), similar)
        if best:
            carried = next((y for y in prev.years if years_in(y) and not new.years and y not in question), "")
            return carried + _LEAD.sub("", question.strip()).replace(phrase, best, 1)
    # "它的牵头单位是谁？" / "具体指标是多少？": the earlier question's subject, then the new ask.
    subject = _MEASURE_LEFT.sub("", strip_frame(previous.strip())).strip("，,、？?。 ")
    subject = _DANGLING.sub("", subject)
    subject = _replace(subject, prev.years, new_years) if new_years else subject
    subject = _replace(subject, prev.places, new.places) if new.places else subject
    ask = question.strip()
    for piece in (*new.years, *new.places):
        ask = ask.replace(piece, "", 1)
    ask = _unpoint(_LEAD.sub("", ask)).lstrip("的之，, ")
    return f"{subject}的{ask}" if ask and not ask.startswith(("要", "在", "由", "是", "将", "有")) else subject + ask


def _pointers(text: str) -> list[str]:
    """The pronouns of `text` that point back (这个, 该, 其, 它 …; jieba tags them r)."""
    return [w.word for w in _cut(text) if w.flag == "r" and _POINTER.fullmatch(w.word)]


def _unpoint(text: str) -> str:
    for word in _pointers(text):
        text = text.replace(word, "", 1)
    return text


def _pointed(question: str) -> tuple[str, str] | None:
    """("这部宪法", "宪法") when `question` points back with a pronoun followed by a noun."""
    words = [(w.word, w.flag) for w in _cut(question)]
    for i, (word, flag) in enumerate(words[:-1]):
        if flag == "r" and _POINTER.fullmatch(word) and not word.startswith(("其", "它")):
            nxt, nflag = words[i + 1]
            if nflag.startswith(_NOUNISH):
                return word + nxt, nxt
    return None


def _replace(text: str, old: tuple[str, ...], new: tuple[str, ...]) -> str:
    """`text` with its first `old` slot replaced by the first `new` one (the others dropped);
    `new` put in front when `text` had no such slot."""
    if not new:
        return text
    if not old:
        return new[0] + text
    text = text.replace(old[0], new[0], 1)
    for extra in old[1:]:
        text = text.replace(extra, "", 1)
    return text


def _relative_to(year: str, base: int | None) -> str:
    """去年 after a question about 2022 means 2021; without an earlier year it stays relative."""
    m = _RELATIVE_RE.search(year)
    if base is None or m is None:
        return year
    return f"{base + _RELATIVE[m.group(0)]}年"


def followup(question: str, history: Sequence[tuple[str, str]], similar: Similar | None = None) -> str:
    """`question` rewritten from `history` ((role, content) pairs, oldest first) into a
    self-contained question (in Simplified script); `question` itself when it stands alone or
    there is no history."""
    context = ""
    for role, content in history:
        if role == "user" and content.strip():
            context = merge(context, fold(content), similar) if context else fold(content).strip()
    if not context:
        return question
    merged = merge(context, fold(question), similar)
    return question if merged == fold(question) else merged  # Traditional is read as Simplified


# --- relative time --------------------------------------------------------------------------

_RELATIVE = {"今年": 0, "本年": 0, "本年度": 0, "今年度": 0, "去年": -1, "上年": -1, "上一年": -1, "前年": -2, "明年": 1, "下一年": 1, "后年": 2, "後年": 2}
_RELATIVE_RE = re.compile("|".join(sorted(_RELATIVE, key=len, reverse=True)))
_TERM = re.compile(r"本[届屆]")
_ISSUE_YEAR = re.compile(r"[〔\[［(（【]\s*((?:19|20)[0-9]{2})\s*[〕\]］)）】]")
_DATE = re.compile(r"((?:19|20)[0-9]{2})\s*年\s*[0-9]{1,2}\s*月\s*[0-9]{1,2}\s*日")
_TERM_NAME = re.compile(r"(?:第)?([一二三四五六七八九十]{1,3})\s*届")
_HEAD_LINES = 15


def document_year(doc: Document) -> int | None:
    """The year a document speaks from: a single year in its title (2023年政府工作报告), else
    the year of its issue number (东政发〔2022〕21号), else its first full date (2019年12月8日)."""
    title_years = years_in(fold(doc.title))
    if len(title_years) == 1:
        return next(iter(title_years))
    head = [fold(line) for line in doc.lines[:_HEAD_LINES]]
    for line in head:
        m = _ISSUE_YEAR.search(line)
        if m:
            return int(m.group(1))
    for line in (*head, *(fold(x) for x in doc.lines[-_HEAD_LINES:])):
        m = _DATE.search(line.replace(" ", ""))
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
    return bool(_RELATIVE_RE.search(question) or _TERM.search(question))


def without_relative_time(question: str) -> str:
    return _TERM.sub("", _RELATIVE_RE.sub("", question))


def resolve_time(question: str, doc: Document) -> str | None:
    """`question` with 今年/去年/明年/本届 … put in `doc`'s own terms; None when `doc` has no
    year (or term) to put them in."""
    text = question
    year, term = _year_and_term(doc)
    changed = False
    if year is not None and _RELATIVE_RE.search(text):
        text = _RELATIVE_RE.sub(lambda m: f"{year + _RELATIVE[m.group(0)]}年", text)
        changed = True
    if term is not None and _TERM.search(text):
        text = _TERM.sub(term, text)
        changed = True
    return text if changed else None


_YEARS: dict[tuple[str, str], tuple[int | None, str | None]] = {}  # by document id and content hash


def _year_and_term(doc: Document) -> tuple[int | None, str | None]:
    key = (doc.doc_id, doc.sha256 or doc.title)
    if key not in _YEARS:
        if len(_YEARS) > 10_000:
            _YEARS.clear()
        _YEARS[key] = (document_year(doc), document_term(doc))
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
        by_year.setdefault(_year_and_term(doc)[0], []).append(doc)
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
    year = _year_and_term(doc)[0]
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
