"""Aggregate per-item verdicts into the metrics of a run, overall and per gold type.

The definitions are those of `ragqa.eval.metrics` and are repeated, one line
each, in `DEFINITIONS`, which every report prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from ragqa.eval.goldset import TYPES
from ragqa.eval.metrics import MRR_DEPTH, Verdict

METRIC_NAMES = (
    "hit@1",
    "hit@5",
    "hit@10",
    "mrr",
    "answer_accuracy",
    "citation_accuracy",
    "citation_validity",
    "refusal_precision",
    "refusal_recall",
    "false_refusal_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)
HIGHER_IS_BETTER = METRIC_NAMES[:9]

DEFINITIONS = {
    "hit@k": "answerable items with a passage among the first k search results whose doc "
    "matches a ref and whose lines overlap that ref's range / answerable items "
    "(rank = position as returned; ties not re-ordered)",
    "mrr": "mean over answerable items of 1/rank of the first such passage within the "
    f"first {MRR_DEPTH} (0 if none)",
    "answer_accuracy": "answerable items not refused, answer <= 400 characters (400 per ref for aggregate items), containing "
    "any gold string (all when must_all) after removing whitespace, pinyin annotations "
    "and [n] markers, NFKC and Traditional->Simplified on both sides / answerable items",
    "citation_accuracy": "answerable items with at least one citation overlapping a ref "
    "/ answerable items (no citations = wrong)",
    "citation_validity": "items whose every citation quote equals the document's lines "
    "start_line..end_line joined with newlines / items with at least one citation",
    "refusal_precision": "refused unanswerable items / refused items",
    "refusal_recall": "refused unanswerable items / unanswerable items",
    "false_refusal_rate": "refused answerable items / answerable items",
    "latency_ms": "p50/p95 (linear interpolation) of each ask call's wall time seen by "
    "the client (over HTTP including retries), over items whose call succeeded",
    "failed calls": "an item whose search or ask call failed counts as a miss, wrong "
    "and not refused; a metric with an empty denominator is n/a",
}


@dataclass(frozen=True)
class Metrics:
    n: int
    n_answerable: int
    n_unanswerable: int
    hit_at_1: float | None
    hit_at_5: float | None
    hit_at_10: float | None
    mrr: float | None
    answer_accuracy: float | None
    citation_accuracy: float | None
    citation_validity: float | None
    refusal_precision: float | None
    refusal_recall: float | None
    false_refusal_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None

    def value(self, name: str) -> float | None:
        """The metric called `name` (one of METRIC_NAMES); KeyError otherwise."""
        if name not in METRIC_NAMES:
            raise KeyError(name)
        attr = name.replace("@", "_at_")
        result: float | None = getattr(self, attr)
        return result

    def as_dict(self) -> dict[str, float | int | None]:
        """Counts and every metric under its METRIC_NAMES name."""
        out: dict[str, float | int | None] = {
            "n": self.n,
            "n_answerable": self.n_answerable,
            "n_unanswerable": self.n_unanswerable,
        }
        out.update({name: self.value(name) for name in METRIC_NAMES})
        return out


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation; None for no values."""
    if not values:
        return None
    return float(np.percentile(np.asarray(values, dtype=float), q))


def aggregate(verdicts: Sequence[Verdict]) -> Metrics:
    """Compute every metric over `verdicts` (definitions in the module docstring of metrics)."""
    answerable = [v for v in verdicts if v.answerable]
    unanswerable = [v for v in verdicts if not v.answerable]
    refused = [v for v in verdicts if v.refused]
    cited = [v for v in verdicts if v.citations_valid is not None]
    latencies = [v.latency_ms for v in verdicts if v.latency_ms is not None]
    n_ans = len(answerable)

    def hit(k: int) -> float | None:
        return _rate(sum(bool(v.hit_at(k)) for v in answerable), n_ans)

    reciprocal = [
        1.0 / v.hit_rank if v.hit_rank is not None and v.hit_rank <= MRR_DEPTH else 0.0
        for v in answerable
    ]
    return Metrics(
        n=len(verdicts),
        n_answerable=n_ans,
        n_unanswerable=len(unanswerable),
        hit_at_1=hit(1),
        hit_at_5=hit(5),
        hit_at_10=hit(10),
        mrr=sum(reciprocal) / n_ans if n_ans else None,
        answer_accuracy=_rate(sum(bool(v.answer_correct) for v in answerable), n_ans),
        citation_accuracy=_rate(sum(bool(v.citation_correct) for v in answerable), n_ans),
        citation_validity=_rate(sum(bool(v.citations_valid) for v in cited), len(cited)),
        refusal_precision=_rate(sum(not v.answerable for v in refused), len(refused)),
        refusal_recall=_rate(sum(v.refused for v in unanswerable), len(unanswerable)),
        false_refusal_rate=_rate(sum(v.refused for v in answerable), n_ans),
        latency_p50_ms=percentile(latencies, 50),
        latency_p95_ms=percentile(latencies, 95),
    )


def by_type(verdicts: Sequence[Verdict]) -> dict[str, Metrics]:
    """Metrics per gold type present, in the order of goldset.TYPES (unknown types last)."""
    present = {v.type for v in verdicts}
    order = [t for t in TYPES if t in present] + sorted(present - set(TYPES))
    return {t: aggregate([v for v in verdicts if v.type == t]) for t in order}
