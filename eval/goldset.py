"""Load and validate a gold set (JSONL, one question per line; format in DESIGN.md).

Validation never raises for a bad line: each one becomes a `GoldProblem` with
its 1-based line number and the reason, and the line is skipped. A line is bad
when it is not JSON or not an object; lacks `id`, `question`, `answers`, `refs`
or `type`; has a field of the wrong type; names an unknown `type`; has empty
`answers` or `refs` for an answerable type, or non-empty ones for
`unanswerable`; has an empty answer string, a start_line below 1 or above
end_line; repeats an earlier id; or, when the index's documents are given,
names a document the index lacks or lines past that document's end.
`must_all` defaults to false and `note` to "". Blank lines are ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragqa.eval.errors import GoldError

ANSWERABLE_TYPES = ("numeric", "unit", "date", "list", "fact", "table", "crossdoc", "aggregate", "feedback")
UNANSWERABLE = "unanswerable"
TYPES = (*ANSWERABLE_TYPES, UNANSWERABLE)

DocLines = Mapping[str, int] | Callable[[str], int | None]


@dataclass(frozen=True)
class Ref:
    """A 1-based, inclusive line range of one document that holds (part of) the answer."""

    doc: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class GoldItem:
    id: str
    question: str
    answers: tuple[str, ...]
    must_all: bool
    refs: tuple[Ref, ...]
    type: str
    note: str = ""
    line_no: int = 0
    history: tuple[tuple[str, str], ...] = ()  # earlier turns (role, content) of a follow-up question

    @property
    def answerable(self) -> bool:
        return self.type != UNANSWERABLE


@dataclass(frozen=True)
class GoldProblem:
    line_no: int
    reason: str


@dataclass(frozen=True)
class GoldSet:
    path: str
    sha256: str
    items: tuple[GoldItem, ...]
    problems: tuple[GoldProblem, ...]


class _Bad(Exception):
    pass


def _field(obj: Mapping[str, Any], name: str, kind: type, kind_name: str) -> Any:
    if name not in obj:
        raise _Bad(f"missing field '{name}'")
    value = obj[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _Bad(f"'{name}' must be {kind_name}, got {type(value).__name__}")
    return value


def _ref(obj: Any, i: int, lines_of: Callable[[str], int | None] | None) -> Ref:
    if not isinstance(obj, dict):
        raise _Bad(f"refs[{i}] must be an object, got {type(obj).__name__}")
    try:
        doc = _field(obj, "doc", str, "a string")
        start = _field(obj, "start_line", int, "an integer")
        end = _field(obj, "end_line", int, "an integer")
    except _Bad as bad:
        raise _Bad(f"refs[{i}]: {bad}") from None
    if not doc:
        raise _Bad(f"refs[{i}]: 'doc' is empty")
    if start < 1:
        raise _Bad(f"refs[{i}]: start_line {start} is below 1")
    if start > end:
        raise _Bad(f"refs[{i}]: start_line {start} > end_line {end}")
    if lines_of is not None:
        total = lines_of(doc)
        if total is None:
            raise _Bad(f"refs[{i}]: document '{doc}' is not in the index")
        if end > total:
            raise _Bad(
                f"refs[{i}]: lines {start}-{end} run past the end of '{doc}' ({total} lines)"
            )
    return Ref(doc, start, end)


def _item(obj: Any, line_no: int, lines_of: Callable[[str], int | None] | None) -> GoldItem:
    if not isinstance(obj, dict):
        raise _Bad(f"expected a JSON object, got {type(obj).__name__}")
    item_id = _field(obj, "id", str, "a string")
    question = _field(obj, "question", str, "a string")
    answers = _field(obj, "answers", list, "a list of strings")
    refs = _field(obj, "refs", list, "a list of objects")
    kind = _field(obj, "type", str, "a string")
    must_all = _field(obj, "must_all", bool, "true or false") if "must_all" in obj else False
    note = _field(obj, "note", str, "a string") if "note" in obj else ""
    if not item_id.strip():
        raise _Bad("'id' is empty")
    if not question.strip():
        raise _Bad("'question' is empty")
    if kind not in TYPES:
        raise _Bad(f"unknown type '{kind}' (expected one of {', '.join(TYPES)})")
    for i, answer in enumerate(answers):
        if not isinstance(answer, str):
            raise _Bad(f"answers[{i}] must be a string, got {type(answer).__name__}")
        if not answer.strip():
            raise _Bad(f"answers[{i}] is empty")
    if kind == UNANSWERABLE:
        if answers or refs:
            raise _Bad("an unanswerable item must have empty 'answers' and 'refs'")
    else:
        if not answers:
            raise _Bad(f"'answers' is empty for type '{kind}'")
        if not refs:
            raise _Bad(f"'refs' is empty for type '{kind}'")
    parsed = tuple(_ref(r, i, lines_of) for i, r in enumerate(refs))
    return GoldItem(item_id, question, tuple(answers), must_all, parsed, kind, note, line_no, _history(obj))


def _history(obj: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The optional 'history' of a follow-up: a list of {"role": "user"|"assistant", "content"}."""
    turns = obj.get("history", [])
    if not isinstance(turns, list):
        raise _Bad("'history' must be a list of {role, content} objects")
    out = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or turn.get("role") not in ("user", "assistant") or not isinstance(turn.get("content"), str):
            raise _Bad(f"history[{i}] must be {{\"role\": \"user\"|\"assistant\", \"content\": \"…\"}}")
        out.append((turn["role"], turn["content"]))
    return tuple(out)


def _lookup(doc_lines: DocLines | None) -> Callable[[str], int | None] | None:
    if doc_lines is None or callable(doc_lines):
        return doc_lines
    return doc_lines.get


def parse_gold(text: str, doc_lines: DocLines | None = None, path: str = "<gold>") -> GoldSet:
    """Validate gold JSONL `text`; bad lines go to `problems`, never raise.

    `doc_lines` maps a document name to its number of lines (a dict, or a
    callable returning None for an unknown document); without it documents and
    line ranges are not checked against an index.
    """
    lines_of = _lookup(doc_lines)
    items: list[GoldItem] = []
    problems: list[GoldProblem] = []
    first_seen: dict[str, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _Bad(f"bad JSON: {exc.msg} at column {exc.colno}") from None
            item = _item(obj, line_no, lines_of)
            if item.id in first_seen:
                raise _Bad(f"duplicate id '{item.id}' (first on line {first_seen[item.id]})")
        except _Bad as bad:
            problems.append(GoldProblem(line_no, str(bad)))
            continue
        first_seen[item.id] = line_no
        items.append(item)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return GoldSet(path, digest, tuple(items), tuple(problems))


def load_gold(path: str | Path, doc_lines: DocLines | None = None) -> GoldSet:
    """Read and validate the gold file at `path`.

    Raises GoldError when the file cannot be read as UTF-8 or when no valid
    item remains; the problems found are summarised in the message.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise GoldError(f"cannot read gold file {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GoldError(
            f"gold file {p} is not UTF-8 (byte {exc.start}); save it as UTF-8"
        ) from None
    gold = parse_gold(text, doc_lines, str(p.resolve()))
    gold = GoldSet(gold.path, hashlib.sha256(raw).hexdigest(), gold.items, gold.problems)
    if not gold.items:
        first = (
            f"; line {gold.problems[0].line_no}: {gold.problems[0].reason}" if gold.problems else ""
        )
        raise GoldError(f"gold file {p} has no valid item ({len(gold.problems)} bad lines{first})")
    return gold
