"""Records: the rows of a document that staff look up whole, extracted at ingest beside chunks.

A question such as "市发改局牵头哪些工作？" needs every matching row, not the best sentence.
`extract_records(doc)` finds, each with its exact source lines and heading path:

- **responsibility** rows of a responsibility breakdown: a numbered task followed by labelled
  lines (责任单位 / 牵头单位 / 配合单位 / 牵头市领导 / 完成时限 …), or a table whose header has
  such columns. The leading official comes from the section heading ("二、郭锦明常务副市长牵头
  的重点工作") or a 领导 label. In a 责任单位 list the lead units are, by the documents' own rule
  ("列第一位者为牵头单位"), the bold units, else the group before the first comma, else the first
  unit; the rest co-operate.
- **table_row**: a row of any other table, header -> cell.
- **article**: 第X条 with its chapter and section.
- **glossary**: entries of a 名词解释 / 术语 / 用语含义 section, and "本X所称A，是指B" sentences.

PDF debris is expected: headings glued to the end of the previous 责任单位 line, page-break
fragments that look like headings ("#### 事处"), unit names broken by a space ("市卫健 局").
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from .clauses import detect_heading, table_cells
from .model import Document
from .normalize import CJK, clean_line, fold

RECORDS_VERSION = "records-4"

# Labels of responsibility breakdowns, by the role of their value.
_LABEL = re.compile(
    r"(?P<label>责任单位|责任部门|牵头单位|牵头部门|主办单位|主责单位|配合单位|配合部门|协同单位|协办单位|参与单位"
    r"|牵头[市县区省]?领导|责任领导|分管领导|联系领导|责任人|完成时限|完成时间|时间节点|时间要求)\s*[:：]"
)
_ROLE_OF_LABEL = [
    ("persons", re.compile(r"领导$|责任人")),
    ("deadline", re.compile(r"时限|时间")),
    ("lead", re.compile(r"牵头|主办|主责")),
    ("co", re.compile(r"配合|协同|协办|参与")),
    ("units", re.compile(r"责任")),
]
_CN_NUM = "一二三四五六七八九十"
# An item marker: 12. / 12、 / 十二、 / （三） at a line start or after a space (glued PDF lines).
_MARKER = re.compile(
    rf"(?:(?<=\n)|(?<=^)|(?<=[ \t\u3000]))(?:#{{1,6}}\s*)?(?:\*\*)?"
    rf"(?P<num>\d{{1,3}}(?=[.．、])|[{_CN_NUM}]{{1,3}}(?=、)|[(（][{_CN_NUM}\d]{{1,3}}[)）])[.．、]?"
)
# A task number glued to the end of a unit list with no space ("…市税务局7.深化…").
_GLUED_MARKER = re.compile(r"(?<![\d.．])\d{1,3}[.．](?=[\u4e00-\u9fff\"“])")
_SENTENCE_END = re.compile(r"[。；;！？!?]")
_HEADING_MAX = 40
_CONTINUATION_MAX = 12
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_NOTE = re.compile(r"[(（][^()（）]*[,，;；][^()（）]*[)）]|[(（][^()（）]{13,}[)）]")
_GROUP_SEP = re.compile(r"[,，;；]")
_UNIT_SEP = re.compile(r"[、,，;；/]")
# A leading official in a heading: a name of 2–4 characters and a government title.
_OFFICIAL = re.compile(
    rf"(?P<name>[{CJK}]{{2,4}}?)(?:同志)?(?:(?:常务|常委|党组|执行)?副?(?:市|县|区|省|州|镇|乡)?长|(?:副)?书记|(?:副)?主任|(?:副)?局长"
    rf"|(?:副)?部长|(?:副)?秘书长|(?:副)?厅长|(?:副)?主席|(?:副)?院长|(?:副)?行长|(?:副)?巡视员|(?:副)?调研员)"
    rf"(?=牵头|负责|分管|联系|领衔|主抓|$)"
)
_TASK_HEADERS = re.compile(r"任务|工作|事项|内容|项目|措施|举措|目标|名称")
_NUMBER_HEADERS = re.compile(r"^(?:序号|编号|序|No\.?)$", re.IGNORECASE)
_GLOSSARY_HEADING = re.compile(r"名词解释|名词释义|术语|用语含义|用语的含义|词语解释|释义")
_GLOSSARY_ENTRY = re.compile(r"^(?:\d{1,3}[.．、]|[(（][^)）]{1,3}[)）])?\s*(?P<term>[^：:，,。；;]{2,24}?)\s*[：:]\s*(?P<def>.{4,})$")
_DEFINED = re.compile(
    r"(?:^|(?<=[。；;]))\s*(?:第[一二三四五六七八九十百零〇两\d]{1,6}[条條]\s*)?(?:\d+(?:\.\d+)*\s*)?(?:本[\u4e00-\u9fff]{1,4}?(?:所称的?|中的?)|本(?:标准|条例|办法|规定|法律|法|细则|规则|准则|意见|通知|决定|章|节)|前款(?:中的|所称的?)|所称的?)?"
    r"(?P<term>[^，,。；;：:“”（）()\s]{2,20}?)[，,]?(?:是|系)指(?P<def>[^。]+。?)"
)
# A term glossed by a dash, as syllabuses and plans define their terms ("X——能够…").
_DASHED = re.compile(rf"^(?P<term>[{CJK}“”「」]{{2,16}})\s*——\s*(?P<def>[^—].{{3,}})$")
# A term with its English name, as ordinances ("X ( lis pendens )指…") and standards' term entries
# ("3.7" / "X collection and transmission device" / the definition on the next line) give it.
_ENGLISH = r"[A-Za-z][A-Za-z .,;'/\-]*"
_GLOSSED = re.compile(rf"(?:^|(?<=[；;。]))\s*(?P<term>[{CJK}]{{2,16}})\s*[(（]\s*{_ENGLISH}[)）]\s*(?:或[^指；;]{{1,40}}?)?指\s*(?P<def>[^；;]*)")
# An item of a definitions article ("本法用詞，定義如下：" / "一、菸品：指…"; "（三）基本支出：指…"):
# a term, a colon and 指 (not 指导, 指定… which are verbs).
_COLON_DEFINED = re.compile(
    rf"^(?:[(（][一二三四五六七八九十\d]{{1,3}}[)）]|[一二三四五六七八九十]{{1,3}}、|\d{{1,2}}[.．、])?\s*(?P<term>[{CJK}“”「」]{{2,16}})[：:]\s*"
    r"指(?![导導出定挥揮派引标標示令南向])(?P<def>.{2,})$"
)
_TERM_LINE = re.compile(rf"^(?P<term>[{CJK}“”「」/、]{{2,24}})\s*[(（]?\s*{_ENGLISH}[)）]?$")
_ENTRY_NUMBER = re.compile(r"^\d{1,2}(?:\.\d{1,3}){1,3}$")
_ITEM_START = re.compile(r"^\s*(?:[(（][a-zA-Z0-9一二三四五六七八九十]{1,3}[)）]|[a-z][)）.．])")
_ARTICLE = re.compile(rf"^第(?P<num>[{_CN_NUM}百零〇两\d]{{1,6}}(?:-\d{{1,3}})?)条(?P<sub>之[{_CN_NUM}]{{1,3}})?")


@dataclass(frozen=True, kw_only=True)
class Record:
    """One row a question can list: its kind, where it is, its text and its fields."""

    doc_id: str
    kind: str  # responsibility | table_row | article | glossary
    start_line: int
    end_line: int
    text: str
    number: str = ""
    group: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    persons: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()
    co: tuple[str, ...] = ()
    deadline: str = ""

    @property
    def units(self) -> tuple[str, ...]:
        return self.lead + self.co

    def to_json(self) -> dict[str, object]:
        return {
            "doc_id": self.doc_id, "kind": self.kind, "start_line": self.start_line, "end_line": self.end_line,
            "text": self.text, "number": self.number, "group": list(self.group), "fields": [list(f) for f in self.fields],
            "persons": list(self.persons), "lead": list(self.lead), "co": list(self.co), "deadline": self.deadline,
        }  # fmt: skip

    @staticmethod
    def from_json(row: dict[str, object]) -> Record:
        def strings(key: str) -> tuple[str, ...]:
            value = row.get(key, [])
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        pairs = row.get("fields", [])
        fields = tuple((str(p[0]), str(p[1])) for p in pairs) if isinstance(pairs, list) else ()
        return Record(
            doc_id=str(row["doc_id"]), kind=str(row["kind"]), start_line=int(str(row["start_line"])),
            end_line=int(str(row["end_line"])), text=str(row["text"]), number=str(row.get("number", "")),
            group=strings("group"), fields=fields, persons=strings("persons"), lead=strings("lead"),
            co=strings("co"), deadline=str(row.get("deadline", "")),
        )  # fmt: skip


def extract_records(doc: Document) -> list[Record]:
    """Every record of `doc`, in document order."""
    records = _responsibilities(doc) + _bracketed(doc) + _tables(doc) + _articles(doc) + _glossary(doc)
    return sorted(records, key=lambda r: (r.start_line, r.kind))


# ---------------------------------------------------------------------------------------------
# The text as one stream: responsibility rows run across lines, and lines glue rows together.


@dataclass
class _Stream:
    """The document's lines joined by newlines, in a folded form of equal length for matching."""

    raw: str
    folded: str
    starts: list[int]

    @staticmethod
    def of(doc: Document) -> _Stream:
        folded_lines = []
        for line in doc.lines:
            f = fold(line)
            folded_lines.append(f if len(f) == len(line) else line)
        starts, pos = [], 0
        for line in doc.lines:
            starts.append(pos)
            pos += len(line) + 1
        return _Stream("\n".join(doc.lines), "\n".join(folded_lines), starts)

    def line_of(self, pos: int) -> int:
        """The 1-based line of character `pos`."""
        return bisect.bisect_right(self.starts, pos)

    def line_end(self, pos: int) -> int:
        end = self.raw.find("\n", pos)
        return len(self.raw) if end < 0 else end


