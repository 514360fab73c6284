"""Each question set's train items asked again in an index of only that set's documents.

A new user indexes a handful of their own documents, not the 290 of eval/corpora. Asked in one
index of everything, a question's retrieved passages come from many look-alike documents (another
city's bulletin, another province's regulation); asked where only its set's few documents are, they
come from the right document far more often, and an unanswerable question finds the passages of its
own document on its topic, which look answerable. The answer model trained only on the first
condition met the second at answer time: R3 on c53–c56, each set in its own index, answered 0.873
of the answerable questions (0.797 in the merged one) but refused 0.316 of the unanswerable ones
(0.537 in the merged one).

This writes, for each raw gold set (eval/gold/raw/cN.jsonl), its items that are in the train split,
as `OUT/NAME/gold.jsonl`, and builds `OUT/NAME/index` from the documents those items are about,
taking chunks and vectors from the merged index (`--live`) so nothing is embedded again. A set about
more than `--max-docs` documents is cut into groups of at most that many, each item with its
documents (an item citing a document of another group brings it along, so a group can go over).
`OUT/pairs.txt` lists the `--gold GOLD=INDEX` arguments for `ragqa train`. With `--whole NAME` there is one corpus, of every document the `--gold` set is about: `make test` asks the test split so.

    python -m ragqa.eval.small_corpora --gold eval/gold/train.jsonl --raw eval/gold/raw \\
        --corpora eval/corpora --live .ragqa/corpora --out .ragqa/small
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ragqa.index.build import build_index
from ragqa.index.embedders import make_embedder
from ragqa.index.keyword import configure_jieba
from ragqa.index.store import Reuse, load_index, read_manifest
from ragqa.ingest.errors import RagqaError
from ragqa.ingest.readers import read_files
from ragqa.service.settings import Settings

from .errors import EvalError
from .goldset import load_gold
from .train_answerer import _group

_RAW_SET = "c*.jsonl"  # the question sets, one file per writers' round (not aggregate_* or conversation/)


def _split(docs: list[str], most: int) -> list[list[str]]:
    """`docs` (sorted) cut in order into the fewest groups of at most `most`, their sizes differing by
    one at most (7 by 3: 3, 2, 2)."""
    n = -(-len(docs) // most)
    size, extra = divmod(len(docs), n) if n else (0, 0)
    out, start = [], 0
    for k in range(n):
        end = start + size + (k < extra)
        out.append(docs[start:end])
        start = end
    return out


def whole(gold: Path, corpora: Path, name: str) -> list[tuple[str, list[str], list[str]]]:
    """One corpus `name` of every document the items of `gold` are about, with all of them: the
    test split asked as its own few documents, as a user's own are (`make eval`, `make test`)."""
    lines = [line for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = load_gold(gold).items
    docs = sorted({r.doc for i in items for r in i.refs} | {d for i in items if (corpora / (d := _group(i))).is_file()})
    _present(docs, corpora, gold.name)
    return [(name, docs, lines)] if docs else []


def _present(docs: list[str], corpora: Path, source: str) -> None:
    """EvalError naming the first of `docs` (cited by the items of `source`) that `corpora` lacks."""
    gone = [d for d in docs if not (corpora / d).is_file()]
    if gone:
        raise EvalError(f"{source} cites {gone[0]}, which is not under {corpora}" + (f" (and {len(gone) - 1} more)" if len(gone) > 1 else ""))


def plan(train: Path, raw_dir: Path, corpora: Path, most: int) -> list[tuple[str, list[str], list[str]]]:
    """(name, documents, gold lines) per small corpus: each raw set's items in the split `train`,
    grouped by the documents they are about. An item about no document of the corpora is left out."""
    train_lines = {json.loads(line)["id"]: line for line in train.read_text(encoding="utf-8").splitlines() if line.strip()}
    items = {i.id: i for i in load_gold(train).items}
    out: list[tuple[str, list[str], list[str]]] = []
    for raw in sorted(raw_dir.glob(_RAW_SET), key=lambda p: (len(p.stem), p.stem)):
        ids = [json.loads(line)["id"] for line in raw.read_text(encoding="utf-8").splitlines() if line.strip()]
        mine = [items[i] for i in ids if i in items]
        home = {i.id: _group(i) for i in mine}
        docs = sorted({d for d in home.values() if (corpora / d).is_file()})
        for n, part in enumerate(_split(docs, most), start=1):
            chosen = [i for i in mine if home[i.id] in part]
            needed = sorted(set(part) | {r.doc for i in chosen for r in i.refs})  # an item citing two documents brings both
            _present(needed, corpora, raw.name)
            name = raw.stem if len(docs) <= most else f"{raw.stem}-{n}"
            out.append((name, needed, [train_lines[i.id] for i in chosen]))
    return [p for p in out if p[2]]


def build(out: Path, corpora: Path, live_dir: Path, groups: Sequence[tuple[str, list[str], list[str]]]) -> list[str]:
    """Write each group's documents (links), gold file and index under `out`; the pairs for `ragqa train`."""
    settings = Settings()
    configure_jieba(settings.cache_dir / "jieba")
    embedder = make_embedder(str(read_manifest(live_dir).get("embedder")), settings.embed_threads)
    live = load_index(live_dir, embedder.name)
    reuse = Reuse.of(live)
    pairs = []
    started = time.perf_counter()
    for k, (name, docs, gold) in enumerate(groups, start=1):
        home = out / name
        if home.is_symlink() or home.is_file():
            home.unlink()
        elif home.exists():
            shutil.rmtree(home)
        for d in docs:
            (home / "docs" / d).parent.mkdir(parents=True, exist_ok=True)
            (home / "docs" / d).symlink_to((corpora / d).resolve())
        (home / "gold.jsonl").write_text("\n".join(gold) + "\n", encoding="utf-8")
        read, skipped = read_files([home / "docs"])
        if skipped:
            raise EvalError(f"{name}: cannot read {skipped[0].path}: {skipped[0].reason}")
        chunks, _ = build_index([doc for doc, _ in read], home / "index", embedder, settings.token_budget, reuse=reuse)
        pairs.append(f"--gold {home / 'gold.jsonl'}={home / 'index'}")
        print(f"small_corpora: {k}/{len(groups)} {name}: {len(docs)} documents, {len(gold)} items, {len(chunks)} chunks "
              f"({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    return pairs


def main(argv: Sequence[str] | None = None) -> int:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(prog="python -m ragqa.eval.small_corpora", description=doc.split("\n\n")[0],
                                epilog=doc.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gold", type=Path, default=Path("eval/gold/train.jsonl"), help="the train split (default eval/gold/train.jsonl)")
    p.add_argument("--raw", type=Path, default=Path("eval/gold/raw"), help="the raw question sets (default eval/gold/raw)")
    p.add_argument("--corpora", type=Path, default=Path("eval/corpora"), help="the documents (default eval/corpora)")
    p.add_argument("--live", type=Path, default=Path(".ragqa/corpora"), help="the merged index to take chunks and vectors from")
    p.add_argument("--out", type=Path, default=Path(".ragqa/small"), help="where the small corpora go (default .ragqa/small)")
    p.add_argument("--max-docs", type=int, default=8, help="documents per small corpus at most (default 8)")
    p.add_argument("--whole", metavar="NAME", help="no raw sets: one corpus NAME of every document --gold is about, with all its items")
    args = p.parse_args(argv)
    try:
        if not args.gold.is_file() or not (args.whole or args.raw.is_dir()):
            raise EvalError(f"need the gold set {args.gold} and the raw sets {args.raw} (or --whole NAME)")
        if args.max_docs < 1:
            raise EvalError("--max-docs must be at least 1")
        if not args.corpora.is_dir():
            raise EvalError(f"no documents at {args.corpora} (--corpora)")
        groups = whole(args.gold, args.corpora, args.whole) if args.whole else plan(args.gold, args.raw, args.corpora, args.max_docs)
        if not groups:
            raise EvalError(f"no item of {args.gold} is about a document of {args.corpora}" if args.whole else
                            f"no train item of {args.gold} is in a raw set of {args.raw}")
        pairs = build(args.out, args.corpora, args.live, groups)
    except RagqaError as e:  # EvalError, and IndexUnavailable for a missing or stale --live index
        print(f"small_corpora: {e}", file=sys.stderr)
        return 2
    (args.out / "pairs.txt").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    covered = sum(len(g) for _, _, g in groups)
    print(f"small_corpora: {len(groups)} small corpora, {covered} items -> {args.out / 'pairs.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
