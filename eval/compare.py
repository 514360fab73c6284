"""Compare a run with an earlier one (its run.json): metric deltas and flipped items.

A flip is an item id present in both runs whose verdict changed for one of
FLIP_METRICS: "fixed" when it went from wrong to right, "broken" the other
way. Items in only one of the runs are counted, not compared. Metrics missing
from the baseline (or n/a in either run) have no delta.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ragqa.eval.errors import BaselineError
from ragqa.eval.scores import METRIC_NAMES

FLIP_METRICS = ("answer_correct", "hit@5")


@dataclass(frozen=True)
class Baseline:
    path: str
    created_at: str | None
    git_commit: str | None
    metrics: Mapping[str, float | None]
    verdicts: Mapping[str, Mapping[str, bool | None]]


@dataclass(frozen=True)
class MetricDelta:
    name: str
    old: float | None
    new: float | None

    @property
    def delta(self) -> float | None:
        return None if self.old is None or self.new is None else self.new - self.old


@dataclass(frozen=True)
class Flip:
    item_id: str
    metric: str
    change: str


@dataclass(frozen=True)
class Comparison:
    baseline: Baseline
    deltas: tuple[MetricDelta, ...]
    flips: tuple[Flip, ...]
    only_new: int
    only_old: int

    def flipped(self, change: str) -> tuple[Flip, ...]:
        return tuple(f for f in self.flips if f.change == change)


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def baseline_from_json(data: Any, path: str) -> Baseline:
    """Read the parts of a run.json a comparison needs; BaselineError if they are absent."""
    try:
        overall = data["metrics"]["overall"]
        items = data["items"]
        verdicts = {str(it["id"]): {m: it["verdict"].get(m) for m in FLIP_METRICS} for it in items}
        metrics = {name: _number(overall.get(name)) for name in METRIC_NAMES}
        config = data.get("config") or {}
    except (KeyError, TypeError, AttributeError):
        raise BaselineError(
            f"{path} is not a ragqa eval run.json (needs metrics.overall and items[].verdict)"
        ) from None
    return Baseline(path, config.get("created_at"), config.get("git_commit"), metrics, verdicts)


def load_baseline(path: str | Path) -> Baseline:
    """Load the baseline run.json at `path`; BaselineError if unreadable or of another shape."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BaselineError(f"cannot read baseline {p}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"baseline {p} is not JSON ({exc})") from None
    return baseline_from_json(data, str(p))


def compare(
    baseline: Baseline,
    metrics: Mapping[str, float | int | None],
    verdicts: Mapping[str, Mapping[str, bool | None]],
) -> Comparison:
    """Deltas of every metric in METRIC_NAMES and the items that flipped on FLIP_METRICS."""
    deltas = tuple(
        MetricDelta(n, baseline.metrics.get(n), _number(metrics.get(n))) for n in METRIC_NAMES
    )
    flips = []
    for item_id in sorted(set(verdicts) & set(baseline.verdicts)):
        for m in FLIP_METRICS:
            old, new = baseline.verdicts[item_id].get(m), verdicts[item_id].get(m)
            if old is None or new is None or old == new:
                continue
            flips.append(Flip(item_id, m, "fixed" if new else "broken"))
    return Comparison(
        baseline=baseline,
        deltas=deltas,
        flips=tuple(flips),
        only_new=len(set(verdicts) - set(baseline.verdicts)),
        only_old=len(set(baseline.verdicts) - set(verdicts)),
    )


def fmt(value: float | None, signed: bool = False, places: int = 4) -> str:
    """A metric for people: up to `places` decimals, no trailing zeros, "n/a" for None."""
    if value is None:
        return "n/a"
    text = f"{value:+.{places}f}" if signed else f"{value:.{places}f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    if text in ("+0", "-0", "0"):
        return "+0" if signed else "0"
    return text


def places_for(name: str) -> int:
    """Decimals shown for a metric: 1 for latencies in ms, 4 for rates."""
    return 1 if name.startswith("latency") else 4


def format_comparison(c: Comparison) -> str:
    """Plain-text comparison for the terminal and report.md (a fenced block there)."""
    b = c.baseline
    lines = [
        f"compared with {b.path} ({b.created_at or 'unknown date'}, commit {b.git_commit or 'n/a'})"
    ]
    width = max(len(d.name) for d in c.deltas)
    for d in c.deltas:
        lines.append(
            f"  {d.name:<{width}}  {fmt(d.old, places=places_for(d.name)):>8} -> "
            f"{fmt(d.new, places=places_for(d.name)):>8}  "
            f"({fmt(d.delta, True, places_for(d.name))})"
        )
    for change in ("fixed", "broken"):
        flips = c.flipped(change)
        listed = ", ".join(f"{f.item_id} ({f.metric})" for f in flips) or "none"
        lines.append(f"  {change} ({len(flips)}): {listed}")
    if c.only_new or c.only_old:
        lines.append(f"  items only in this run: {c.only_new}; only in the baseline: {c.only_old}")
    return "\n".join(lines)