def _tidy(text: str) -> str:
    """Display text of a stretch of the stream: markdown and PDF spacing gone, lines joined."""
    return "".join(clean_line(part) for part in text.split("\n")).strip()


def _role(label: str) -> str:
    return next(role for role, pattern in _ROLE_OF_LABEL if pattern.search(label))


@dataclass
class _Label:
    role: str
    start: int
    value_start: int
    value_end: int = 0


def _labels(stream: _Stream) -> list[_Label]:
    """Labelled values in order, each value ending at the next label, a marker after a space,
    or its line end, unless the next lines continue it (a list ending in 、 or a short page-break
    fragment such as "事处")."""
    found = [_Label(_role(m.group("label")), m.start(), m.end()) for m in _LABEL.finditer(stream.folded)]
    for i, label in enumerate(found):
        limit = found[i + 1].start if i + 1 < len(found) else len(stream.raw)
        label.value_end = _value_end(stream, label.value_start, min(limit, _closing(stream.raw, label.value_start)))
    return found


def _closing(text: str, start: int) -> int:
    """Where a parenthesis opened before `start` closes on its line ("（责任单位：A；协同单位：B）"),
    or the text's end."""
    depth = 0
    for pos in range(start, len(text)):
        ch = text[pos]
        if ch == "\n":
            break
        if ch in "(（〔":
            depth += 1
        elif ch in ")）〕":
            if depth == 0:
                return pos
            depth -= 1
    return len(text)


def _value_end(stream: _Stream, start: int, limit: int) -> int:
    pos = start
    while True:
        line_end = min(stream.line_end(pos), limit)
        marker = _MARKER.search(stream.folded, pos, line_end) or _GLUED_MARKER.search(stream.folded, pos, line_end)
        if marker is not None:
            return marker.start()
        value_so_far = _tidy(stream.raw[start:line_end])
        nxt = line_end + 1
        while nxt < limit and stream.raw[nxt] == "\n":
            nxt += 1
        if nxt >= limit:
            return line_end
        next_line = stream.raw[nxt : stream.line_end(nxt)]
        if not _continues(value_so_far, next_line):
            return line_end
        pos = nxt


def _continues(value: str, next_line: str) -> bool:
    if re.match(r"^\s*#{1,3}\s", next_line) or _MARKER.match(next_line):
        return False
    text = clean_line(next_line)
    if not text or _LABEL.match(fold(text)) or re.match(rf"^[{CJK}]{{1,6}}[:：]", text):
        return False
    if _SENTENCE_END.search(text):
        return False
    return value.endswith(("、", ",", "，")) or len(text) <= _CONTINUATION_MAX or "、" in text


# ---------------------------------------------------------------------------------------------
# Responsibility rows written as text: task, then labelled lines.


