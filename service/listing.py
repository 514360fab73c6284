"""List answers: a question that asks for every record matching a filter gets all of them.

"龚杭娟副市长牵头负责哪些重点工作？" names a person, a role word and a list frame. The filter is
read from the question against the records' own persons and units (never a word list of
names): a person matches when the question contains their name; a unit when the question's
abbreviated form contains the unit's key (`ingest/units.py`: 市发改局 = 发改局 = 市发展和改革局).
Role words choose the column: 牵头/负责/主抓 the lead units, 配合/协助 the co-operating units,
none of them either. Other words of the question narrow the rows when they occur in some rows'
headings or text but not all ("民生实事", "重点工作"). The same `RecordQuery` serves
`GET /v1/records` and the export, so "导出表格" downloads exactly the listed rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from urllib.parse import urlencode

from ragqa.index.textstore import DocumentTable, RecordTable
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold, standard_written
from ragqa.ingest.records import Record
from ragqa.ingest.units import abbreviate, shortens, unit_key

from .answertypes import question_types
from .schemas import Citation, Listing, ListingExport, ListingRow

_LIST_FRAME = re.compile(r"哪些|哪几|哪项|什么(?:工作|任务|事项|项目|事)|有啥|列出|列举|清单|多少|几项|几个|几件|几条|都有|分别|全部|所有")
_COUNT_FRAME = re.compile(r"多少|几项|几个|几件|几条|数量")
_NUMBERED = re.compile(r"^\s*(?:[一二三四五六七八九十百]+[、.．]|\d+[、.．]|[(（][一二三四五六七八九十\d]+[)）]|第[一二三四五六七八九十百\d]+[章节条部分])")
_ROLE_WORDS = re.compile(r"牵头|负责|主抓|主责|主办|领衔|分管|配合|协助|协同|协办|参与|涉及|承担")
# What a question asking for an amount asks for: no list of tasks holds it.
_AMOUNTS = frozenset({"percent", "money", "duration", "date", "bound"})
_TASK_NOUNS = re.compile(r"任务|工作|事项|实事|举措|措施|项目")
_TOGETHER = re.compile(r"共同|一起|同时|都|联合|一道")
_ONLY = re.compile(r"单独|独自|独立|一家|仅由|只由|仅有|只有")
_CO_WORDS = re.compile(r"配合|协助|协同|协办|协作")
_LEAD_WORDS = re.compile(r"牵头|负责|主抓|主责|主办|领衔|分管")
# Question-frame words: they say "a list of tasks", never which tasks.
_FRAME_WORDS = re.compile(
    r"^(?:工作|任务|事项|项目|事情|内容|职责|举措|措施|主要|具体|一共|总共|共有|分别|需要|作为|单位|部门|领导|市领导|"
    r"哪些|哪几|哪几项|多少|几项|列出|列举|所有|全部|清单|承担|参与|涉及|相关|有关|包括|包含)$"
)
_NAMING_TAGS = {"n", "j", "l", "i", "e", "z"}  # jieba tags of nouns, abbreviations and idioms (n, nz, nt, ns …)
_TITLE_WORD = re.compile(r"(?:市|县|区|省|镇|乡)?长$|书记$|主任$|领导$|局长$|部长$")
_ROLE_NAMES = {"lead": "牵头", "co": "配合", "any": "参与"}
RESPONSIBILITY = "responsibility"
GLOSSARY = "glossary"
_DEFINITION_FRAME = re.compile(r"是指|指什么|什么是|什么意思|含义|定义|何谓|具体指|怎么理解|指的是")


@dataclass(frozen=True)
class RecordQuery:
    """A filter over records: every given condition holds. `groups` must each occur in the
    row's headings, `titles` in its document's title, `terms` in its headings or text."""

    kind: str | None = None
    persons: tuple[str, ...] = ()
    units: tuple[str, ...] = ()  # unit keys
    role: str = "any"  # lead | co | any
    doc: str | None = None
    groups: tuple[str, ...] = ()
    parts: tuple[str, ...] = ()  # words of the row's unnumbered headings (part titles)
    titles: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    either: bool = False  # units: any of them rather than all (several units named, not 共同/都)
    only: bool = False  # units: exactly these and no other (单独, 仅由)
    label: str = field(default="", compare=False)  # how the question names a body no record knows
    unmatched: tuple[str, ...] = field(default=(), compare=False)  # names of the question no row mentions
    rest: str = field(default="", compare=False)  # the question without the names it matched

    def params(self) -> dict[str, str | list[str]]:
        """The query as `GET /v1/records` parameters."""
        out: dict[str, str | list[str]] = {"role": self.role}
        if self.either:
            out["either"] = "true"
        if self.only:
            out["only"] = "true"
        named = {"type": self.kind, "doc": self.doc}
        out.update({k: v for k, v in named.items() if v})
        lists = {"person": self.persons, "unit": self.units, "group": self.groups + self.parts, "title": self.titles, "q": self.terms}
        out.update({k: list(v) for k, v in lists.items() if v})
        return out


@dataclass
class RecordBook:
    """The records of one index, with what matching needs (built once per index)."""

    records: Sequence[Record]  # a RecordTable reads them from the index as they are gone through
    documents: Mapping[str, Document]
    _titles: dict[str, str] = field(default_factory=dict)

    @cached_property
    def persons(self) -> set[str]:
        if isinstance(self.records, RecordTable):
            return self.records.keys("name:")
        return {fold(p) for r in self.records for p in r.persons if len(p) >= 2}

    @cached_property
    def doc_ids(self) -> list[str]:
        """The documents that have records."""
        if isinstance(self.records, RecordTable):
            return self.records.documents()
        return list(dict.fromkeys(r.doc_id for r in self.records))

    @cached_property
    def unit_keys(self) -> set[str]:
        if isinstance(self.records, RecordTable):
            return {k for k in self.records.keys("unit:") if len(k) >= 2}
        return {unit_key(u) for r in self.records for u in r.units if len(unit_key(u)) >= 2}

    def unit_name(self, key: str) -> str:
        """How the records most often spell the unit with `key` (人行 -> 人民银行)."""
        rows = self.records.read(self.records.having(f"unit:{key}")) if isinstance(self.records, RecordTable) else self.records
        names = [u for r in rows for u in r.units if unit_key(u) == key]
        return max(set(names), key=names.count) if names else key

    def title(self, doc: str) -> str:
        if doc not in self._titles:
            if isinstance(self.documents, DocumentTable):
                head = self.documents.heads.get(doc)
                self._titles[doc] = fold(head.title) if head else ""
            else:
                found = self.documents.get(doc)
                self._titles[doc] = fold(found.title) if found else ""
        return self._titles[doc]

    def part(self, record: Record) -> str:
        """The row's unnumbered headings: the titles of the parts of a document."""
        return fold(" ".join(g for g in record.group if not _NUMBERED.match(fold(g))))

    def heading(self, record: Record) -> str:
        return fold(" ".join(record.group))

    def select(self, query: RecordQuery) -> list[Record]:
        """The records `query` matches, in document order."""
        return [r for r in self._candidates(query) if self._matches(r, query)]

    def _candidates(self, query: RecordQuery) -> Iterable[Record]:
        """Records among which are all that `query` matches: from an index's `RecordTable`, those
        with its kind, one of its persons and its units (any of them, when `either`), looked up by
        key; every record when the query names none of these."""
        table = self.records
        if not isinstance(table, RecordTable):
            return table
        found: list[set[int]] = []
        if query.kind:
            found.append(table.having(f"kind:{query.kind}"))
        if query.persons:
            found.append(set().union(*(table.having(f"person:{p}") for p in query.persons)))
        if query.units:
            per_unit = [table.having(f"unit:{k}") for k in query.units]
            found.append(set().union(*per_unit) if query.either else set.intersection(*per_unit))
        return table.read(set.intersection(*found)) if found else table

    def _matches(self, record: Record, query: RecordQuery) -> bool:
        if query.kind and record.kind != query.kind:
            return False
        if query.doc and record.doc_id != query.doc:
            return False
        if query.persons and not {fold(p) for p in record.persons} & set(query.persons):
            return False
        if query.units:
            role = "any" if query.only else query.role
            column = record.lead if role == "lead" else record.co if role == "co" else record.units
            keys = {unit_key(u) for u in column}
            if not (any if query.either else all)(k in keys for k in query.units):
                return False
            if query.only and {unit_key(u) for u in record.units} != set(query.units):
                return False
        if not all(fold(t) in self.heading(record) for t in query.groups):
            return False
        if not all(fold(t) in self.part(record) for t in query.parts):
            return False
        if not all(fold(t) in self.title(record.doc_id) for t in query.titles):
            return False
        return all(fold(t) in self.heading(record) + fold(record.text) for t in query.terms)


