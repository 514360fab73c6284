"""The metrics summary table (overall + one row per gold type) as rows of strings."""

from __future__ import annotations

from collections.abc import Mapping

from ragqa.eval.scores import Metrics

TABLE_COLUMNS = (
    ("n", "n"),
    ("hit@1", "hit@1"),
    ("hit@5", "hit@5"),
    ("hit@10", "hit@10"),
    ("mrr", "MRR"),
    ("answer_accuracy", "answer"),
    ("citation_accuracy", "cit.acc"),
    ("citation_validity", "cit.valid"),
    ("refusal_precision", "refusal.P"),
    ("refusal_recall", "refusal.R"),
    ("false_refusal_rate", "false.ref"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
)


def cell(metrics: Metrics, name: str) -> str:
    """One metric as shown in tables: counts as integers, latency in whole ms, rates to 3 places."""
    value = metrics.as_dict()[name]
    if value is None:
        return "n/a"
    if name == "n":
        return str(int(value))
    if name.startswith("latency"):
        return f"{value:.0f}"
    return f"{value:.3f}"


def table_rows(overall: Metrics, per_type: Mapping[str, Metrics]) -> list[list[str]]:
    """Header row, then "overall" and one row per gold type."""
    rows = [["", *(label for _, label in TABLE_COLUMNS)]]
    for label, metrics in [("overall", overall), *per_type.items()]:
        rows.append([label, *(cell(metrics, name) for name, _ in TABLE_COLUMNS)])
    return rows


def summary_table(overall: Metrics, per_type: Mapping[str, Metrics]) -> str:
    """Aligned plain-text table for the terminal."""
    rows = table_rows(overall, per_type)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )
