"""How far the abstainer can go: its out-of-fold ROC on gold sets, fitted as `ragqa train` fits it.

Every item is retrieved and featurized as `ragqa train` retrieves it (without a query-expansion table, as `make
train`); the candidate ranker, its calibration and the abstainer are fitted with one dealing of the documents into
folds, each fold's documents held out; and the abstainer's out-of-fold P(answerable) is read as a curve: the refusal
recall at each false-refusal rate, and the false refusals each refusal recall costs. The threshold `ragqa train`
saves is the point of this curve (over three dealings) at which no fold refuses more than its budget of answerable
items. It is the main abstainer's curve (the first step of `make train`); the off-topic one, fitted in the second step
on questions asked of indexes without their documents, refuses beside it and is not in it. Takes as long as one third of a training's cross-validation plus the retrieval (about 12 minutes for `make
train`'s sets here).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ragqa.eval.errors import EvalError
from ragqa.eval.term_assoc import gold_index_pair
from ragqa.eval.train_answerer import PARTITIONS, CrossValidation, Pooled, collect
from ragqa.service.settings import Settings

FALSE_REFUSALS = (0.02, 0.05, 0.10, 0.15, 0.20, 0.30)
RECALLS = (0.50, 0.60, 0.70, 0.85)

EXAMPLES = """\
example (the sets `make train` uses, after `make train` has built .ragqa/small):
  python -m ragqa.eval.abstainer_roc --gold eval/gold/dev.jsonl=.ragqa/index --gold eval/gold/holdout.jsonl=.ragqa/index \\
    --gold eval/gold/blind.jsonl=.ragqa/index --gold eval/gold/train.jsonl=.ragqa/corpora $(cat .ragqa/small/pairs.txt)
"""


def auc(answerable: np.ndarray, unanswerable: np.ndarray) -> float:
    """P(an answerable item scores above an unanswerable one), ties counted half (rank-based)."""
    scores = np.concatenate([answerable, unanswerable])
    order = scores.argsort(kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    for value in np.unique(scores):  # ties share their mean rank
        tied = scores == value
        ranks[tied] = ranks[tied].mean()
    above = ranks[: len(answerable)].sum() - len(answerable) * (len(answerable) + 1) / 2
    return float(above / (len(answerable) * len(unanswerable)))


@dataclass(frozen=True)
class Curve:
    """What an abstainer's out-of-fold P(answerable) separates: the AUC, the refusal recall at each
    false-refusal rate, and the false refusals each refusal recall costs."""

    answerable: int
    unanswerable: int
    auc: float
    recall_at: dict[float, float]  # false-refusal rate -> refusal recall
    false_refusals_at: dict[float, float]  # refusal recall -> false-refusal rate

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray) -> Curve:
        """From `p`, the out-of-fold P(answerable) of items labelled answerable (1) or not (0) by `y`."""
        ans, un = p[y == 1], p[y == 0]
        if not len(ans) or not len(un):
            raise EvalError("the gold sets need answerable and unanswerable items for a curve")
        return cls(len(ans), len(un), auc(ans, un),
                   {fr: float((un < np.quantile(ans, fr)).mean()) for fr in FALSE_REFUSALS},
                   {rr: float((ans < np.quantile(un, rr)).mean()) for rr in RECALLS})

    def lines(self) -> list[str]:
        return [f"{self.answerable} answerable, {self.unanswerable} unanswerable; out-of-fold AUC {self.auc:.3f}",
                *(f"  false refusals {fr:.2f}: refusal recall {rr:.3f}" for fr, rr in self.recall_at.items()),
                *(f"  refusal recall {rr:.2f}: false refusals {fr:.3f}" for rr, fr in self.false_refusals_at.items())]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ragqa.eval.abstainer_roc", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gold", type=gold_index_pair, action="append", required=True, metavar="GOLD.jsonl=INDEX_DIR",
                   help="a gold set and the index its documents are in (repeatable), as for 'ragqa train'")
    p.add_argument("--partition", type=int, choices=range(PARTITIONS), default=0, help="which dealing of documents into folds (default 0)")
    p.add_argument("--json", type=Path, metavar="OUT.json", help="also write the figures here")
    args = p.parse_args(argv)
    try:
        for gold, index in args.gold:
            if not Path(gold).is_file():
                raise EvalError(f"no gold set at {gold}")
            if not (index / "manifest.json").is_file():
                raise EvalError(f"no index at {index}; build it with 'ragqa ingest DOCS --index {index}'")
        pooled: list[Pooled] = []
        for gold, index in args.gold:
            pooled += collect(gold, index, Settings(), 5)
            print(f"abstainer_roc: {gold}: {len(pooled)} items so far", file=sys.stderr)
        cv = CrossValidation.run(pooled, 5, args.partition)
        got = Curve.of(cv.y, cv.oof)
    except EvalError as exc:
        print(f"abstainer_roc: {exc}", file=sys.stderr)
        return 2
    print("\n".join(got.lines()))
    if args.json:
        args.json.write_text(json.dumps(asdict(got), indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