@dataclass
class _Row:
    start: int
    end: int
    number: str
    text: str
    group: tuple[str, ...]
    persons: tuple[str, ...]
    values: dict[str, list[str]] = field(default_factory=dict)


def _blocks(labels: list[_Label], stream: _Stream) -> Iterator[list[_Label]]:
    """Runs of labels with nothing but their values between them (one task's labelled lines)."""
    block: list[_Label] = []
    for label in labels:
        if block and stream.raw[block[-1].value_end : label.start].strip():
            yield block
            block = []
        block.append(label)
    if block:
        yield block


def _is_heading(raw: str, text: str, following: str | None) -> bool:
    """A line of a task region that heads the tasks after it rather than being a task: short,
    no sentence end, and followed by a numbered line (or marked as a heading)."""
    if following is None or len(text) > _HEADING_MAX or _SENTENCE_END.search(text):
        return False
    return raw.lstrip().startswith("#") or _MARKER.match(fold(following.strip())) is not None


def _officials(heading: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.group("name") for m in _OFFICIAL.finditer(heading)))


@dataclass
class _Context:
    group: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    title_seen: bool = False


def _read_region(stream: _Stream, start: int, end: int, ctx: _Context) -> tuple[int, str, str] | None:
    """The task of the text between two label blocks: (start offset, number, text); headings
    met on the way update `ctx`. None when the region holds no task text."""
    lines: list[tuple[int, str]] = []
    pos = start
    while pos < end:
        line_end = min(stream.line_end(pos), end)
        if stream.raw[pos:line_end].strip():
            lines.append((pos, stream.raw[pos:line_end]))
        pos = line_end + 1
    heads = [
        _is_heading(raw, clean_line(raw), lines[i + 1][1] if i + 1 < len(lines) else None) for i, (_, raw) in enumerate(lines)
    ]
    for (_, raw), head in zip(lines, heads, strict=True):
        if head:
            _heading(ctx, clean_line(raw), raw)
    after = [i for i in range(len(lines)) if i > max((j for j, h in enumerate(heads) if h), default=-1)]
    numbered = [i for i in after if _MARKER.match(fold(lines[i][1].lstrip()))]
    first = numbered[0] if numbered else (after[0] if after else None)
    task_at = None if first is None else lines[first][0] + len(lines[first][1]) - len(lines[first][1].lstrip())
    if task_at is None:
        return None
    body = stream.raw[task_at:end]
    marker = _MARKER.match(stream.folded[task_at:end])
    number = marker.group("num").strip("()（）") if marker else ""
    text = _tidy(body[marker.end() :] if marker else body).rstrip("(（〔").lstrip(")）〕。.;；,，、").strip()
    return (task_at, number, text) if text else None


def _heading(ctx: _Context, text: str, raw: str) -> None:
    people = _officials(text)
    numbered = _MARKER.match(fold(raw.strip())) is not None
    if numbered or people:
        ctx.group = (*ctx.group[:1], text) if ctx.group else (text,)
        ctx.persons = people
    else:
        ctx.group, ctx.persons = (text,), ()


def _responsibilities(doc: Document) -> list[Record]:
    stream = _Stream.of(doc)
    labels = _labels(stream)
    if sum(1 for label in labels if label.role in ("units", "lead")) < 2:
        return []
    rows: list[_Row] = []
    ctx, prev_end = _Context(), 0
    for block in _blocks(labels, stream):
        region = _read_region(stream, prev_end, block[0].start, ctx)
        prev_end = block[-1].value_end
        if region is None:
            continue
        at, number, text = region
        row = _Row(at, prev_end, number, text, ctx.group, ctx.persons)
        for label in block:
            row.values.setdefault(label.role, []).append(stream.raw[label.value_start : label.value_end])
        rows.append(row)
    return [_record(doc, stream, row) for row in rows]