def _longest(found: set[str]) -> tuple[str, ...]:
    """Matches not contained in a longer match (发改局 inside 市发改局 counts once)."""
    return tuple(sorted(k for k in found if not any(k != o and k in o for o in found)))


def read_query(question: str, book: RecordBook) -> tuple[RecordQuery, bool] | None:
    """The record filter a list question asks for, and whether it asks for a count; None when
    the question names no person or unit the records know, or is no list question."""
    folded = standard_written(fold(question))
    if not _LIST_FRAME.search(folded) or not (_ROLE_WORDS.search(folded) or _TASK_NOUNS.search(folded)):
        return None
    if question_types(folded) & _AMOUNTS:  # "银行承担的风险比例是多少": an amount, not a list of tasks
        return None
    short = abbreviate(question)
    persons = _longest({p for p in book.persons if p in folded})
    exact = {k for k in book.unit_keys if k in short}
    shorter = _shortened_units(short, book.unit_keys)
    units = _longest(exact | set(shorter.values()))
    for form, key in shorter.items():
        short = short.replace(form, key)
    if not persons and not units:
        return _unknown_body(folded, book)
    role = "co" if _CO_WORDS.search(folded) else "lead" if _LEAD_WORDS.search(folded) else "any"
    rest = short
    for name in persons + units:
        rest = rest.replace(name, " ")
    either = len(units) > 1 and not _TOGETHER.search(folded)
    only = bool(units) and bool(_ONLY.search(folded))
    base = RecordQuery(kind=RESPONSIBILITY, persons=persons, units=units, role=role, either=either, only=only, rest=rest)
    return _narrowed(rest, base, book), bool(_COUNT_FRAME.search(folded))


