"""Per-item verdicts and the metrics aggregated from them.

Definitions (also written into every report, from `DEFINITIONS`):

* hit: a passage whose `doc` equals a ref's `doc` and whose lines overlap that
  ref's range (`p.start_line <= r.end_line and r.start_line <= p.end_line`);
  for items with several refs (lists, crossdoc) a hit on any ref counts.
  Rank is the passage's 1-based position in the order the service returned it;
  equal scores are not re-ordered, and a repeated passage keeps its own rank.
* hit@k: answerable items with a hit among the first k search passages /
  answerable items. MRR: mean over answerable items of 1/rank of the first hit
  within the first 10 passages (0 without one). Unanswerable items are excluded.
* answer accuracy: answerable items that were not refused, whose answer is at
  most 400 characters (400 per expected row for an `aggregate` item, a list answer) (as returned, stripped of outer whitespace) and contains
  the gold strings after `textnorm.normalize` on both sides and removal of
  `[n]` markers from the answer (any one string, or all when `must_all`)
  / answerable items.
* citation accuracy: answerable items with at least one citation that
  overlaps a ref (same rule as a hit) / answerable items; an item without
  citations, refused ones included, counts as wrong.
* citation validity: items (any type) whose every citation has a quote equal
  to the document's lines start_line..end_line joined with "\\n" / items with at
  least one citation. A citation of an unknown document or of lines outside
  it is invalid.
* refusal precision: refused unanswerable items / refused items; refusal
  recall: refused unanswerable items / unanswerable items.
* false-refusal rate: refused answerable items / answerable items.
* latency p50/p95: percentiles (linear interpolation between closest ranks)
  of the wall time of each `ask` call as the client sees it (over HTTP
  including any retries and their backoff), in ms, over the items whose call
  succeeded.

An item whose search or ask call failed counts as a miss, wrong and not
refused wherever it is in a denominator. A metric whose denominator is zero
is None ("n/a").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ragqa.eval.contract import AskResult, Citation, Passage
from ragqa.eval.goldset import GoldItem, Ref
from ragqa.eval.textnorm import normalize, strip_citation_markers

ANSWER_MAX_CHARS = 400
MRR_DEPTH = 10

RETRIEVAL_MISS = "retrieval miss"
WRONG_SENTENCE = "wrong sentence"
FALSE_REFUSAL = "false refusal"
ANSWERED_UNANSWERABLE = "answered unanswerable"
BAD_CITATION = "bad citation"
CALL_FAILED = "call failed"


@dataclass(frozen=True)
class Outcome:
    """What came back for one gold item: the search list, the answer, timings, errors."""

    search: tuple[Passage, ...]
    ask: AskResult | None
    latency_ms: float | None
    search_error: str | None = None
    ask_error: str | None = None


@dataclass(frozen=True)
class Failure:
    kind: str
    detail: str


@dataclass(frozen=True)
class Verdict:
    item_id: str
    type: str
    answerable: bool
    hit_rank: int | None
    refused: bool
    answer_correct: bool | None
    citation_correct: bool | None
    citations_valid: bool | None
    invalid_citations: tuple[int, ...]
    latency_ms: float | None
    failures: tuple[Failure, ...]

    def hit_at(self, k: int) -> bool | None:
        """True when the first hit is within the top `k`; None for unanswerable items."""
        if not self.answerable:
            return None
        return self.hit_rank is not None and self.hit_rank <= k


def overlaps(doc: str, start_line: int, end_line: int, ref: Ref) -> bool:
    """True when the range lies in `ref`'s document and shares at least one line with it."""
    return doc == ref.doc and start_line <= ref.end_line and ref.start_line <= end_line


def first_hit_rank(passages: Sequence[Passage], refs: Sequence[Ref]) -> int | None:
    """1-based rank of the first passage overlapping any ref, None when none does."""
    for rank, p in enumerate(passages, start=1):
        if any(overlaps(p.doc, p.start_line, p.end_line, r) for r in refs):
            return rank
    return None


