"""Follow-ups: a question as it was typed, with the turns before it, to the question that is searched.

    history + "那金华开发区呢？" ─> followup() ─> "金华开发区2022年GDP增长目标是多少？"

A follow-up leans on the turns before it: it drops the subject ("它的牵头单位是谁？"), names
only what changes ("那金华开发区呢？", "去年呢？"), or points back ("这个要在什么时候完成？").
The extractive rewriter carries over what the new question lacks, by kind of slot: the year,
the place or body (jieba's part-of-speech tags and place suffixes), and the subject (the earlier
question's content words). A new slot of a kind the earlier question had replaces it; anything
else is added. What replaces what is found by structure and likeness, never by a list of
topics: the same ordinal unit (第三款 for 第一款), the same head noun (协同单位 for 牵头单位), a
shared start (4G用户 for 全省4G基站 keeps 全省), else the most similar noun run (characters,
embeddings, how geographic). A follow-up that asks a question of its own ("那审批部门多久给出
答复？") keeps the earlier question's scope, what it said before the thing replaced or its
opening clause ("城市更新办法里，…"); a pointer ("这套方案") becomes the clause that named the thing;
a bare head noun ("中心") gets back the modifiers the earlier question gave it. With an LLM
configured, the LLM rewrites instead (prompts/rewrite.txt) and this is its fallback.


Relative time (今年, 去年, 本届) is `reltime`'s.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ragqa.index.keyword import STOPWORDS, strip_frame
from ragqa.ingest.normalize import fold

from .question import years_in

if TYPE_CHECKING:
    pass

def _cut(text: str) -> Any:
    """jieba's part-of-speech tagging. `configure_jieba` loads it at service start (from the quick
    tables of index/jiebadict.py); without a cache folder the first use loads it (0.4 s)."""
    import jieba.posseg

    return jieba.posseg.cut(text)


# Words that make a question lean on the turn before it.
_LEAD = re.compile(r"^(?:那么|那|还有|另外|同样|此外|而|又|再问一下|再问|那请问)[，,、\s]*")
_TAIL = re.compile(r"(?:的情况|情况)?(?:又|分别|各自)?(?:是)?(?:怎样|怎么样|如何|多少|什么)?呢[？?。.！!\s]*$")
_POINTER = re.compile(r"(?:(?:这|那|该|此)一?[个项条位家所些种类批件份部台座笔张次轮]?|其(?![他它实余])|它们|它|[他她]们|[他她]|上述|前述|上面说的|刚才说的)")
_YEAR_WORDS = re.compile(r"(?:19|20)[0-9]{2}\s*年(?:度|底|末|内)?|[今去明前后本上下]一?年(?:度)?|年内|[0-9]{4}")
# Place and body suffixes (a word ending so is a place or an organisation, whatever its tag).
_PLACE_END = re.compile(r"(?:省|市|县|縣|区|區|镇|鎮|乡|鄉|村|街道|社区|开发区|园区|新区|州|局|委|办|厅|部|院|中心|公司|集团|政府|管委会)$")
_NAME_TAGS = frozenset({"nz", "nr", "nrt", "j", "ns"})  # a name that a place suffix may follow
# A question this short (content characters, frame and stopwords removed) names no subject of its own.
_BARE = 6
# Years said relative to the one asked about (去年 after 2023年 is 2022年); `reltime` reads them too.
RELATIVE_YEARS = {"今年": 0, "本年": 0, "本年度": 0, "今年度": 0, "去年": -1, "上年": -1, "上一年": -1, "前年": -2, "明年": 1, "下一年": 1, "后年": 2, "後年": 2}
RELATIVE_YEAR = re.compile("|".join(sorted(RELATIVE_YEARS, key=len, reverse=True)))


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
        end = _PLACE_END.search(word)
        # a one-character suffix needs a stem of two (东阳市, 财政部; not 全部, 地区)
        core = flag == "ns" or (flag.startswith("n") and end is not None and len(word) >= 2 and (len(end.group(0)) >= 2 or len(word) >= 3) and word not in STOPWORDS)
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


_ORDINAL_IN = re.compile(r"第[0-9一二三四五六七八九十百]+[个项条款章节点方面批类件种]*")
_TOPIC_THEN_ASK = re.compile(r"^(?:那么|那|还有|另外)?\s*([^，,呢]{2,20})呢[，,]\s*(.{2,})$")
_ORDINAL = re.compile(r"^(?:第|其)[0-9一二三四五六七八九十百]+[个项条款章节点方面批类件种]*$|^(?:最后|首|末)(?:一)?[个项条款章节点方面批类件种]$")
_NOUNISH = ("n", "eng", "vn", "nz", "j", "l")
_DANGLING = re.compile(r"(?:有|是|为|包括|包含|分别是|主要有|共有|要|将|了|的)$")
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
        numeral = w.flag == "m" and not _YEAR_WORDS.fullmatch(word) and strip_frame(word) == word  # 轻伤 + 一级, 一次 + 退休金; not 多少, 几个
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


_MEASURED = re.compile(r"(多少)[个项家所条张套宗名户辆座台件次批株栋间床倍亩人](?=[?？。]?$)")  # 几 needs its measure word; 多少 does not


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
        return _expand_heads(question, previous)
    prev, new = slots(previous), slots(question)
    base_year = next((y for y in (int(m) for m in re.findall(r"(?:19|20)[0-9]{2}", " ".join(prev.years)))), None)
    new_years = tuple(_relative_to(y, base_year) for y in new.years)
    split = _TOPIC_THEN_ASK.match(question.strip())
    if split:  # "新增就业呢，要达到多少？": a new subject, then a new ask about it
        scope = _scope(previous, split.group(1), similar)
        return _carry(prev, question, scope) + scope + split.group(1) + split.group(2)
    if _TAIL.search(question) and strip_frame(_TAIL.sub("", question)) == _TAIL.sub("", question):
        # "那金华开发区呢？" / "去年呢？" / "轻伤二级呢？": the earlier question with its most similar
        # noun run (or its year) replaced.
        out = _replace(previous.strip(), prev.years, new_years)
        topic = _TAIL.sub("", _LEAD.sub("", question.strip()))
        for y in new.years:
            topic = topic.replace(y, "")
        topic = _unpoint(topic).strip("，,、？?的到在 ")
        ordinal = _same_ordinal(topic, out)
        if _ORDINAL.match(topic) and ordinal:  # "第一个是什么？" → "第二个呢？"
            found = _ORDINAL_IN.match(topic)
            return out.replace(ordinal, found.group(0) if found else topic, 1)
        if _ORDINAL.match(topic):  # "第二项呢？": a part of what was asked about, not a new subject
            return _DANGLING.sub("", _MEASURE_LEFT.sub("", strip_frame(out)).strip("，,、？?。 ")) + "的" + topic
        if len(re.sub(r"\W", "", topic)) < 2:
            return out
        runs = [r for r in noun_runs(out) if r not in new_years]
        best = _window(topic, out) or _same_head(topic, runs, out) or _sibling_word(topic, out) or _most_similar(topic, runs, similar)
        if not best:
            return f"{topic}{out}"
        best = _from_shared(topic, best)
        return _MEASURED.sub(r"\1", out.replace(best, topic, 1))  # 多少个 counted the old subject, not the new one
    pointed = _pointed(question)
    if pointed:
        # "这部条例是哪天施行的？": the pointer and its noun become what they point at, said as
        # the earlier question said it up to there (its scope and the noun's modifiers with it).
        phrase, noun = pointed
        best = _most_similar(noun, noun_runs(previous), similar)
        if best:
            referent = _up_to(previous, best)
            carried = next((y for y in prev.years if years_in(y) and not new.years and y not in question and y not in referent), "")
            return carried + _LEAD.sub("", question.strip()).replace(phrase, referent, 1)
    own = _LEAD.sub("", question.strip())
    if own != question.strip() and not _pointers(own) and (new.places or _content_chars(new.content) > _BARE or _sibling(own, previous)):
        # "那审批部门多久给出答复？": a question of its own after 那 / 还有, in the earlier one's scope.
        scope = _scope(previous, strip_frame(own), similar)
        return _carry(prev, question, scope) + scope + _expand_heads(own, previous)
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


_SEPARATOR_TAGS = ("x", "uj", "f", "p", "v")  # a punctuation mark, 的, 里/中, 对/在, a verb: where a scope ends
_NOT_SEPARATORS = frozenset("“”\"'「」《》()（）、")  # quotes and the 、 of a list sit inside a phrase
_LOOSE_END = re.compile(r"(?:到|在|对|从|向|将|要|了|是|有|为|就|按|据|根据)+$")


def _scope(previous: str, topic: str, similar: Similar | None) -> str:
    """What `previous` says before the thing `topic` takes the place of ("安全生产条例所称的"
    before 重大隐患, "市政府转发" before 市教育局): the document, body or condition it
    asks within. When `topic` names nothing of `previous` again (no character in common with any
    noun run), the scope is `previous`'s opening clause, if it has one before a comma. The
    modifiers glued to the replaced thing ("掌上办"平台的注册人数) and the interrogative frame are
    left behind; "" when there is no scope."""
    anchor = _most_similar(topic, noun_runs(previous), similar)
    if anchor and _shares_word(topic, anchor):
        head = previous[: max(previous.find(anchor), 0)]
    else:
        head = re.split(r"[，,]", previous, maxsplit=1)[0] + "，" if re.search(r"[，,]", previous) else ""
    words = list(_cut(head))
    end = max((i for i, w in enumerate(words) if w.flag.startswith(_SEPARATOR_TAGS) and w.word.strip() not in _NOT_SEPARATORS), default=-1)
    head = "".join(w.word for w in words[: end + 1])
    head = _MEASURE_LEFT.sub("", strip_frame(head)).strip("，,、？?。：:；; ")
    head = _LOOSE_END.sub("", head).strip("，,、：:；; ")
    return "" if len(re.sub(r"\W", "", head)) < 2 or head in topic else head


def _expand_heads(question: str, previous: str) -> str:
    """`question` with each noun that is the bare head of a longer noun run of `previous` given that
    run's modifiers back (中心 after 社区养老服务中心, 委员会 after 住房公积金管理委员会): a
    question that repeats the head means the thing already named, not any such thing."""
    runs = [strip_frame(r).split()[-1] for r in noun_runs(previous) if strip_frame(r).strip()]  # 几个智慧…项目: after the frame
    out, before_noun = question, False
    for w in _cut(question):
        word = w.word.strip()
        nounish = bool(word) and w.flag.startswith(_NOUNISH)
        if nounish and not before_noun and len(word) >= 2:
            longer = [r for r in runs if r.endswith(word) and len(r) > len(word) and r not in out]
            if longer:
                out = out.replace(word, max(longer, key=len), 1)
        before_noun = nounish
    return out


def _shares_word(a: str, b: str) -> bool:
    """Whether `a` and `b` have two adjacent characters (letters or digits) in common."""
    return any(re.fullmatch(r"\w\w", a[i : i + 2]) and a[i : i + 2] in b for i in range(len(a) - 1))


def _sibling(question: str, previous: str) -> bool:
    """Whether `question` names a thing of its own beside one `previous` named (一般隐患 after
    重大隐患): it repeats a word of one of `previous`'s noun runs and has a noun run `previous` lacks."""
    shared = any(_shares_word(run, question) for run in noun_runs(previous))
    return shared and any(run not in previous for run in noun_runs(question))