def _shortened_units(text: str, keys: set[str]) -> dict[str, str]:
    """Short forms in `text` of exactly one known unit each (`shortens`): form -> unit key. A
    form ends where a body's name ends (部, 局, 委 …) and is the longest that fits."""
    found: dict[str, str] = {}
    for end in (m.end() for m in _BODY_END.finditer(text)):
        for start in range(max(0, end - 8), end - 1):
            form = text[start:end]
            fits = [k for k in keys if shortens(form, k)]
            if len(fits) == 1 and form not in keys:
                found[form] = fits[0]
                break
    return found


_BODY_END = re.compile(r"(?:部|局|委|办|厅|署|中心|集团|公司|银行)")
# A body named just before a role word: "…，某某部负责哪些工作".
_BODY_BEFORE_ROLE = re.compile(
    r"(?:^|[，,。：:；;在由里中])(?P<body>[\u4e00-\u9fff]{1,12}?(?:部|局|委|办|厅|署|中心|集团|公司|银行|政府))"
    r"(?:牵头|负责|配合|参与|协助|主抓|承担|涉及)"
)


def _unknown_body(folded: str, book: RecordBook) -> tuple[RecordQuery, bool] | None:
    """A list question about a body that no record names (nor could be a short form of) while the
    documents do assign tasks: a query for that body, which matches nothing."""
    m = _BODY_BEFORE_ROLE.search(folded)
    if m is None or not book.unit_keys:
        return None
    body = unit_key(m.group("body"))
    role = "co" if _CO_WORDS.search(folded) else "lead" if _LEAD_WORDS.search(folded) else "any"
    if len(body) < 2 or any(shortens(body, key) or body in key or _abbreviates(body, key) for key in book.unit_keys):
        return None
    return RecordQuery(kind=RESPONSIBILITY, units=(body,), role=role, label=m.group("body"), rest=folded), False


