"""The extractive answerer: picks the source sentences that answer a question. No model.

Each sentence of the retrieved passages is scored by the share of the question's key terms it
holds (IDF-weighted; a term found only in the passage's title or clause path counts 0.6), times
a slot factor: a question asking 多少 needs a number (多少张 needs "<number>张"), 什么时候 a
date. The best sentence answers; more sentences join while they add key terms it lacks (a
question about two places gets one sentence from each, scored without the other place's
words). For a responsible-unit question the clause's 责任单位 line (or the task's inline
"(责任单位:…)") joins, for "which leader" the heading that names the leader, for "which goal"
the clause heading or the dash-led goal that opens the paragraph. A table row asked about by
one of its column names answers with that cell; a repeated header row never answers. A list
question takes the enumeration on to its 。; "when was it issued" also looks at the documents'
date lines; a question naming a year is not answered from a sentence about another year.

Everything in an answer is copied from the passages. When the best sentence holds less than
`refuse_below` of the key terms, or lacks the slot the question asks for, the answerer refuses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from ragqa.index.search import Hit
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import clean_line, fold

from .question import ISSUE_VERB, QuestionProfile, clause_has_number, has_date, year_fits
from .sentences import Sentence, split_sentences

MAX_ANSWER_CHARS = 360
_UNIT_LINE = re.compile(r"^(?:责任单位|牵头单位)")
# "…规范执法行为(责任单位:市委政法委、市司法局,协同单位:…)": the units named at a task's end.
_INLINE_UNITS = re.compile(r"[(（](?:责任单位|責任單位|牵头单位|牽頭單位)[:：][^()（）]*[)）]")
_LEADER_HEADING = re.compile(r"市长|书记|主任|主席|领导")


@dataclass(frozen=True)
class Segment:
    """One cited piece of an answer: text copied from passage `passage` (1-based), its lines."""

    text: str
    passage: int
    doc: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Draft:
    segments: tuple[Segment, ...]
    refused: bool
    confidence: float

    @property
    def text(self) -> str:
        return "".join(f"{s.text}[{s.passage}]" for s in self.segments)


@dataclass(frozen=True)
class _Candidate:
    sentence: Sentence
    passage: int
    hit: Hit
    covered: frozenset[str]
    coverage: float
    slot_ok: bool
    score: float


def _covered(q: QuestionProfile, match: str, context: str) -> tuple[frozenset[str], float]:
    got: set[str] = set()
    weight = 0.0
    for term, w in q.terms.items():
        if q.covers(term, match):
            got.add(term)
            weight += w
        elif q.covers(term, context):
            got.add(term)
            weight += 0.6 * w
    return frozenset(got), weight / q.total


def _slot_ok(q: QuestionProfile, text: str, before: str = "") -> bool:
    if not year_fits(q, text, before):
        return False
    if q.measures:
        return any(clause_has_number(q, text, m) for m in q.measures)
    if q.kind == "numeric":
        return clause_has_number(q, text)
    if q.kind == "date":
        return has_date(text, q.asks_year)
    return True


def _in_scope(q: QuestionProfile, text: str) -> bool:
    """A question naming places is answered from documents about one of them."""
    return not q.places or any(place in text for place in q.places)


def _candidates(q: QuestionProfile, hits: list[Hit]) -> list[_Candidate]:
    out = []
    for passage, hit in enumerate(hits, start=1):
        context = hit.chunk.context
        lines = hit.chunk.text.split("\n")
        header = context.rsplit("\n", 1)[-1] if "\n" in context else None
        for sentence in split_sentences(hit.chunk):
            if sentence.table_cells and sentence.text == header:
                continue  # a table's header row names columns; it answers nothing
            covered, coverage = _covered(q, sentence.match, context)
            before = ""
            if q.years:
                line = fold(clean_line(lines[sentence.start_line - hit.chunk.start_line]))
                before = line[: max(0, line.find(sentence.match[:8]))]
            slot = _slot_ok(q, sentence.match, before)
            scoped = _in_scope(q, context + sentence.match)
            score = coverage * (1.0 if slot else 0.35) * (1.0 if scoped else 0.4) + 0.04 / passage
            if q.kind == "unit" and _UNIT_LINE.match(sentence.match):
                score += 0.02
            out.append(_Candidate(sentence, passage, hit, covered, coverage, slot, score))
    return out


_DATE_LINE = re.compile(r"^\W*(?:\S{0,24}?\s*)?(?:[12][0-9]{3}年[01]?[0-9]月[0-3]?[0-9]日|[12][0-9]{3}-[01]?[0-9]-[0-3]?[0-9])\S{0,4}\W*$")


def _date_lines(q: QuestionProfile, hits: list[Hit], docs: dict[str, Document]) -> list[_Candidate]:
    """For "when was this issued/published": the date lines of the retrieved documents (the
    signature date, the 印发 date, a web page's publication date), which retrieval rarely ranks.
    Such a line is the document's date, so the question's issue verb counts as present."""
    out = []
    seen = set()
    for passage, hit in enumerate(hits, start=1):
        doc = docs.get(hit.chunk.doc_id)
        if doc is None or doc.doc_id in seen:
            continue
        seen.add(doc.doc_id)
        title = fold(doc.title)
        for n, raw in enumerate(doc.lines, start=1):
            line = clean_line(raw)
            if len(line) > 40 or not _DATE_LINE.match(line):
                continue
            match = fold(line)
            covered, coverage = _covered(q, match + " ".join(t for t in q.terms if ISSUE_VERB.fullmatch(t)), title)
            sentence = Sentence(line, match, n, n)
            score = coverage + 0.04 / passage
            out.append(_Candidate(sentence, passage, hit, covered, coverage, True, score))
    return out


def _table_cell(q: QuestionProfile, cand: _Candidate) -> str | None:
    cells = cand.sentence.table_cells
    header = cand.hit.chunk.context.rsplit("\n", 1)[1].split(" | ") if "\n" in cand.hit.chunk.context else []
    named = [h for h in header if len(h) >= 2 and fold(h) in q.text]
    if not cells or not named or len(cells) < len(header):
        return None
    column = header.index(named[-1])
    cell = cells[column] if column < len(cells) else ""
    return f"{named[-1]}: {cell}" if cell else None


def _trim(text: str, q: QuestionProfile, limit: int) -> str:
    """Cut an over-long sentence down to the run of its clauses that holds most key terms."""
    if len(text) <= limit:
        return text
    parts = re.split(r"(?<=[,，;；])", text)
    best, best_weight = parts[0][:limit], -1.0
    for i in range(len(parts)):
        piece = ""
        for part in parts[i:]:
            if len(piece) + len(part) > limit:
                break
            piece += part
            folded = fold(piece)
            weight = sum(w for t, w in q.terms.items() if t in folded)
            if weight > best_weight:
                best, best_weight = piece, weight
    return best


def _segment(cand: _Candidate, text: str | None = None) -> Segment:
    s = cand.sentence
    return Segment(text or s.text, cand.passage, cand.hit.chunk.doc_id, s.start_line, s.end_line)


def _enumeration(q: QuestionProfile, best: _Candidate, pool: list[_Candidate]) -> Segment:
    """The best sentence and, while it ends in ；, the sentences of its passage that continue the
    enumeration (既要…；又要…；更要…。), as one segment of at most MAX_ANSWER_CHARS."""
    text, end = _trim(best.sentence.text, q, MAX_ANSWER_CHARS), best.sentence.end_line
    for cand in pool[pool.index(best) + 1 :]:
        if cand.hit is not best.hit or text[-1] not in "；;" or len(text) + len(cand.sentence.text) > MAX_ANSWER_CHARS:
            break
        text += cand.sentence.text
        end = cand.sentence.end_line
    return Segment(text, best.passage, best.hit.chunk.doc_id, best.sentence.start_line, end)


def _dash_lead(best: _Candidate, pool: list[_Candidate]) -> _Candidate | None:
    """The lead sentence of the best sentence's paragraph when it is a dash-led goal
    ("——努力打造…的文化强市。城市文明水平…"), which heads the paragraph like a heading."""
    same_line = [c for c in pool if c.hit is best.hit and c.sentence.start_line == best.sentence.start_line]
    first = same_line[0] if same_line else None
    if first is None or first is best or not first.sentence.text.startswith("——"):
        return None
    return first


def _companions(q: QuestionProfile, best: _Candidate, pool: list[_Candidate], docs: dict[str, Document]) -> list[Segment]:
    """The 责任单位 line of the best sentence's clause, or the heading that names its leader."""
    extra: list[Segment] = []
    if q.kind == "unit" and not _UNIT_LINE.search(best.sentence.match) and "责任单位" not in best.sentence.match:
        for cand in pool[pool.index(best) + 1 :]:
            if cand.hit is not best.hit:
                break
            if _UNIT_LINE.match(cand.sentence.match):
                extra.append(_segment(cand))
                break
            inline = _INLINE_UNITS.search(cand.sentence.text)
            if inline:
                extra.append(_segment(cand, inline.group(0)))
                break
    lead = _dash_lead(best, pool) if q.which_clause else None
    if lead is not None:
        extra.insert(0, _segment(lead))
    elif q.which_clause and best.hit.chunk.clause_lines:
        chunk = best.hit.chunk
        doc = docs.get(chunk.doc_id)
        line = chunk.clause_lines[-1]
        if doc is not None and line and not (best.sentence.start_line <= line <= best.sentence.end_line):
            extra.insert(0, Segment(clean_line(doc.line(line)), best.passage, chunk.doc_id, line, line))
    if q.leader:
        chunk = best.hit.chunk
        doc = docs.get(chunk.doc_id)
        for label, line in zip(chunk.clause_path, chunk.clause_lines):
            if doc is not None and line and _LEADER_HEADING.search(label):
                extra.append(Segment(clean_line(doc.line(line)), best.passage, chunk.doc_id, line, line))
                break
    return extra


def _scopes(q: QuestionProfile) -> list[tuple[Callable[[_Candidate], bool], set[str]]]:
    """For a question about several places: per place, a test of a candidate's scope and the
    words that belong to the other places."""
    if len(q.places) < 2:
        return []
    return [
        (lambda c, p=place: p in c.hit.chunk.context + c.sentence.match, {t for t in q.place_terms if place not in t and t not in place})
        for place in q.places
    ]


def _coverage_for(q: QuestionProfile, cand: _Candidate, left_out: set[str]) -> float:
    """`cand`'s coverage of one part of the question: the words of the other parts (`left_out`)
    and the years it does not hold are not counted ("金华开发区2022年和东阳2023年各…")."""
    left_out = left_out | {t for t in q.terms if t.isdigit() and int(t) in q.years and t not in cand.covered}
    total = sum(w for t, w in q.terms.items() if t not in left_out) or 1.0
    return sum(q.terms[t] for t in cand.covered if t not in left_out) / total


def answer_extractive(q: QuestionProfile, hits: list[Hit], docs: dict[str, Document], refuse_below: float) -> Draft:
    """Copy the sentences of `hits` that answer `q`, or refuse (Draft.refused) when none does."""
    pool = _candidates(q, hits)
    if q.issued:
        pool += _date_lines(q, hits, docs)
    if not pool or not q.terms:
        return Draft((), True, 0.0)
    ranked = sorted(pool, key=lambda c: -c.score)
    best = ranked[0]
    if best.coverage < refuse_below or not best.slot_ok or not _in_scope(q, best.hit.chunk.context + best.sentence.match):
        return Draft((), True, best.coverage)
    cell = _table_cell(q, best)
    if cell:
        segments = [_segment(best, cell)]
    elif q.kind == "list":
        segments = [_enumeration(q, best, pool)]
    else:
        segments = [_segment(best, _trim(best.sentence.text, q, 240))]
    segments += _companions(q, best, pool, docs)
    covered = set(best.covered)
    used = {(best.hit.chunk.doc_id, best.sentence.start_line, best.sentence.text)}
    length = sum(len(s.text) for s in segments)
    for in_scope, left_out in _scopes(q):
        if in_scope(best):
            continue
        for cand in ranked[1:]:
            if in_scope(cand):
                if cand.slot_ok and _coverage_for(q, cand, left_out) >= refuse_below:
                    text = _trim(cand.sentence.text, q, 160)
                    segments.append(_segment(cand, text))
                    covered |= cand.covered
                    used.add((cand.hit.chunk.doc_id, cand.sentence.start_line, cand.sentence.text))
                    length += len(text)
                break
    for cand in ranked[1:]:
        if len(segments) >= 4:
            break
        key = (cand.hit.chunk.doc_id, cand.sentence.start_line, cand.sentence.text)
        gain = sum(q.terms[t] for t in cand.covered - covered) / q.total
        if key in used or gain < 0.1 or not cand.slot_ok or cand.score < 0.5 * best.score:
            continue
        text = _trim(cand.sentence.text, q, 160)
        if length + len(text) > MAX_ANSWER_CHARS:
            continue
        segments.append(_segment(cand, text))
        covered |= cand.covered
        used.add(key)
        length += len(text)
    return Draft(tuple(segments), False, best.coverage)
