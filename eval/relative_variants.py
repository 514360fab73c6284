"""Relative-time variants of a gold set: each question that names one year, the year its
answering document speaks from or one either side, asked again with 今年, 去年 or 明年 in its place.

A user asks "今年…" of a work report and the service reads 今年 as the year the document speaks
from (service/reltime.py). The relative-time sets written by hand (eval/gold/reltime_*.jsonl) ask
that of the five sample documents only; these variants ask it of
every document a gold set is about, with the set's own answers and citations, so what saying 今年
instead of the year costs can be read on hundreds of items: ask the set and its variants of the
same index and compare item by item. Ask them of an index of the set's own documents (`.ragqa/small/NAME`):
in an index of many documents of different years 今年 is ambiguous by nature.

    python -m ragqa.eval.relative_variants .ragqa/small/c7/gold.jsonl --index .ragqa/small/c7/index --out rel-c7.jsonl
    ragqa eval rel-c7.jsonl --index .ragqa/small/c7/index

An item is kept when it is answerable, all its citations are in one document of the index, that
document has a year (`reltime.speaking_year`), its question names exactly one year (a number
like 2023 before 年) and no relative year already, and that year is the document's or one off.
The variant's id is the item's with `rel-` before it; nothing else of the item changes.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ragqa.index.store import load_index
from ragqa.ingest.errors import RagqaError
from ragqa.ingest.model import Document
from ragqa.service.reltime import has_relative_time, speaking_year

_YEAR = re.compile(r"((?:19|20)[0-9]{2})\s*年")
WORDS = {0: "今年", -1: "去年", 1: "明年"}  # by the named year minus the year the document speaks from


def variant(item: Mapping[str, Any], docs: Mapping[str, Document]) -> tuple[dict[str, Any] | None, str]:
    """`item` with its year said relative to its document's, or None; and why (a `Counter` key)."""
    refs = item.get("refs") or []
    if not refs:
        return None, "unanswerable"
    cited = {r["doc"] for r in refs}
    doc = docs.get(cited.pop()) if len(cited) == 1 else None
    if doc is None:
        return None, "not one document of the index"
    question = str(item["question"])
    years = {int(y) for y in _YEAR.findall(question)}
    if len(years) != 1 or has_relative_time(question):
        return None, "not one year named"
    speaks = speaking_year(doc)
    if speaks is None:
        return None, "document without a year"
    word = WORDS.get(years.pop() - speaks)
    if word is None:
        return None, "year not the document's or one off"
    return {**item, "id": f"rel-{item['id']}", "question": _YEAR.sub(word, question, count=1)}, word


def variants(lines: Sequence[str], docs: Mapping[str, Document]) -> tuple[list[dict[str, Any]], Counter[str]]:
    """The variants of the gold items in `lines` (JSON, one per line) and how many items went each way."""
    out: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {n} is not JSON: {exc.msg}") from None
        made, why = variant(item, docs)
        counts[why] += 1
        if made is not None:
            out.append(made)
    return out, counts


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ragqa.eval.relative_variants", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("gold", type=Path, help="a gold set (JSONL)")
    p.add_argument("--index", type=Path, required=True, help="an index holding the documents the set cites (their years are read from it)")
    p.add_argument("--out", type=Path, required=True, help="where the variants are written (JSONL)")
    args = p.parse_args(argv)
    try:
        lines = args.gold.read_text(encoding="utf-8").splitlines()
        docs = load_index(args.index).documents
        made, counts = variants(lines, docs)
    except (OSError, RagqaError, ValueError) as exc:
        print(f"relative_variants: {args.gold}: {exc}", file=sys.stderr)
        return 1
    args.out.write_text("".join(json.dumps(v, ensure_ascii=False) + "\n" for v in made), encoding="utf-8")
    said = ", ".join(f"{w} {counts[w]}" for w in WORDS.values())
    skipped = "; ".join(f"{why} {n}" for why, n in counts.most_common() if why not in WORDS.values())
    print(f"relative_variants: {len(made)} of {sum(counts.values())} items ({said}) -> {args.out}; skipped: {skipped or 'none'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