def _narrowed(rest: str, base: RecordQuery, book: RecordBook) -> RecordQuery:
    """`base` narrowed by the words of the question that pick out some of its rows but not all.

    A word that the question uses as part of a longer name of a document (its title shares a
    longer span of the question than any heading does) scopes by document title, or by a title
    it abbreviates (经开区 -> 经济开发区); otherwise it scopes by the rows' headings, and failing
    that by their text."""
    query = base
    for word, flag in dict.fromkeys(_words(rest)):
        if len(word) < 2 or _FRAME_WORDS.match(word) or _TITLE_WORD.search(word) or re.fullmatch(r"[\W\d_]+", word):
            continue
        if _LIST_FRAME.fullmatch(word) or _CO_WORDS.search(word) or _LEAD_WORDS.search(word):
            continue
        if flag[:1] in _NAMING_TAGS and not _accounted(word, query, book):
            # a name the matching rows never mention: the question asks about something more
            # specific than the filter (one task's co-operators), not for the list
            return replace(query, unmatched=(*query.unmatched, word))
        rows = book.select(query)
        titles = [book.title(d) for d in book.doc_ids]
        heads = [book.heading(r) for r in rows]
        names_document = _span(rest, word, titles) > _span(rest, word, heads)
        if names_document or not any(word in h for h in heads):
            # scoping by document considers every document with records, so a question about one
            # document is not answered from another even when only the other has matching rows
            query = _scope(query, "titles", word, [word in t for t in titles]) or _by_abbreviated_title(word, query, book)
            if names_document or any(word in t for t in titles):
                continue
        if any(word in t for t in titles):
            # a word of a document's title picks a part of it only by a part title (an unnumbered
            # heading such as "……民生实事责任分解"), not by a numbered section that repeats it
            rows = book.select(query)
            query = _scope(query, "parts", word, [word in book.part(r) for r in rows]) or query
            continue
        narrower = _scope(query, "groups", word, [word in h for h in heads])
        if narrower is None and flag[:1] in _NAMING_TAGS:  # only names narrow by text, never verbs (推进, 落实)
            narrower = _scope(query, "terms", word, [word in h + fold(r.text) for h, r in zip(heads, rows, strict=True)])
        query = narrower or query
    return query


def _accounted(word: str, query: RecordQuery, book: RecordBook) -> bool:
    """Whether `word` occurs in some document title, or in the heading or text of some row of
    the person's or unit's in the asked role (any scope)."""
    if any(word in book.title(d) or _abbreviates(word, book.title(d)) for d in book.doc_ids):
        return True
    wide = RecordQuery(kind=query.kind, persons=query.persons, units=query.units, role=query.role, either=query.either, only=query.only)
    return any(word in book.heading(r) + fold(r.text) for r in book.select(wide))


def _words(text: str) -> list[tuple[str, str]]:
    """(word, jieba tag) of `text`, a one-character noun joined to the word before it
    (综保 + 区 -> 综保区, 工信 + 部 -> 工信部)."""
    from jieba import posseg  # loaded by configure_jieba (service start) or here on first use

    out: list[tuple[str, str]] = []
    for token in posseg.cut(text):
        word, flag = token.word.strip(), token.flag
        if out and len(word) == 1 and flag.startswith("n") and re.fullmatch(r"[\u4e00-\u9fff]+", out[-1][0]):
            out[-1] = (out[-1][0] + word, out[-1][1])
        elif word:
            out.append((word, flag))
    return out


def _scope(query: RecordQuery, key: str, word: str, hits: list[bool]) -> RecordQuery | None:
    """`query` with `word` added to `key` when it holds for some rows but not all; else None."""
    if not 0 < sum(hits) < len(hits):
        return None
    if key == "titles":
        return replace(query, titles=(*query.titles, word))
    if key == "groups":
        return replace(query, groups=(*query.groups, word))
    if key == "parts":
        return replace(query, parts=(*query.parts, word))
    return replace(query, terms=(*query.terms, word))


