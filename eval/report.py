"""Write a run's report folder: run.json, report.md and report.html.

run.json holds everything needed to read or compare the run later: its
configuration, the gold problems, the metrics (overall and per type), their
definitions, and for every item the question, gold (with the text of its ref
lines), answer, citations, passages (docs, lines, clause, score; the search
passages also with their first TEXT_CHARS characters), timings and verdicts.
report.md holds the summary table, definitions, comparison and failures.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ragqa.eval.compare import Comparison, format_comparison
from ragqa.eval.contract import Passage
from ragqa.eval.errors import ReportError
from ragqa.eval.html_report import render_html
from ragqa.eval.runner import ItemRun, Run
from ragqa.eval.scores import DEFINITIONS
from ragqa.eval.table import table_rows

FORMAT = "ragqa-eval-run/1"
TEXT_CHARS = 300


def _passage(p: Passage, rank: int, text: bool) -> dict[str, Any]:
    data: dict[str, Any] = {"rank": rank, **asdict(p)}
    if not text:
        del data["text"]
    elif len(p.text) > TEXT_CHARS:
        data["text"] = p.text[:TEXT_CHARS] + "…"
    return data


def item_json(r: ItemRun) -> dict[str, Any]:
    """One item of run.json."""
    it, out, v = r.item, r.outcome, r.verdict
    ask = out.ask
    failures = [{"kind": f.kind, "detail": f.detail} for f in v.failures]
    return {
        "id": it.id,
        "type": it.type,
        "line_no": it.line_no,
        "question": it.question,
        "gold": {
            "answers": list(it.answers),
            "must_all": it.must_all,
            "refs": [
                {**asdict(ref), "text": t} for ref, t in zip(it.refs, r.ref_texts, strict=True)
            ],
            "note": it.note,
        },
        "answer": ask.answer if ask else None,
        "refused": ask.refused if ask else None,
        "citations": [asdict(c) for c in ask.citations] if ask else [],
        "ask_passages": [
            _passage(p, i, False) for i, p in enumerate(ask.passages if ask else (), 1)
        ],
        "search_passages": [_passage(p, i, True) for i, p in enumerate(out.search, 1)],
        "llm": {"backend": ask.llm_backend, "model": ask.llm_model} if ask else None,
        "timings_ms": {"ask_wall": out.latency_ms, "server": dict(ask.timings_ms) if ask else None},
        "errors": {"search": out.search_error, "ask": out.ask_error},
        "verdict": {
            "hit_rank": v.hit_rank,
            "hit@1": v.hit_at(1),
            "hit@5": v.hit_at(5),
            "hit@10": v.hit_at(10),
            "answer_correct": v.answer_correct,
            "citation_correct": v.citation_correct,
            "citations_valid": v.citations_valid,
            "invalid_citations": list(v.invalid_citations),
            "refused": v.refused,
            "verdict": v.failures[0].kind if v.failures else "ok",
            "failures": failures,
        },
    }


def run_json(run: Run, comparison: Comparison | None = None) -> dict[str, Any]:
    """The whole run as a JSON-ready dict (the content of run.json)."""
    data: dict[str, Any] = {
        "format": FORMAT,
        "config": {**asdict(run.config), "wall_s": round(run.wall_s, 3)},
        "gold_problems": [asdict(p) for p in run.gold.problems],
        "metrics": {
            "overall": run.overall.as_dict(),
            "by_type": {t: m.as_dict() for t, m in run.by_type.items()},
        },
        "definitions": DEFINITIONS,
        "items": [item_json(r) for r in run.items],
    }
    if comparison is not None:
        data["comparison"] = {
            "baseline": comparison.baseline.path,
            "deltas": {
                d.name: {"old": d.old, "new": d.new, "delta": d.delta} for d in comparison.deltas
            },
            "flips": [asdict(f) for f in comparison.flips],
        }
    return data


def _md_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(run: Run, comparison: Comparison | None = None) -> str:
    """report.md: configuration, summary table, definitions, comparison, failures, gold problems."""
    c = run.config
    rows = table_rows(run.overall, run.by_type)
    out = [
        "# ragqa eval report",
        "",
        f"- created: {c.created_at}; target: {c.target}; top_k {c.top_k} (search {c.search_top_k})",
        f"- gold: `{c.gold_path}` (sha256 {c.gold_sha256[:12]}…), {len(run.items)} items scored, "
        f"{len(run.gold.problems)} lines skipped",
        f"- commit: {c.git_commit or 'n/a'}; wall time {run.wall_s:.1f} s",
        "",
        "## Summary",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
        *("| " + " | ".join(r) + " |" for r in rows[1:]),
        "",
        "## Definitions",
        "",
        *(f"- **{name}**: {_md_escape(text)}" for name, text in DEFINITIONS.items()),
        "",
    ]
    if comparison is not None:
        out += ["## Compared with baseline", "", "```", format_comparison(comparison), "```", ""]
    failed = [r for r in run.items if r.verdict.failures]
    out += [f"## Failures ({len(failed)})", ""]
    if failed:
        out += ["| id | type | verdict | question | gold | answer |", "|---|---|---|---|---|---|"]
    for r in failed:
        ask = r.outcome.ask
        answer = (
            "(no answer)" if ask is None else ("(refused) " if ask.refused else "") + ask.answer
        )
        kinds = "; ".join(f"{f.kind}: {f.detail}" for f in r.verdict.failures)
        gold = " / ".join(r.item.answers) or "(refuse)"
        cells = [r.item.id, r.item.type, kinds, r.item.question, gold, answer[:200]]
        out.append("| " + " | ".join(_md_escape(x) for x in cells) + " |")
    if run.gold.problems:
        out += ["", f"## Gold lines skipped ({len(run.gold.problems)})", ""]
        out += [f"- line {p.line_no}: {_md_escape(p.reason)}" for p in run.gold.problems]
    return "\n".join(out) + "\n"


def write_report(run: Run, folder: str | Path, comparison: Comparison | None = None) -> Path:
    """Write run.json, report.md and report.html into `folder` (created if missing)."""
    d = Path(folder)
    try:
        d.mkdir(parents=True, exist_ok=True)
        text = json.dumps(run_json(run, comparison), ensure_ascii=False, indent=1, default=str)
        (d / "run.json").write_text(text + "\n", encoding="utf-8")
        (d / "report.md").write_text(render_markdown(run, comparison), encoding="utf-8")
        (d / "report.html").write_text(render_html(run, comparison), encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write the report into {d}: {exc.strerror or exc}") from None
    return d