def _record(doc: Document, stream: _Stream, row: _Row) -> Record:
    lead: list[str] = []
    co: list[str] = []
    for value in row.values.get("units", []):
        first, rest = split_lead(value)
        lead += first
        co += rest
    for value in row.values.get("lead", []):
        lead += units_of(value)
    for value in row.values.get("co", []):
        co += units_of(value)
    persons = [p for v in row.values.get("persons", []) for p in re.split(r"[、,，;；\s]+", _tidy(v)) if p]
    deadline = "；".join(_tidy(v) for v in row.values.get("deadline", []))
    end_line = stream.line_of(max(row.end - 1, row.start))
    fields = [("牵头单位", "、".join(dict.fromkeys(lead))), ("配合单位", "、".join(dict.fromkeys(co)))]
    if persons or row.persons:
        fields.insert(0, ("牵头领导", "、".join(persons or row.persons)))
    if deadline:
        fields.append(("完成时限", deadline))
    return Record(
        doc_id=doc.doc_id, kind="responsibility", start_line=stream.line_of(row.start), end_line=end_line,
        text=row.text, number=row.number, group=row.group, fields=tuple(fields),
        persons=tuple(persons) or row.persons, lead=tuple(dict.fromkeys(lead)), co=tuple(dict.fromkeys(co)),
        deadline=deadline,
    )  # fmt: skip


def units_of(value: str) -> list[str]:
    """The unit names of a list value, whole (PDF spaces and breaks removed, notes dropped).
    "各镇、乡人民政府" stays one unit: a piece of two characters starting with 各 joins the next."""
    text = _NOTE.sub("", _tidy(value.replace("**", ""))).strip("。.;； ")
    pieces = [p.strip() for p in _UNIT_SEP.split(text)]
    units: list[str] = []
    carry = ""
    for piece in pieces:
        if not piece:
            continue
        if len(piece) <= 2 and piece.startswith("各"):
            carry += piece + "、"
            continue
        units.append(carry + piece)
        carry = ""
    if carry:
        units.append(carry.rstrip("、"))
    return units


def split_lead(value: str) -> tuple[list[str], list[str]]:
    """(lead units, co-operating units) of a 责任单位 list: bold units lead; else the group
    before the first comma; else the first unit."""
    bold = [u for m in _BOLD.finditer(value) for u in units_of(m.group(1))]
    everyone = units_of(value)
    if bold:
        return bold, [u for u in everyone if u not in bold]
    plain = _NOTE.sub("", _tidy(value))
    groups = [g for g in _GROUP_SEP.split(plain) if g.strip()]
    if len(groups) > 1:
        first = units_of(groups[0])
        return first, everyone[len(first) :]
    return everyone[:1], everyone[1:]


# ---------------------------------------------------------------------------------------------
# Responsibility in brackets at the end of a task: "…。（财政部、商务部负责）", "（A牵头，B参与）".

_ANY_BRACKET = re.compile(r"[（(](?P<body>(?:[^（）()]|[（(][^（）()]{0,30}[）)]){2,200})[）)]")
_DUTY_CLAUSE = re.compile(r"(?P<units>.+?)(?P<verb>按职责分工负责|牵头负责|共同负责|分别负责|负责|牵头|参与|配合|按职责分工落实)$")
_UNIT_NOISE = re.compile(r"等(?:有关|相关|其他)?[部门单位和及、]*$|^(?:由)")
_CLAUSE_SEP = re.compile(r"[,，;；。]")
_BODY_END = re.compile(r"(?:部|局|委|办|厅|署|院|会|中心|集团|公司|银行|政府|单位|部门|总局|委员会|办公室|联|社)(?:[(（][^)）]*[)）])?$")
_MIN_BRACKETED = 3