def _up_to(previous: str, run: str) -> str:
    """The clause of `previous` that names `run`, up to the end of `run` and without its
    interrogative frame: the pointed-at thing as the earlier question named it
    ("2023年预算报告说今年新发行长期建设债券", where the noun run is only 债券)."""
    at = previous.find(run)
    if at < 0:
        return run
    start = max(previous.rfind(c, 0, at) for c in "，,;；。") + 1  # the clause it is in: an earlier clause's date or venue would be taken for the answer
    head = _MEASURE_LEFT.sub("", strip_frame(previous[start : at + len(run)])).strip("，,、？?。 ")
    return _DANGLING.sub("", head) or run


def _carry(prev: Slots, question: str, scope: str) -> str:
    """The earlier question's places and years that neither `question` nor `scope` names."""
    return "".join(p for p in (*prev.places, *prev.years) if p not in question and p not in scope)


def _same_ordinal(topic: str, text: str) -> str | None:
    """The ordinal of `text` that `topic` (第三项) takes the place of: one counting the same unit
    (项), else the last one (第十二条 … 第一种: the list item asked about comes last)."""
    found = [m.group(0) for m in _ORDINAL_IN.finditer(text)]
    unit = re.sub(r"^第[0-9一二三四五六七八九十百]+", "", topic)
    same = [o for o in found if unit and o.endswith(unit)]
    return (same or found)[-1] if found else None


