"""`python -m ragqa.eval.abstainer_roc`: the curve it reads from out-of-fold probabilities, and its errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ragqa.eval.abstainer_roc import Curve, auc, main
from ragqa.eval.errors import EvalError


def test_auc_counts_the_pairs_an_answerable_item_wins_and_ties_as_half() -> None:
    assert auc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
    rng = np.random.default_rng(3)
    a, u = rng.integers(0, 6, 40).astype(float), rng.integers(0, 6, 30).astype(float)  # many ties
    pairs = ((a[:, None] > u[None, :]).sum() + 0.5 * (a[:, None] == u[None, :]).sum()) / (len(a) * len(u))
    assert auc(a, u) == pytest.approx(pairs)


def test_the_curve_gives_the_recall_each_false_refusal_rate_buys_and_back() -> None:
    # 100 answerable items at 0.01 … 1.00; 10 unanswerable, 5 of them below every answerable one
    y = np.array([1] * 100 + [0] * 10)
    p = np.concatenate([np.arange(1, 101) / 100, [0.0] * 5, [0.5] * 5])
    got = Curve.of(y, p)
    assert (got.answerable, got.unanswerable) == (100, 10)
    assert got.recall_at[0.02] == 0.5  # refusing the lowest 2% of answerable ones refuses the 5 below them
    assert got.recall_at[0.30] == 0.5 and got.recall_at[0.05] == 0.5
    assert got.false_refusals_at[0.85] == pytest.approx(0.49)  # the 0.5s need half the answerable ones refused
    assert "out-of-fold AUC" in got.lines()[0]
    with pytest.raises(EvalError, match="answerable and unanswerable"):
        Curve.of(np.ones(3), np.array([0.1, 0.2, 0.3]))


def test_a_missing_gold_set_or_index_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--gold", f"{tmp_path / 'none.jsonl'}={tmp_path}"]) == 2
    assert "no gold set at" in capsys.readouterr().err
    gold = tmp_path / "g.jsonl"
    gold.write_text("", encoding="utf-8")
    assert main(["--gold", f"{gold}={tmp_path / 'idx'}"]) == 2
    assert "no index at" in capsys.readouterr().err