def _duty_of(body: str) -> tuple[list[str], list[str]] | None:
    """(lead, co-operating) units of a bracket, or None when it assigns no one. The first unit
    of a plain "负责" list leads (排在第一位的部门为牵头部门); "牵头" names the leads; a list
    without a verb shares the verb of the clause after it ("A、B，各省级人民政府按职责分工负责")."""
    lead: list[str] = []
    co: list[str] = []
    pending: list[str] = []
    for clause in _CLAUSE_SEP.split(_tidy(body)):
        m = _DUTY_CLAUSE.match(clause.strip())
        if m is None:
            pending += units_of(_UNIT_NOISE.sub("", clause)) if _looks_like_units(clause) else []
            continue
        leader, _, partners = m.group("units").partition("会同")
        if partners:  # "A会同B负责": A leads, B works with it
            lead += pending + units_of(_UNIT_NOISE.sub("", leader))
            co += units_of(_UNIT_NOISE.sub("", partners))
            pending = []
            continue
        units = pending + units_of(_UNIT_NOISE.sub("", leader))
        pending = []
        if not units:
            continue
        verb = m.group("verb")
        if "牵头" in verb:
            lead += units
        elif verb in ("参与", "配合") or lead:
            co += units
        else:
            lead.append(units[0])
            co += units[1:]
    return (lead, co) if lead or co else None


def _looks_like_units(clause: str) -> bool:
    """A bare list of unit names: every item ends like the name of a body."""
    items = [i for i in re.split(r"[、]", clause.strip()) if i]
    return bool(items) and all(_BODY_END.search(i) for i in items)


def found_line(doc: Document, n: int) -> int:
    """The last non-empty line at or before `n` (0 when there is none)."""
    while n >= 1 and not doc.lines[n - 1].strip():
        n -= 1
    return max(n, 0)


def _bracketed(doc: Document) -> list[Record]:
    """Tasks that end in a bracket naming who does them; a line may hold several."""
    found: list[Record] = []
    path: list[str] = []
    for n, raw in enumerate(doc.lines, start=1):
        text = clean_line(raw)
        duties = [(m, d) for m in _ANY_BRACKET.finditer(text) if (d := _duty_of(m.group("body"))) is not None]
        if not duties:
            heading = detect_heading(text) if text else None
            if heading is not None and len(text) <= _HEADING_MAX:
                path = ([] if heading.kind == "cn" else path[:1]) + [text]
            continue
        cut = 0
        for m, (lead, co) in duties:
            task, first = text[cut : m.start()].lstrip(" 。.；;").strip(), n
            cut = m.end()
            if not task and found_line(doc, n - 1):
                first = found_line(doc, n - 1)
                task = clean_line(doc.lines[first - 1])
            marker = _MARKER.match(fold(task))
            number = marker.group("num").strip("()（）") if marker else ""
            fields = (("牵头单位", "、".join(lead)), ("配合单位", "、".join(co)))
            found.append(Record(doc_id=doc.doc_id, kind="responsibility", start_line=first, end_line=n,
                                text=task[marker.end():].strip() if marker else task, number=number, group=tuple(path),
                                fields=fields, lead=tuple(lead), co=tuple(co)))  # fmt: skip
    return found if len(found) >= _MIN_BRACKETED else []


# ---------------------------------------------------------------------------------------------
# Tables, articles, glossary entries.


def _table_blocks(doc: Document) -> Iterator[tuple[str, list[tuple[int, list[str]]]]]:
    """(title, rows) of every table: consecutive table lines; the title is the last short
    non-table line before it."""
    title, rows = "", list[tuple[int, list[str]]]()
    for n, raw in enumerate(doc.lines, start=1):
        cells = table_cells(raw)
        if cells is None:
            if rows:
                yield title, rows
                rows = []
            text = clean_line(raw)
            if text and len(text) <= _HEADING_MAX:
                title = text
            continue
        if cells:
            rows.append((n, cells))
    if rows:
        yield title, rows


