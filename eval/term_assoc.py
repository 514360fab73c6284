"""Learn the query-expansion table (index/expansion.py) from gold questions and the lines that answer them.

For each answerable item, Q is the question's search words and A the words of its gold lines. For a
question word q that A lacks (the asker's own word), every word a of A that Q lacks is counted. q
gets the expansion a with P = count(q, a) / count(q missing) when
- at least --min-count questions, on at least --min-docs different documents, pair them (no one
  document's vocabulary, and no one question, becomes a rule);
- P >= --min-share, and P is at least --min-lift times the share of all gold-line sets holding a
  (words every clause holds, such as 规定, add nothing);
- the index knows a.
At most --per-word expansions per question word, the most frequent first.

`--check` measures what the table would do, out of fold by document: the items of one fifth of the
documents are searched with a table learned on the other four fifths, and the first-stage hit@5
(the gold lines among the five chunks retrieved, before the answer model reorders them) is printed
for each weight against the plain query. The shipped weight (FusionConfig.expansion_weight) was
chosen that way on the train split.

  python -m ragqa.eval.term_assoc --gold eval/gold/train.jsonl=.ragqa/corpora
  python -m ragqa.eval.term_assoc --gold eval/gold/train.jsonl=.ragqa/corpora --check 0.6,1,1.5,2 --out /tmp/x.json
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ragqa.index.embedders import Embedder, make_embedder
from ragqa.index.expansion import Expansions
from ragqa.index.keyword import KeywordIndex, configure_jieba, strip_frame, tokenize
from ragqa.index.search import Searcher
from ragqa.index.store import LoadedIndex, load_index, read_manifest
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold, normalize_query
from ragqa.service.extractive import EXPANSIONS
from ragqa.service.settings import Settings

from .contract import Passage
from .errors import EvalError
from .goldset import GoldItem, load_gold
from .metrics import first_hit_rank

FOLDS = 5


@dataclass(frozen=True)
class Pair:
    """One answerable item: its question's words and its gold lines' words."""

    item: GoldItem
    doc: str
    asked: frozenset[str]
    answering: frozenset[str]


@dataclass(frozen=True)
class Rules:
    """When a (question word, answering-line word) pair is kept: see the module docstring."""

    min_count: int = 4
    min_docs: int = 5
    min_share: float = 0.2
    min_lift: float = 3.0
    per_word: int = 5


def pairs_of(items: Sequence[GoldItem], docs: dict[str, Document]) -> list[Pair]:
    out = []
    for it in items:
        refs = [r for r in it.refs if r.doc in docs]
        if not it.answerable or not refs:
            continue
        lines = " ".join(" ".join(docs[r.doc].lines[r.start_line - 1 : r.end_line]) for r in refs)
        out.append(Pair(it, refs[0].doc, frozenset(tokenize(strip_frame(normalize_query(it.question)))), frozenset(tokenize(fold(lines)))))
    return out


def learn(pairs: Sequence[Pair], keyword: KeywordIndex, rules: Rules) -> Expansions:
    """The expansion table `pairs` support under `rules` (see the module docstring)."""
    together: dict[str, Counter[str]] = defaultdict(Counter)
    where: dict[tuple[str, str], set[str]] = defaultdict(set)
    missing: Counter[str] = Counter()
    base: Counter[str] = Counter()
    for p in pairs:
        base.update(p.answering)
        for q in p.asked - p.answering:
            missing[q] += 1
            for a in p.answering - p.asked:
                together[q][a] += 1
                where[q, a].add(p.doc)
    table = {}
    for q, counts in together.items():
        kept = []
        for a, n in counts.items():
            share = n / missing[q]
            lift = share / (base[a] / len(pairs))
            if n >= rules.min_count and len(where[q, a]) >= rules.min_docs and share >= rules.min_share and lift >= rules.min_lift and keyword.df.get(a, 0):
                kept.append((a, share))
        if kept:
            table[q] = tuple(sorted(kept, key=lambda x: (-x[1], x[0]))[: rules.per_word])
    return Expansions(table)


def fold_of(doc: str) -> int:
    """The fold (of FOLDS) a document's items are held out in."""
    return int(hashlib.sha1(doc.encode()).hexdigest(), 16) % FOLDS


def _hit(item: GoldItem, searcher: Searcher, top_k: int = 5) -> bool:
    """Whether the gold lines are among the `top_k` chunks retrieved, matched as `ragqa eval` matches them."""
    found = [Passage(h.chunk.doc_id, h.chunk.start_line, h.chunk.end_line) for h in searcher.search(item.question, top_k)]
    return first_hit_rank(found, item.refs) is not None