def answer_contains(answer: str, golds: Sequence[str], must_all: bool) -> bool:
    """True when the normalised answer holds any (or, with `must_all`, every) gold string."""
    text = normalize(strip_citation_markers(answer))
    found = [normalize(g) in text for g in golds]
    return bool(found) and (all(found) if must_all else any(found))


def answer_limit(item: GoldItem) -> int:
    """The longest answer that can count as correct: 400 characters, and for an `aggregate`
    item (a list of every matching row) 400 per expected row."""
    return ANSWER_MAX_CHARS * max(1, len(item.refs)) if item.type == "aggregate" else ANSWER_MAX_CHARS


def is_answer_correct(item: GoldItem, ask: AskResult | None) -> bool:
    """Answer-accuracy verdict of one answerable item (see the module docstring)."""
    if ask is None or ask.refused or len(ask.answer.strip()) > answer_limit(item):
        return False
    return answer_contains(ask.answer, item.answers, item.must_all)


def quote_is_valid(citation: Citation, lines: Sequence[str] | None) -> bool:
    """True when the quote equals lines start_line..end_line (1-based) joined with "\\n"."""
    if lines is None or not 1 <= citation.start_line <= citation.end_line <= len(lines):
        return False
    return citation.quote == "\n".join(lines[citation.start_line - 1 : citation.end_line])


LinesOf = Callable[[str], Sequence[str] | None]


def _failures(item: GoldItem, out: Outcome, v: Verdict) -> tuple[Failure, ...]:
    found: list[Failure] = []
    for error in (out.search_error, out.ask_error):
        if error:
            found.append(Failure(CALL_FAILED, error))
    ask = out.ask
    if not item.answerable:
        if ask is not None and not ask.refused:
            found.append(Failure(ANSWERED_UNANSWERABLE, "answered instead of refusing"))
    else:
        if v.refused:
            found.append(Failure(FALSE_REFUSAL, "refused although the documents answer it"))
        if not v.hit_at(5):
            where = (
                f"first hit at rank {v.hit_rank}"
                if v.hit_rank
                else f"no hit among the {len(out.search)} passages returned"
            )
            found.append(Failure(RETRIEVAL_MISS, f"no ref in the top 5 search passages ({where})"))
        elif ask is not None and not v.refused and not v.answer_correct:
            too_long = len(ask.answer.strip()) > answer_limit(item)
            detail = (
                f"answer has {len(ask.answer.strip())} characters (over {answer_limit(item)})"
                if too_long
                else "a ref was retrieved but the answer lacks the gold string(s)"
            )
            found.append(Failure(WRONG_SENTENCE, detail))
        if ask is not None and not v.refused and not v.citation_correct:
            found.append(Failure(BAD_CITATION, "no citation overlaps a ref"))
    if v.invalid_citations:
        ids = ", ".join(f"[{i}]" for i in v.invalid_citations)
        found.append(Failure(BAD_CITATION, f"quote of {ids} differs from the source lines"))
    return tuple(found)


def judge(item: GoldItem, out: Outcome, lines_of: LinesOf) -> Verdict:
    """Score one item. `lines_of(doc)` gives a document's lines, or None if unknown."""
    ask = out.ask
    citations = ask.citations if ask is not None else ()
    invalid = tuple(c.id for c in citations if not quote_is_valid(c, lines_of(c.doc)))
    v = Verdict(
        item_id=item.id,
        type=item.type,
        answerable=item.answerable,
        hit_rank=first_hit_rank(out.search, item.refs) if item.answerable else None,
        refused=ask is not None and ask.refused,
        answer_correct=is_answer_correct(item, ask) if item.answerable else None,
        citation_correct=(
            any(overlaps(c.doc, c.start_line, c.end_line, r) for c in citations for r in item.refs)
            if item.answerable
            else None
        ),
        citations_valid=not invalid if citations else None,
        invalid_citations=invalid,
        latency_ms=out.latency_ms if ask is not None else None,
        failures=(),
    )
    return replace(v, failures=_failures(item, out, v))
