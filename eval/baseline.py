"""A plain retrieval baseline: BM25 over fixed-size chunks, as LangChain-style pipelines build.

Each document's lines are packed into windows of about `size` characters (whole lines; a line
longer than the window is its own chunk), BM25 (bm25s) over jieba search-mode tokens, no clause
structure, no dense model. `make eval` prints its hit@5 beside ragqa's on the same documents
and gold sets: ragqa's retrieval should never fall below it.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np
from ragqa.eval.goldset import load_gold
from ragqa.index.keyword import configure_jieba, tokenize
from ragqa.ingest.normalize import match_line, normalize_query
from ragqa.ingest.readers import read_tree


@dataclass(frozen=True)
class Window:
    doc: str
    start_line: int
    end_line: int
    text: str


def windows(doc_id: str, lines: tuple[str, ...], size: int) -> list[Window]:
    """Consecutive lines of one document packed into windows of at most `size` characters."""
    out: list[Window] = []
    start, buf = 1, ""
    for n, line in enumerate(lines, start=1):
        text = match_line(line)
        if buf and len(buf) + len(text) > size:
            out.append(Window(doc_id, start, n - 1, buf))
            start, buf = n, ""
        buf += text
    if buf:
        out.append(Window(doc_id, start, len(lines), buf))
    return out


def hit_at(corpus: Path, gold_path: str, k: int = 5, size: int = 500) -> tuple[float, int]:
    """(hit@k, answerable items) of the baseline on `gold_path` over the documents in `corpus`."""
    configure_jieba(None)
    docs, _ = read_tree([corpus])
    chunks = [w for d in docs for w in windows(d.doc_id, d.lines, size)]
    retriever = bm25s.BM25()
    retriever.index([tokenize(w.text) or ["_"] for w in chunks], show_progress=False)
    gold = load_gold(gold_path)
    hits = total = 0
    for item in gold.items:
        if not item.answerable:
            continue
        total += 1
        query = tokenize(normalize_query(item.question))
        if not query:
            continue
        scores = retriever.get_scores(query)
        top = [chunks[i] for i in np.argsort(-scores, kind="stable")[:k] if scores[i] > 0]
        hits += any(w.doc == r.doc and w.start_line <= r.end_line and r.start_line <= w.end_line for w in top for r in item.refs)
    return (hits / total if total else 0.0), total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragqa.eval.baseline",
        description="hit@k of plain BM25 over fixed-size chunks (the retrieval baseline make eval prints)",
        epilog="example:\n  python -m ragqa.eval.baseline eval/corpora eval/gold/test.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("corpus", type=Path)
    parser.add_argument("gold")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--size", type=int, default=500, help="window size in characters (default 500)")
    args = parser.parse_args(argv)
    rate, n = hit_at(args.corpus, args.gold, args.k, args.size)
    print(f"baseline BM25/{args.size}-char windows  {args.gold}  hit@{args.k} {rate:.3f}  ({n} answerable)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