def _tables(doc: Document) -> list[Record]:
    out: list[Record] = []
    header: list[str] = []
    for title, rows in _table_blocks(doc):
        for n, cells in rows:
            if _is_header(cells):
                header = cells
                continue
            if not header or not any(cells):
                continue
            record = _row_record(doc, n, title, header, cells)
            follows = bool(out) and out[-1].end_line == n - 1 and out[-1].kind == record.kind
            if follows and not record.text and not record.number:
                out[-1] = _merged(out[-1], record)
                continue
            if follows and not record.number:  # cells merged down from the row above
                above = out[-1]
                record = replace(record, number=above.number, lead=record.lead or above.lead, persons=record.persons or above.persons)
            out.append(record)
    return out


def _merged(row: Record, more: Record) -> Record:
    """A table row continued on the next line (a merged cell split by the PDF): one record."""
    lead = tuple(dict.fromkeys(row.lead + more.lead))
    co = tuple(dict.fromkeys(row.co + more.co))
    return replace(row, end_line=more.end_line, lead=lead, co=co, persons=tuple(dict.fromkeys(row.persons + more.persons)))


def _is_header(cells: list[str]) -> bool:
    filled = [c for c in cells if c]
    return len(filled) >= 2 and all(len(c) <= 12 and not re.search(r"\d{2,}", c) for c in filled) and any(
        _TASK_HEADERS.search(c) or _LABEL.match(fold(c) + "：") for c in filled
    )


def aligned(header: list[str], cells: list[str]) -> list[str]:
    """`cells` as one value per column of `header`. A row wider than its header sits under a
    header cell that spans several columns ("重点任务" over a category, a number and the task):
    the header's other columns take the row's last cells, and its first column the cells left
    over, joined. A narrower row is padded at the end."""
    if len(cells) <= len(header) or len(header) < 2:
        return cells[: len(header)] + [""] * (len(header) - len(cells))
    spanned = len(cells) - len(header) + 1
    return [" ".join(c for c in cells[:spanned] if c), *cells[spanned:]]


def _row_record(doc: Document, n: int, title: str, header: list[str], cells: list[str]) -> Record:
    pairs = [(h or f"列{i + 1}", c) for i, (h, c) in enumerate(zip(header, aligned(header, cells), strict=True)) if h or c]
    roles = {h: _role(fold(h)) for h, _ in pairs if _LABEL.match(fold(h) + "：")}
    number = next((c for h, c in pairs if _NUMBER_HEADERS.match(h)), "")
    texts = [c for h, c in pairs if h not in roles and not _NUMBER_HEADERS.match(h) and c]
    text = max(texts, key=len) if texts else ""
    lead = [u for h, c in pairs if roles.get(h) in ("lead", "units") for u in units_of(c)]
    co = [u for h, c in pairs if roles.get(h) == "co" for u in units_of(c)]
    persons = [p for h, c in pairs if roles.get(h) == "persons" for p in re.split(r"[、,，;；\s]+", c) if p]
    deadline = "；".join(c for h, c in pairs if roles.get(h) == "deadline" and c)
    kind = "responsibility" if roles else "table_row"
    return Record(
        doc_id=doc.doc_id, kind=kind, start_line=n, end_line=n, text=text, number=number,
        group=(title,) if title else (), fields=tuple(pairs), persons=tuple(persons),
        lead=tuple(dict.fromkeys(lead)), co=tuple(dict.fromkeys(co)), deadline=deadline,
    )  # fmt: skip


def _articles(doc: Document) -> list[Record]:
    out: list[Record] = []
    path: dict[str, str] = {}
    current: tuple[int, str, list[str]] | None = None
    last = 0

    def close() -> None:
        if current is not None:
            start, number, texts = current
            group = tuple(path[k] for k in ("chapter", "section") if k in path)
            out.append(Record(doc_id=doc.doc_id, kind="article", start_line=start, end_line=last,
                              text="".join(texts), number=number, group=group))  # fmt: skip

    for n, raw in enumerate(doc.lines, start=1):
        text = clean_line(raw)
        if not text:
            continue
        heading = detect_heading(text)
        kind = heading.kind if heading else ""
        if kind in ("chapter", "section", "article", "annex"):
            close()
            current = None
            if kind == "chapter":
                path = {"chapter": heading.label if heading else text}
            elif kind == "section":
                path["section"] = heading.label if heading else text
            elif kind == "article":
                m = _ARTICLE.match(fold(text))
                current = (n, f"第{m.group('num')}条{m.group('sub') or ''}" if m else "", [text])
        elif current is not None:
            current[2].append(text)
        last = n
    close()
    return out