def _same_head(topic: str, runs: list[str], text: str) -> str | None:
    """The run of `text` that ends as `topic` does (two characters or more: 牵头单位 for 协同单位,
    一次退休金 for 月退休金): the same kind of thing with another modifier; the longest shared
    ending wins. A run that is only the shared ending takes the characters before it in `text`
    as its modifier (牵头 + 单位, where the tagger calls 牵头 a verb), as many as `topic` has."""
    def shared(run: str) -> int:
        n = 0
        while n < min(len(run), len(topic)) and run[-1 - n] == topic[-1 - n] and run[-1 - n].isalnum():
            n += 1
        return n
    found = [(shared(r), r) for r in runs if r != topic and shared(r) >= 2]
    if not found:
        return None
    n, run = max(found, key=lambda f: f[0])
    at = text.find(run)
    modifier = text[max(at - (len(topic) - n), 0) : at] if n == len(run) and at > 0 else ""
    return modifier + run if re.fullmatch(r"[^\W\d的之]+", modifier) and not _YEAR_WORDS.search(modifier) else run


def _sibling_word(topic: str, text: str) -> str | None:
    """The noun of `text` as long as `topic` that ends in the same character (城区 for 郊区):
    a sibling of the same kind, swapped alone rather than the whole noun run around it."""
    if len(topic) < 2:
        return None
    found = [w.word for w in _cut(text) if w.flag.startswith(_NOUNISH) and len(w.word) == len(topic) and w.word != topic and w.word[-1] == topic[-1] and w.word[-1].isalpha()]
    return found[0] if len(set(found)) == 1 else None


