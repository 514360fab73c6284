"""Baseline comparison: deltas, flips by item and metric, items present in one run only."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ragqa.eval.compare import Baseline, Flip, compare, fmt, format_comparison, load_baseline
from ragqa.eval.errors import BaselineError

OLD = Baseline(
    path="old/run.json",
    created_at="2024-01-01T00:00:00+00:00",
    git_commit="abc",
    metrics={"answer_accuracy": 0.5, "hit@5": 0.75, "mrr": None},
    verdicts={
        "a": {"answer_correct": False, "hit@5": True},
        "b": {"answer_correct": True, "hit@5": True},
        "c": {"answer_correct": True, "hit@5": False},
        "gone": {"answer_correct": True, "hit@5": True},
        "u": {"answer_correct": None, "hit@5": None},
    },
)
NEW_METRICS: dict[str, float | int | None] = {"answer_accuracy": 0.625, "hit@5": 0.5, "mrr": 0.4}
NEW_VERDICTS: dict[str, dict[str, bool | None]] = {
    "a": {"answer_correct": True, "hit@5": True},
    "b": {"answer_correct": False, "hit@5": False},
    "c": {"answer_correct": True, "hit@5": False},
    "new": {"answer_correct": True, "hit@5": True},
    "u": {"answer_correct": None, "hit@5": None},
}


def test_flips_and_deltas() -> None:
    c = compare(OLD, NEW_METRICS, NEW_VERDICTS)
    assert c.flips == (
        Flip("a", "answer_correct", "fixed"),
        Flip("b", "answer_correct", "broken"),
        Flip("b", "hit@5", "broken"),
    )
    assert (c.only_new, c.only_old) == (1, 1)
    deltas = {d.name: d for d in c.deltas}
    assert deltas["answer_accuracy"].delta == pytest.approx(0.125)
    assert deltas["hit@5"].delta == pytest.approx(-0.25)
    assert deltas["mrr"].delta is None and deltas["hit@1"].old is None
    text = format_comparison(c)
    assert "fixed (1): a (answer_correct)" in text
    assert "broken (2): b (answer_correct), b (hit@5)" in text
    assert "items only in this run: 1; only in the baseline: 1" in text
    assert "answer_accuracy" in text and "(+0.125)" in text and "(-0.25)" in text


def test_fmt() -> None:
    assert [fmt(0.81), fmt(0.8499), fmt(1.0), fmt(None), fmt(0.0, True), fmt(182.25)] == [
        "0.81",
        "0.8499",
        "1",
        "n/a",
        "+0",
        "182.25",
    ]


def test_load_baseline_errors(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="cannot read baseline"):
        load_baseline(tmp_path / "missing.json")
    (tmp_path / "x.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(BaselineError, match="is not JSON"):
        load_baseline(tmp_path / "x.json")
    (tmp_path / "y.json").write_text(
        json.dumps({"metrics": {"overall": {}}, "items": [{}]}), encoding="utf-8"
    )
    with pytest.raises(BaselineError, match=re.escape("not a ragqa eval run.json")):
        load_baseline(tmp_path / "y.json")
