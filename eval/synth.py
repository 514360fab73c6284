"""Synthetic corpus for the scale benchmark: the sample corpus grown to N clauses (issue 14).

    python -m ragqa.eval.synth --clauses 100000 --out out/synth [--seed 0] [--source samples/corpus]

Each copy of the source documents is the same set of documents told about another place:

* place names, leaders' names (eval/synthnames.py finds them), numbers and years are replaced
  consistently within the copy, so a question and its document still agree. Every copy gets its
  own names (never reused by another copy); years move by one offset per copy; other numbers
  keep their digit count. 我市/全市… become the copy's own city, and a sentence that still names
  nothing of its copy gets the city as its subject (深化改革。 -> 槐塘深化改革。), so no two
  chunks are alike however many copies there are;
* unit names (市发改局, 縣衛生健康局 …) are permuted among the corpus's units of the same script;
* sibling clauses (blocks under headings of one kind, below the top level) are shuffled, and
  so are the rows of a table (its header row stays first).

What is written under `--out`:

    docs/<copy>_<source doc>.txt   the documents (ingest this folder)
    queries.jsonl                  gold-format questions (eval/gold/dev.jsonl's fields) rewritten
                                   for copies, with their perturbed answers and exact line refs
    origins.jsonl                  per document: its source document and each line's source line
    synth.json                     seed, copies, expected chunks, the names that were perturbed

A gold question is kept for a copy only when every answer string is found in the perturbed ref
lines; one that names no place or person of the copy gets the copy's city in front, so it
points at one copy only.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragqa.ingest.clauses import chunk_document, detect_heading
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import clean_line, fold

from .synthnames import GIVEN, PLACE_CHARS, SURNAMES, Names, detect_names, invariant, unique_names
from .textnorm import normalize

_OUR = re.compile(r"(?:我|全|本)(?:市|县|縣)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9.])\d+(?:\.\d+)?(?![A-Za-z0-9])")
_LEAD = re.compile(
    r"^\s*(?:#{1,6}\s*|>\s*)*(?:[一二三四五六七八九十]{1,3}[、是]|[(（][一二三四五六七八九十\d]{1,3}[)）]|\d{1,3}[、.．]|——|[\u2460-\u2473]|"
    r"第[一二三四五六七八九十百\d]{1,4}[章节条節條])?\s*"
)
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]")
_SENTENCE = re.compile(r"(?<=[。；;！!？?])")
_GENERIC_MIN = 8  # CJK characters from which a sentence that names nothing of its copy gets the city
_MARKER = re.compile(r"^\s*(?:#{1,6}\s*)?(?:\d{1,3}(?=、|[.．](?!\d))|[(（]\d{1,3}[)）])")


class Perturbation:
    """One copy's substitutions: names, units, 我市-style references and numbers, the same
    wherever they occur (documents, questions, answers)."""

    def __init__(self, names: Names, copy: int, copies: int, seed: int) -> None:
        self.copy, self.seed = copy, seed
        stems = list(names.places)
        places = unique_names(len(stems), len(stems) * copies, copy, invariant(PLACE_CHARS), seed)
        persons = unique_names(len(names.persons), len(names.persons) * copies, copy, invariant(GIVEN), seed, invariant(SURNAMES))
        self.place = dict(zip(stems, places, strict=True))
        table: dict[str, str] = {}
        for stem, new in self.place.items():
            table.update({spelling: new for spelling in names.places[stem]})
        table.update(zip(names.persons, persons, strict=True))
        rng = random.Random(f"units:{seed}:{copy}")
        for script in (True, False):
            group = [u for u in names.units if (fold(u) == u) == script]
            moved = group[:]
            rng.shuffle(moved)
            table.update(zip(group, moved, strict=True))
        self.main = {doc: self.place.get(stem, "") for doc, stem in names.main.items()}
        self.names = frozenset(places) | frozenset(persons)
        self._table = table
        keys = sorted(table, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, keys))) if keys else None
        self.year_shift = random.Random(f"years:{seed}:{copy}").choice([d for d in range(-12, 13) if d])
        self._numbers: dict[str, str] = {}

    def number(self, text: str) -> str:
        """The copy's value for the number written `text`: years shifted, others redrawn with
        the same digit count (1–12 stay 1–12, 13–31 stay 13–28, so months and days stay dates)."""
        if text not in self._numbers:
            rng = random.Random(f"n:{self.seed}:{self.copy}:{text}")
            whole, _, frac = text.partition(".")
            value = int(whole)
            if not frac and len(whole) == 4 and 1900 <= value <= 2099:
                new = str(value + self.year_shift)
            else:
                if len(whole) > 1 and whole[0] == "0":
                    head = str(rng.randrange(10 ** len(whole))).zfill(len(whole))
                elif value == 0:
                    head = "0"
                elif value <= 12:
                    head = str(rng.randint(1, 12))
                elif value <= 31:
                    head = str(rng.randint(13, 28))
                else:
                    head = str(rng.randrange(10 ** (len(whole) - 1), 10 ** len(whole)))
                new = head + ("." + "".join(str(rng.randrange(10)) for _ in frac) if frac else "")
            self._numbers[text] = new
        return self._numbers[text]

    def apply(self, text: str, doc: str = "") -> str:
        """`text` as this copy tells it; `doc` (a source document id) names the city that
        我市/全市/本县 refer to."""
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self._table[m.group(0)], text)
        city = self.main.get(doc, "")
        if city:
            text = _OUR.sub(lambda m: city + m.group(0)[1], text)
        marker = _MARKER.match(text)
        skip = marker.end() if marker else 0
        return _NUMBER.sub(lambda m: m.group(0) if m.start() < skip else self.number(m.group(0)), text)

    def apply_line(self, line: str, doc: str) -> str:
        """A document line as this copy tells it: `apply`, and each sentence that still names
        nothing of this copy's own gets the city as its subject (深化改革。 -> 槐塘深化改革。), so
        generic sentences differ between copies too (the chunker cuts long lines at sentence ends)."""
        out = self.apply(line, doc)
        city = self.main.get(doc, "")
        if not city:
            return out
        return "\t".join(self._own(cell, city) for cell in out.split("\t"))  # table cells one by one

    def _own(self, text: str, city: str) -> str:
        pieces = _SENTENCE.split(text)
        for i, piece in enumerate(pieces):
            if len(_CJK_RUN.findall(piece)) >= _GENERIC_MIN and not any(name in piece for name in self.names):
                lead = _LEAD.match(piece)
                cut = lead.end() if lead else 0
                pieces[i] = piece[:cut] + city + piece[cut:]
        return "".join(pieces)


@dataclass
class _Block:
    kind: str
    lines: list[int] = field(default_factory=list)  # the heading line, or plain lines of the root
    children: list[_Block | int] = field(default_factory=list)


def _tree(lines: Sequence[str]) -> _Block:
    root = _Block("root")
    stack: list[_Block] = []
    for i, line in enumerate(lines):
        heading = detect_heading(clean_line(line)) if line.strip() and "\t" not in line else None
        if heading is None:
            (stack[-1] if stack else root).children.append(i)
            continue
        kinds = [b.kind for b in stack]
        if heading.kind in kinds:
            del stack[kinds.index(heading.kind) :]
        block = _Block(heading.kind, [i])
        (stack[-1] if stack else root).children.append(block)
        stack.append(block)
    return root


def _flatten(block: _Block, rng: random.Random, top: bool) -> list[int]:
    out = list(block.lines)
    kids = block.children
    if not top:
        nodes = [k for k in kids if isinstance(k, _Block)]
        rng.shuffle(nodes)
        it = iter(nodes)
        kids = [next(it) if isinstance(k, _Block) else k for k in kids]
    for kid in kids:
        out.extend(_flatten(kid, rng, False) if isinstance(kid, _Block) else [kid])
    return out


def _shuffle_tables(order: list[int], lines: Sequence[str], rng: random.Random) -> list[int]:
    """Shuffle each run of table rows (tab-separated) after its header row; a row whose first
    cell is empty continues the row above and moves with it."""
    out: list[int] = []
    i = 0
    while i < len(order):
        if "\t" not in lines[order[i]]:
            out.append(order[i])
            i += 1
            continue
        j = i
        while j < len(order) and ("\t" in lines[order[j]] or not lines[order[j]].strip()):
            j += 1
        rows: list[list[int]] = []
        for n in order[i:j]:
            if rows and (not lines[n].strip() or not lines[n].split("\t")[0].strip()):
                rows[-1].append(n)
            else:
                rows.append([n])
        body = rows[1:]
        rng.shuffle(body)
        out.extend(n for row in rows[:1] + body for n in row)
        i = j
    return out


def shuffled_order(lines: Sequence[str], rng: random.Random) -> list[int]:
    """A permutation of line indexes: sibling clause blocks below the top level shuffled, and
    table rows within their table. out[i] is the source index of new line i."""
    order = _flatten(_tree(lines), rng, True)
    return _shuffle_tables(order, lines, rng)


@dataclass(frozen=True)
class SynthDoc:
    """One synthetic document: its lines and, per line, the 1-based source line it came from."""

    doc_id: str
    source: str
    copy: int
    lines: tuple[str, ...]
    origin: tuple[int, ...]


def synth_copy(docs: Sequence[Document], names: Names, copy: int, copies: int, seed: int) -> tuple[list[SynthDoc], Perturbation]:
    """Copy number `copy` (of `copies`) of `docs`, and the perturbation that made it."""
    perturbation = Perturbation(names, copy, copies, seed)
    out = []
    for doc in docs:
        order = shuffled_order(doc.lines, random.Random(f"order:{seed}:{copy}:{doc.doc_id}"))
        lines = tuple(perturbation.apply_line(doc.lines[i], doc.doc_id) for i in order)
        out.append(SynthDoc(synth_id(copy, doc.doc_id), doc.doc_id, copy, lines, tuple(i + 1 for i in order)))
    return out, perturbation


def synth_id(copy: int, source: str) -> str:
    return f"c{copy:04d}_{source.replace('/', '_')}"


def _runs(numbers: Iterable[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for n in sorted(numbers):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    return runs


def rewrite_item(item: dict[str, Any], copy_docs: dict[str, SynthDoc], perturbation: Perturbation) -> dict[str, Any] | None:
    """A gold item (dev.jsonl's fields) for this copy, or None when a ref's document is not in
    the copy or an answer is no longer found in its perturbed ref lines."""
    refs: list[dict[str, Any]] = []
    text = []
    for ref in item.get("refs", []):
        doc = copy_docs.get(ref["doc"])
        if doc is None:
            return None
        place = {src: i + 1 for i, src in enumerate(doc.origin)}
        new = [place[n] for n in range(ref["start_line"], ref["end_line"] + 1)]
        refs.extend({"doc": doc.doc_id, "start_line": a, "end_line": b} for a, b in _runs(new))
        text.append(normalize("".join(doc.lines[n - 1] for n in new)))
    source_doc = item["refs"][0]["doc"] if item.get("refs") else next(iter(copy_docs))
    answers = [perturbation.apply(a, source_doc) for a in item.get("answers", [])]
    found = [a for a in answers if any(normalize(a) in t for t in text)]
    if answers and (not found or (item.get("must_all") and len(found) < len(answers))):
        return None
    question = perturbation.apply(item["question"], source_doc)
    if not any(name in question for name in perturbation.names):
        city = perturbation.main.get(source_doc, "")
        if not city:
            return None
        question = city + question
    out = {"id": f"{item['id']}-c{perturbation.copy:04d}", "question": question, "answers": found, "must_all": bool(item.get("must_all")),
           "refs": refs, "type": item["type"], "note": f"synthetic copy {perturbation.copy} of {item['id']}"}  # fmt: skip
    return out


@dataclass
class SynthReport:
    """What `write_corpus` wrote."""

    copies: int
    documents: int
    expected_chunks: int
    queries: int
    dropped_queries: int
    names: Names
    seconds: float = 0.0
    source_chunks: dict[str, int] = field(default_factory=dict)


def plan(docs: Sequence[Document], clauses: int, budget: int = 350) -> tuple[int, list[tuple[int, Document]], dict[str, int]]:
    """(copies, (copy, document) pairs, chunks per source document): whole copies of `docs`
    until their chunks reach `clauses`, the last copy cut short by documents."""
    per_doc = {d.doc_id: len(chunk_document(d, budget)) for d in docs}
    pairs: list[tuple[int, Document]] = []
    total, copy = 0, 0
    while total < clauses:
        for doc in docs:
            if total >= clauses:
                break
            pairs.append((copy, doc))
            total += per_doc[doc.doc_id]
        copy += 1
    return copy, pairs, per_doc


def write_corpus(sources: Sequence[Path], out: Path, clauses: int, seed: int = 0, gold: Path | None = None, query_copies: int = 20) -> SynthReport:
    """Write the synthetic corpus of about `clauses` chunks under `out` (see the module
    docstring); queries come from `gold` for `query_copies` copies spread over the corpus."""
    from ragqa.ingest.readers import read_tree

    started = time.perf_counter()
    docs, skipped = read_tree(list(sources))
    if not docs:
        raise SystemExit(f"synth: no readable documents under {', '.join(map(str, sources))}")
    names = detect_names(docs)
    copies, pairs, per_doc = plan(docs, clauses)
    folder = out / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    items = [json.loads(line) for line in gold.read_text(encoding="utf-8").splitlines() if line.strip()] if gold else []
    step = max(1, copies // max(1, query_copies))
    queries: list[dict[str, Any]] = []
    dropped = 0
    with (out / "origins.jsonl").open("w", encoding="utf-8") as origins:
        for copy in range(copies):
            these = [doc for c, doc in pairs if c == copy]
            made, perturbation = synth_copy(these, names, copy, copies, seed)
            for doc in made:
                (folder / doc.doc_id).write_text("\n".join(doc.lines) + "\n", encoding="utf-8")
                origins.write(json.dumps({"doc": doc.doc_id, "source": doc.source, "lines": doc.origin}, ensure_ascii=False) + "\n")
            if copy % step == 0 and copy // step < query_copies:
                by_source = {d.source: d for d in made}
                for item in items:
                    if not {r["doc"] for r in item.get("refs", [])} <= by_source.keys():
                        continue  # not about this copy's documents (the last copy may be cut short)
                    new = rewrite_item(item, by_source, perturbation)
                    if new is None:
                        dropped += 1
                    else:
                        queries.append(new)
    with (out / "queries.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(q, ensure_ascii=False) + "\n" for q in queries)
    expected = sum(per_doc[doc.doc_id] for _, doc in pairs)
    report = SynthReport(copies, len(pairs), expected, len(queries), dropped, names, time.perf_counter() - started, per_doc)
    meta = {
        "seed": seed, "clauses_wanted": clauses, "copies": copies, "documents": len(pairs), "expected_chunks": expected,
        "sources": [str(s) for s in sources], "skipped": [s.path for s in skipped], "gold": str(gold) if gold else None,
        "queries": len(queries), "dropped_queries": dropped, "source_chunks": per_doc,
        "places": names.places, "persons": names.persons, "units": len(names.units), "main_places": names.main,
    }  # fmt: skip
    (out / "synth.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    return report


def parse_size(text: str) -> int:
    """'10k' -> 10000, '1m' -> 1000000, '2500' -> 2500."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ragqa.eval.synth", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clauses", required=True, type=parse_size, help="about how many chunks the corpus holds (e.g. 10k, 1m)")
    parser.add_argument("--out", required=True, type=Path, help="folder to write docs/, queries.jsonl, origins.jsonl, synth.json into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", action="append", type=Path, help="source folder (default samples/corpus; repeatable, e.g. eval/corpora)")
    parser.add_argument("--gold", type=Path, default=Path("eval/gold/dev.jsonl"), help="gold set rewritten into queries.jsonl")
    parser.add_argument("--query-copies", type=int, default=20, help="copies the gold questions are rewritten for (default 20)")
    args = parser.parse_args(argv)
    report = write_corpus(args.source or [Path("samples/corpus")], args.out, args.clauses, args.seed, args.gold, args.query_copies)
    print(
        f"synth: {report.documents} documents in {report.copies} copies, about {report.expected_chunks} chunks, "
        f"{report.queries} queries ({report.dropped_queries} dropped) under {args.out} in {report.seconds:.1f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
