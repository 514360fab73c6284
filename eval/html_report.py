"""report.html: one self-contained page (inline CSS and SVG, no scripts, no network).

Sections: run configuration, summary table, bar charts of answer accuracy and
hit@5 per type, a latency histogram, the comparison with a baseline, every
failed item with why it failed, and the gold lines skipped. All text from the
gold file and the service goes through `html.escape`.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np
from ragqa.eval.compare import Comparison, fmt, places_for
from ragqa.eval.contract import Passage
from ragqa.eval.goldset import GoldItem
from ragqa.eval.metrics import Verdict, overlaps
from ragqa.eval.runner import ItemRun, Run
from ragqa.eval.scores import DEFINITIONS
from ragqa.eval.table import table_rows

PASSAGES_SHOWN = 5
EXCERPT_CHARS = 240

CSS = """
body{font:14px/1.5 system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;
 margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}
.charts{display:flex;flex-wrap:wrap;gap:1.5em}svg{background:#fafafa;border:1px solid #ddd}
details{border:1px solid #ddd;border-radius:4px;margin:.4em 0;padding:.3em .6em}
summary{cursor:pointer}
.badge{display:inline-block;border-radius:3px;padding:0 6px;color:#fff;background:#777;
 font-size:12px}
.k-retrieval-miss{background:#b55}.k-wrong-sentence{background:#c80}
.k-false-refusal{background:#85a}.k-answered-unanswerable{background:#a35}
.k-bad-citation{background:#468}.k-call-failed{background:#333}
blockquote{margin:.2em 0 .2em 1em;padding-left:.6em;border-left:3px solid #ccc;
 white-space:pre-wrap;color:#444}
.hit{color:#070;font-weight:bold}.bad{color:#b00;font-weight:bold}
dt{font-weight:bold;margin-top:.4em}code{background:#f3f3f3;padding:0 3px}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def bar_chart(title: str, bars: Sequence[tuple[str, float | None]]) -> str:
    """Horizontal bars for rates in [0, 1]; None is drawn as an empty row marked n/a."""
    label_w, bar_w, row_h, top = 110, 260, 22, 28
    height = top + row_h * len(bars) + 8
    parts = [
        f'<svg width="{label_w + bar_w + 60}" height="{height}"'
        f' role="img" aria-label="{_e(title)}">',
        f'<text x="6" y="18" font-size="13" font-weight="bold">{_e(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = top + i * row_h
        parts.append(f'<text x="6" y="{y + 15}" font-size="12">{_e(label)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#eee"/>')
        if value is not None:
            w = round(bar_w * min(max(value, 0.0), 1.0), 1)
            parts.append(
                f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="16" fill="#4a7ab5"/>'
            )
        shown = "n/a" if value is None else f"{value:.2f}"
        parts.append(f'<text x="{label_w + bar_w + 6}" y="{y + 15}" font-size="12">{shown}</text>')
    parts.append("</svg>")
    return "".join(parts)


def latency_histogram(latencies: Sequence[float], bins: int = 12) -> str:
    """Vertical-bar histogram of ask latencies (ms), equal-width bins, p50/p95 marked."""
    width, height, left, bottom, top = 420, 200, 36, 34, 28
    title = '<text x="6" y="18" font-size="13" font-weight="bold">ask latency (ms)</text>'
    head = f'<svg width="{width}" height="{height}" role="img" aria-label="latency histogram">'
    if not latencies:
        return f'{head}{title}<text x="6" y="60" font-size="12">no latencies</text></svg>'
    counts, edges = np.histogram(np.asarray(latencies, dtype=float), bins=min(bins, len(latencies)))
    plot_w, plot_h = width - left - 10, height - top - bottom
    peak = max(int(counts.max()), 1)
    slot = plot_w / len(counts)
    parts = [head, title, f'<text x="4" y="{top + 10}" font-size="11">{peak}</text>']
    for i, count in enumerate(counts):
        h = plot_h * int(count) / peak
        x = left + i * slot
        parts.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{slot - 2:.1f}"'
            f' height="{h:.1f}" fill="#4a7ab5"><title>{edges[i]:.0f}-{edges[i + 1]:.0f} ms:'
            f" {int(count)}</title></rect>"
        )
    base = top + plot_h
    span = float(edges[-1] - edges[0]) or 1.0
    for q, colour in ((50, "#070"), (95, "#b00")):
        value = float(np.percentile(np.asarray(latencies, dtype=float), q))
        x = left + plot_w * (value - float(edges[0])) / span
        parts.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{base}" stroke="{colour}"'
            f' stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{top + 10 + (q == 95) * 12}"'
            f' font-size="11" fill="{colour}">p{q} {value:.0f}</text>'
        )
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#888"/>')
    for x, edge, anchor in ((left, edges[0], "start"), (width - 10, edges[-1], "end")):
        parts.append(
            f'<text x="{x}" y="{base + 14}" font-size="11" text-anchor="{anchor}">{edge:.0f}</text>'
        )
    middle = left + plot_w / 2
    parts.append(
        f'<text x="{middle}" y="{base + 28}" font-size="11" text-anchor="middle">ms</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _summary_table(run: Run) -> str:
    rows = table_rows(run.overall, run.by_type)
    head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><tr>{head}</tr>{body}</table>"


def _kind_class(kind: str) -> str:
    return "k-" + kind.replace(" ", "-")


def _lines(doc: str, start: int, end: int) -> str:
    span = f"{start}" if start == end else f"{start}–{end}"
    return f"<code>{_e(doc)}</code> lines {span}"


def _failure(r: ItemRun) -> str:
    it, v, out = r.item, r.verdict, r.outcome
    ask = out.ask
    badges = " ".join(
        f'<span class="badge {_kind_class(k)}">{_e(k)}</span>'
        for k in dict.fromkeys(f.kind for f in v.failures)
    )
    why = "".join(f"<li><b>{_e(f.kind)}</b>: {_e(f.detail)}</li>" for f in v.failures)
    need = "all of" if it.must_all else "any of"
    gold = (
        f"{need}: " + ", ".join(f"<code>{_e(a)}</code>" for a in it.answers)
        if it.answers
        else "should refuse"
    )
    refs = "".join(
        f"<li>{_lines(ref.doc, ref.start_line, ref.end_line)}"
        + (f"<blockquote>{_e(text)}</blockquote>" if text else "")
        + "</li>"
        for ref, text in zip(it.refs, r.ref_texts, strict=True)
    )
    answer = "<i>no answer (call failed)</i>" if ask is None else ("<b>refused:</b> " if ask.refused else "") + _e(ask.answer)
    cites = "".join(
        f"<li>[{c.id}] {_lines(c.doc, c.start_line, c.end_line)} · {_e(c.clause)}"
        + (
            ' <span class="bad">quote differs from source</span>'
            if c.id in v.invalid_citations
            else ""
        )
        + f"<blockquote>{_e(c.quote)}</blockquote></li>"
        for c in (ask.citations if ask else ())
    )
    passages = "".join(
        _passage_li(rank, p, it) for rank, p in enumerate(out.search[:PASSAGES_SHOWN], 1)
    )
    note = f"<i>{_e(it.note)}</i>" if it.note else ""
    return (
        f"<details><summary>{badges} <b>{_e(it.id)}</b> ({_e(it.type)}) {_e(it.question)}"
        f"</summary><dl><dt>Why</dt><dd><ul>{why}</ul></dd>"
        f"<dt>Gold</dt><dd>{gold}<ul>{refs}</ul>{note}</dd>"
        f"<dt>Answer</dt><dd>{answer}</dd>"
        f"<dt>Citations</dt><dd>{_ol(cites)}</dd>"
        f"<dt>Top {PASSAGES_SHOWN} search passages</dt><dd>{_ol(passages)}</dd></dl></details>"
    )


def _ol(items: str) -> str:
    return f"<ol>{items}</ol>" if items else "<i>none</i>"


def _passage_li(rank: int, p: Passage, item: GoldItem) -> str:
    hit = any(overlaps(p.doc, p.start_line, p.end_line, ref) for ref in item.refs)
    mark = ' <span class="hit">hit</span>' if hit else ""
    text = p.text if len(p.text) <= EXCERPT_CHARS else p.text[:EXCERPT_CHARS] + "…"
    return (
        f'<li value="{rank}">{_lines(p.doc, p.start_line, p.end_line)} · score {p.score:.3f}{mark}'
        f"<br>{_e(p.clause) or '<i>no clause path</i>'}<blockquote>{_e(text)}</blockquote></li>"
    )


def _comparison(c: Comparison) -> str:
    rows = "".join(
        f"<tr><td>{_e(d.name)}</td><td>{fmt(d.old, places=places_for(d.name))}</td>"
        f"<td>{fmt(d.new, places=places_for(d.name))}</td>"
        f"<td>{fmt(d.delta, True, places_for(d.name))}</td></tr>"
        for d in c.deltas
    )
    flips = "".join(
        f"<p><b>{change}</b> ({len(c.flipped(change))}): "
        + (", ".join(f"{_e(f.item_id)} ({_e(f.metric)})" for f in c.flipped(change)) or "none")
        + "</p>"
        for change in ("fixed", "broken")
    )
    return (
        f"<h2>Compared with baseline</h2><p><code>{_e(c.baseline.path)}</code> "
        f"({_e(c.baseline.created_at or 'unknown date')})</p>"
        "<table><tr><th>metric</th><th>baseline</th><th>this run</th><th>delta</th></tr>"
        f"{rows}</table>{flips}"
    )


def render_html(run: Run, comparison: Comparison | None = None) -> str:
    """The whole report page as one string."""
    c = run.config
    verdicts: list[Verdict] = [r.verdict for r in run.items]
    types = list(run.by_type.items())
    charts = (
        bar_chart("answer accuracy by type", [(t, m.answer_accuracy) for t, m in types])
        + bar_chart("hit@5 by type", [(t, m.hit_at_5) for t, m in types])
        + latency_histogram([v.latency_ms for v in verdicts if v.latency_ms is not None])
    )
    failed = [r for r in run.items if r.verdict.failures]
    problems = "".join(f"<li>line {p.line_no}: {_e(p.reason)}</li>" for p in run.gold.problems)
    definitions = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in DEFINITIONS.items())
    return (
        '<!DOCTYPE html><html lang="zh"><head><meta charset="utf-8">'
        f"<title>ragqa eval {_e(c.created_at)}</title><style>{CSS}</style></head><body>"
        "<h1>ragqa eval report</h1>"
        f"<p>{_e(c.created_at)} · target {_e(c.target)} · "
        f"top_k {c.top_k} (search {c.search_top_k}) · "
        f"commit {_e(c.git_commit or 'n/a')}<br>gold <code>{_e(c.gold_path)}</code> · sha256 "
        f"<code>{_e(c.gold_sha256[:16])}</code> · {len(run.items)} items · "
        f"{len(run.gold.problems)} lines skipped</p>"
        f'<h2>Summary</h2>{_summary_table(run)}<div class="charts">{charts}</div>'
        + (_comparison(comparison) if comparison is not None else "")
        + f"<h2>Failures ({len(failed)})</h2>"
        + ("".join(_failure(r) for r in failed) or "<p>none</p>")
        + (f"<h2>Gold lines skipped</h2><ul>{problems}</ul>" if problems else "")
        + f"<h2>Definitions</h2><dl>{definitions}</dl></body></html>\n"
    )