def _from_shared(topic: str, run: str) -> str:
    """The part of `run` that `topic` replaces: from where `topic`'s own first words appear in it
    (全省4G基站 → 4G用户 replaces 4G基站 and keeps 全省), else all of it."""
    for n in range(len(topic) - 1, 1, -1):
        at = run.find(topic[:n])
        if at > 0:
            return run[at:]
    return run


def _pointer_words(text: str) -> list[tuple[str, str]]:
    """`text`'s words and tags, a pronoun that points back joined to the measure word after it
    (这 + 套 → 这套, which the tagger splits before a noun) and tagged r."""
    words = [(w.word, w.flag) for w in _cut(text)]
    out: list[tuple[str, str]] = []
    for word, flag in words:
        if out and out[-1][1] == "r" and _POINTER.fullmatch(out[-1][0]) and flag == "q" and _POINTER.fullmatch(out[-1][0] + word):
            out[-1] = (out[-1][0] + word, "r")
        else:
            out.append((word, flag))
    return out


def _pointers(text: str) -> list[str]:
    """The pronouns of `text` that point back (这个, 该, 其, 它 …; jieba tags them r)."""
    return [word for word, flag in _pointer_words(text) if flag == "r" and _POINTER.fullmatch(word)]


def _unpoint(text: str) -> str:
    for word in _pointers(text):
        text = text.replace(word, "", 1)
    return text


def _pointed(question: str) -> tuple[str, str] | None:
    """("这部条例", "条例") when `question` points back with a pronoun followed by a noun."""
    words = _pointer_words(_LEAD.sub("", question.strip()))  # a leading 那 leads, it points at nothing
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
    """去年 after a question about 2022 means 2021; without an earlier year it stays relative.
    今年 always stays: a follow-up that says 今年 after asking about another year means the year
    it is asked in, which `reltime` reads from the document, not the year asked about before."""
    m = RELATIVE_YEAR.search(year)
    if base is None or m is None or RELATIVE_YEARS[m.group(0)] == 0:
        return year
    return f"{base + RELATIVE_YEARS[m.group(0)]}年"


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