def check(pairs: Sequence[Pair], searcher: Searcher, rules: Rules, weights: Sequence[float]) -> None:
    """Print out-of-fold first-stage hit@5 for the plain query and each expansion weight."""
    tables = [learn([p for p in pairs if fold_of(p.doc) != k], searcher.index.keyword, rules) for k in range(FOLDS)]
    for weight in (0.0, *weights):
        started, hits = time.perf_counter(), 0
        for k in range(FOLDS):
            fold_searcher = Searcher(searcher.index, searcher.embedder, replace(searcher.fusion, expansion_weight=weight), expansions=tables[k])
            hits += sum(_hit(p.item, fold_searcher) for p in pairs if fold_of(p.doc) == k)
        label = "plain query" if weight == 0 else f"weight {weight:g}"
        print(f"term_assoc: out of fold, {label}: first-stage hit@5 {hits / len(pairs):.4f} over {len(pairs)} items "
              f"({time.perf_counter() - started:.0f}s)", file=sys.stderr, flush=True)


def gold_index_pair(text: str) -> tuple[str, Path]:
    """An argument GOLD.jsonl=INDEX_DIR (here and in `ragqa train`)."""
    gold, sep, index = text.partition("=")
    if not sep or not gold or not index:
        raise argparse.ArgumentTypeError(f"'{text}' should read GOLD.jsonl=INDEX_DIR")
    return gold, Path(index)


def gold_on_index(gold: str, index_dir: Path, settings: Settings) -> tuple[list[GoldItem], LoadedIndex, Embedder]:
    """The items of the gold set `gold` and the index at `index_dir` that holds their documents,
    with its embedder (here and in eval/term_necessity.py); EvalError when either is missing."""
    if not Path(gold).is_file():
        raise EvalError(f"no gold set at {gold}")
    if not (index_dir / "manifest.json").is_file():
        raise EvalError(f"no index at {index_dir}; build it with 'ragqa ingest DOCS --index {index_dir}'")
    embedder = make_embedder(str(read_manifest(index_dir).get("embedder")), settings.embed_threads)
    index = load_index(index_dir, embedder.name)
    docs = dict(index.documents.items())
    got = load_gold(gold, lambda d: len(docs[d].lines) if d in docs else None)
    return list(got.items), index, embedder


def _weights(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"'{text}' should be weights above 0 separated by commas, such as 0.6,1,1.5")
    return values


def learner_parser(prog: str, doc: str) -> argparse.ArgumentParser:
    """The command line of a learner from train gold sets (here and in eval/term_necessity.py):
    its help from the module's `doc`, and its --gold pairs."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0], epilog=doc.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gold", type=gold_index_pair, action="append", required=True, metavar="GOLD.jsonl=INDEX_DIR",
                   help="a train gold set and the index holding its documents (repeatable; never the test split)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = learner_parser("python -m ragqa.eval.term_assoc", __doc__ or "")
    p.add_argument("--out", type=Path, default=EXPANSIONS, help=f"where the table goes (default {EXPANSIONS})")
    p.add_argument("--min-count", type=int, default=Rules.min_count, help=f"questions that must pair the two words (default {Rules.min_count})")
    p.add_argument("--min-docs", type=int, default=Rules.min_docs, help=f"documents those questions must be about (default {Rules.min_docs})")
    p.add_argument("--min-share", type=float, default=Rules.min_share, help=f"least P (default {Rules.min_share})")
    p.add_argument("--min-lift", type=float, default=Rules.min_lift, help=f"least P over the word's base rate (default {Rules.min_lift})")
    p.add_argument("--per-word", type=int, default=Rules.per_word, help=f"expansions kept per question word (default {Rules.per_word})")
    p.add_argument("--check", type=_weights, metavar="W1,W2,…", help="also print out-of-fold first-stage hit@5 at these expansion weights")
    args = p.parse_args(argv)
    rules = Rules(args.min_count, args.min_docs, args.min_share, args.min_lift, args.per_word)
    settings = Settings()
    configure_jieba(settings.cache_dir / "jieba")
    everything: list[Pair] = []
    keyword: KeywordIndex | None = None
    searcher: Searcher | None = None
    try:
        for gold, index_dir in args.gold:
            items, index, embedder = gold_on_index(gold, index_dir, settings)
            found = pairs_of(items, dict(index.documents.items()))
            print(f"term_assoc: {gold}: {len(found)} answerable items on {index_dir}", file=sys.stderr)
            everything += found
            keyword = keyword or index.keyword
            searcher = searcher or Searcher(index, embedder, settings.fusion())
    except EvalError as e:
        print(f"term_assoc: {e}", file=sys.stderr)
        return 2
    if keyword is None or searcher is None or not everything:
        print("term_assoc: no answerable item found in the gold sets", file=sys.stderr)
        return 2
    if args.check:
        if len(args.gold) > 1:
            print("term_assoc: --check searches the first index only; its items are the first set's", file=sys.stderr)
        check([p for p in everything if p.doc in searcher.index.documents], searcher, rules, args.check)
    table = learn(everything, keyword, rules)
    meta = {
        "learned_from": [{"gold": g, "sha256": hashlib.sha256(Path(g).read_bytes()).hexdigest(), "index": str(i)} for g, i in args.gold],
        "items": len(everything),
        "rules": rules.__dict__,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table.to_json(meta), encoding="utf-8")
    print(f"term_assoc: {len(table.table)} question words, {sum(len(v) for v in table.table.values())} expansions -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