def _span(rest: str, word: str, texts: list[str]) -> int:
    """The longest stretch of `rest` around `word` that occurs in one of `texts`."""
    at = rest.find(word)
    if at < 0 or not any(word in t for t in texts):
        return 0
    a, b = at, at + len(word)
    while b < len(rest) and any(rest[a : b + 1] in t for t in texts):
        b += 1
    while a > 0 and any(rest[a - 1 : b] in t for t in texts):
        a -= 1
    return b - a


def _abbreviates(word: str, text: str) -> str | None:
    """The span of `text` that `word` abbreviates: its characters in order, within a span at
    most twice as long plus two (经开区 -> 经济开发区); None if there is none."""
    for start in (i for i, ch in enumerate(text) if ch == word[0]):
        pos = start
        for ch in word[1:]:
            pos = text.find(ch, pos + 1, start + 2 * len(word) + 2)
            if pos < 0:
                break
        else:
            return text[start : pos + 1]
    return None


def _by_abbreviated_title(word: str, query: RecordQuery, book: RecordBook) -> RecordQuery:
    """Narrow by the one document title that `word` abbreviates, when others do not."""
    if len(word) < 3:
        return query
    spans = {d: _abbreviates(word, book.title(d)) for d in book.doc_ids}
    found = {span for span in spans.values() if span}
    if len(found) == 1 and any(span is None for span in spans.values()):
        return replace(query, titles=(*query.titles, found.pop()))
    return query
    return query


def _scope_name(query: RecordQuery, heads: list[str]) -> str:
    """How the title names the rows: the words that narrowed them, widened to the longest span
    of the question (names taken out) that the rows' headings or text share; or 任务."""
    words = query.groups + query.parts + query.terms
    if not words:
        return "任务"
    folded = query.rest
    spots = [(folded.find(w), folded.find(w) + len(w)) for w in words if w in folded]
    if not spots:
        return "、".join(words)
    a, b = min(x for x, _ in spots), max(y for _, y in spots)
    while b < len(folded) and any(folded[a : b + 1] in h for h in heads):
        b += 1
    return folded[a:b] if b - a <= 16 else "、".join(words)


@dataclass(frozen=True)
class Listed:
    """A list answer: the text, a citation per row and the table; or, when the named person or
    unit has rows but none in the asked role or scope, a refusal that says so."""

    text: str
    citations: list[Citation]
    listing: Listing | None
    refused: bool = False


def _defines(term: str, question: str) -> bool:
    """Whether `question` asks what `term` itself means: the term right before the frame
    ("X是指什么", "X一词的含义") or right after it ("什么是X", "何谓X")."""
    t = re.escape(term)
    after = rf"{t}[”\"」』]?(?:一词|这个词|这一概念|这个概念)?的?(?:具体)?(?:是指|指什么|指的是|是什么意思|什么意思|含义|定义|怎么理解|是什么|(?:是)?(?:怎么|如何|怎样)定义)"
    before = rf"(?:什么是|何谓|什么叫|何为)[“\"「『]?{t}"
    return re.search(after, question) is not None or re.search(before, question) is not None


def build_definition(question: str, book: RecordBook) -> Listed | None:
    """"X 指什么" when a glossary entry or a "本法所称X，是指…" sentence defines X: that entry,
    cited (several when documents define it alike, scoped by the question's other words)."""
    folded = standard_written(fold(question))  # 甚麼 (the Hong Kong spelling) and Cantonese 乜嘢 read as 什么
    if not _DEFINITION_FRAME.search(folded):
        return None
    terms = {fold(r.number) for r in book.select(RecordQuery(kind=GLOSSARY)) if len(r.number) >= 2}
    named = [t for t in terms if _defines(t, folded)]
    if not named:
        return None
    term = max(named, key=len)
    base = RecordQuery(kind=GLOSSARY, rest=folded.replace(term, " "))
    rows = [r for r in book.select(_narrowed(base.rest, base, book)) if fold(r.number) == term]
    if not rows:
        # the question's other words pick none of the entries: still the entry when one document
        # alone defines the term (the question names the document by its kind, not by a part of it)
        every = [r for r in book.select(base) if fold(r.number) == term]
        rows = every if len({r.doc_id for r in every}) == 1 else []
    if not rows:
        return None
    citations = [_citation(i, r, book.documents[r.doc_id]) for i, r in enumerate(rows, start=1)]
    text = "\n".join(f"{r.number}：{r.text}[{i}]" for i, r in enumerate(rows, start=1))
    return Listed(text, citations, None)