def _glossary(doc: Document) -> list[Record]:
    out: list[Record] = []
    section = ""
    in_glossary = False
    for n, raw in enumerate(doc.lines, start=1):
        text = clean_line(raw)
        if not text:
            continue
        heading = detect_heading(text)
        if heading is not None or (len(text) <= _HEADING_MAX and _GLOSSARY_HEADING.search(text) and not _SENTENCE_END.search(text)):
            if _GLOSSARY_HEADING.search(text) and len(text) <= _HEADING_MAX:
                in_glossary, section = True, text
                continue
            if heading is not None and heading.kind in ("chapter", "section", "cn", "annex"):
                in_glossary = False
        entry = _GLOSSARY_ENTRY.match(text) if in_glossary else None
        if entry:
            out.append(_entry(doc, n, entry.group("term"), entry.group("def"), section))
            continue
        named = _TERM_LINE.match(text) if in_glossary else None
        if named and n < len(doc.lines) and _numbered_entry(doc, n):
            # a standard's term entry: number, term with its English name, definition below
            definition, end = _definition_below(doc, n)
            if definition:
                out.append(replace(_entry(doc, n, named.group("term"), definition, section), end_line=end))
            continue
        colon = _COLON_DEFINED.match(text)
        if colon:
            out.append(_entry(doc, n, colon.group("term"), colon.group("def"), section if in_glossary else ""))
            continue
        dashed = _DASHED.match(text)
        if dashed:
            out.append(_entry(doc, n, dashed.group("term"), dashed.group("def"), section if in_glossary else ""))
            continue
        for m in _GLOSSED.finditer(text):
            definition, end = m.group("def").strip(" —"), n
            if not definition.strip("：:"):
                definition, end = _items_after(doc, n)
            if definition:
                out.append(replace(_entry(doc, n, m.group("term"), definition, ""), end_line=end))
        for m in _DEFINED.finditer(text):
            out.append(_entry(doc, n, m.group("term"), m.group("def"), ""))
    return out


def _numbered_entry(doc: Document, n: int) -> bool:
    """Whether the line above line `n` (1-based) is a bare entry number ("3.7")."""
    return n > 1 and bool(_ENTRY_NUMBER.match(clean_line(doc.lines[n - 2])))


def _lines_below(doc: Document, n: int, span: int, takes: Callable[[str], bool], ends: Callable[[str], bool] = lambda _: False) -> tuple[str, int]:
    """The cleaned lines right below line `n` (1-based), at most `span`, while `takes` them and up to
    the first that `ends` the run, joined, and the last one's number; ("", n) when none."""
    parts: list[str] = []
    end = n
    for m in range(n + 1, min(len(doc.lines), n + span) + 1):
        text = clean_line(doc.lines[m - 1])
        if not takes(text):
            break
        parts.append(text)
        end = m
        if ends(text):
            break
    return "".join(parts), end


def _definition_below(doc: Document, n: int) -> tuple[str, int]:
    """The definition under a standard's term line `n`: the lines below it up to the one that ends
    a sentence, before any note ("注：") or next entry."""
    def takes(text: str) -> bool:
        return bool(text) and not (_ENTRY_NUMBER.match(text) or text.startswith("注") or _TERM_LINE.match(text))

    return _lines_below(doc, n, 4, takes, lambda text: text.endswith("。"))


def _items_after(doc: Document, n: int) -> tuple[str, int]:
    """The item lines ("(a) …", "(b) …") right below line `n`."""
    return _lines_below(doc, n, 12, lambda text: bool(_ITEM_START.match(text)))


def _entry(doc: Document, n: int, term: str, definition: str, section: str) -> Record:
    term = re.sub(r"^的", "", term.strip("“”\"'‘’ "))
    return Record(doc_id=doc.doc_id, kind="glossary", start_line=n, end_line=n, text=definition.strip(), number=term,
                  group=(section,) if section else (), fields=(("术语", term), ("释义", definition.strip())))  # fmt: skip