def build_listing(question: str, book: RecordBook) -> Listed | None:
    """The list answer to a question that asks for every matching record; else None."""
    read = read_query(question, book)
    if read is None:
        return None
    query, count = read
    if query.unmatched:
        return None
    rows = book.select(query)
    subject = query.label or "、".join(query.persons + tuple(book.unit_name(k) for k in query.units))
    scope = _scope_name(query, [book.heading(r) + " " + fold(r.text) for r in rows[:50]])
    if not rows:
        elsewhere = book.select(RecordQuery(kind=query.kind, persons=query.persons, units=query.units, either=query.either))
        if not elsewhere and query.units and query.units[0] not in book.unit_keys:
            return Listed(f"文档中没有找到{subject}{_ROLE_NAMES[query.role]}的任务：各项任务的责任单位中没有{subject}。", [], None, refused=True)
        if not elsewhere:
            return None
        text = f"文档中没有找到{subject}{_ROLE_NAMES[query.role]}的{scope}（{subject}在{len(elsewhere)}项任务中列为责任单位或牵头领导）。"
        return Listed(text, [], None, refused=True)
    title = f"{subject}{_ROLE_NAMES[query.role]}的{scope}，共{len(rows)}项"
    citations = [_citation(i, r, book.documents[r.doc_id]) for i, r in enumerate(rows, start=1)]
    lines = [f"{i}. {_row_text(r)}[{i}]" for i, r in enumerate(rows, start=1)]
    text = title + ("。" if count else "：") + "\n" + "\n".join(lines)
    return Listed(text, citations, listing_of(title, rows, query))


def _row_text(record: Record) -> str:
    """One line of the plain-text list: the task and who leads it (the table has the rest)."""
    who = "、".join(record.lead) or "、".join(record.persons)
    return record.text + (f"（牵头：{who}）" if who else "")


def _citation(n: int, record: Record, doc: Document) -> Citation:
    return Citation(
        id=n, doc=record.doc_id, title=doc.title, start_line=record.start_line, end_line=record.end_line,
        clause=" › ".join(record.group), quote="\n".join(doc.lines[record.start_line - 1 : record.end_line]),
        page=doc.page_of(record.start_line), page_line=doc.line_on_page(record.start_line),
    )  # fmt: skip


COLUMNS = ["序号", "任务", "牵头领导", "牵头单位", "配合单位", "完成时限"]


def row_cells(record: Record) -> list[str]:
    """A responsibility record as the cells of `COLUMNS`."""
    return [record.number, record.text, "、".join(record.persons), "、".join(record.lead), "、".join(record.co), record.deadline]


def listing_of(title: str, rows: list[Record], query: RecordQuery) -> Listing:
    cells = [row_cells(r) for r in rows]
    asked = {fold(p) for p in query.persons}
    # a column is kept when it says something: not empty, and not just the person asked about
    keep = [i for i in range(len(COLUMNS)) if i < 2 or (any(c[i] for c in cells) and {fold(c[i]) for c in cells} - asked)]
    params = urlencode(query.params(), doseq=True)
    return Listing(
        kind=RESPONSIBILITY, title=title, columns=[COLUMNS[i] for i in keep], total=len(rows),
        rows=[ListingRow(group=" › ".join(r.group), cells=[c[i] for i in keep], citation=n)
              for n, (r, c) in enumerate(zip(rows, cells, strict=True), start=1)],
        export=ListingExport(csv=f"/v1/records/export.csv?{params}", xlsx=f"/v1/records/export.xlsx?{params}"),
    )  # fmt: skip
