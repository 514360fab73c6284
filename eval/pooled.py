"""Pooled judging: two or more states asked the same unseen sets, each in its own index and in one merged
index, and their decisions counted side by side.

A change to the answerer moves a few decisions in a hundred. On the 400 decisions of two new sets two
states disagree on about ten, so a real gain of half a percent cannot be told from noise there (session
41: a +4 bar sat at 1.3 standard deviations). Pooling every unseen set the states have not been tuned on
gives thousands of decisions. This builds the indexes once and reuses them:

- *own*: each set's documents alone (`OUT/own/NAME`), as a user indexes their own few;
- *merged*: `--corpora` (main's `eval/corpora`) plus every pooled set's documents (`OUT/merged`).

Then each state (`NAME:VAR=VALUE,…`: environment variables for `ragqa eval`, such as `RAGQA_MODEL_DIR`)
is asked every set in both conditions, and only aggregates are printed and written to
`OUT/summary.json`: per state and condition, answers right, unanswerable questions refused, answerable
ones refused, citations right and hit@5; pooled correct decisions (an answerable question answered
right, an unanswerable one refused); and against the first state, how many decisions differ and the
difference with its standard deviation under no effect (the square root of the discordant count, as
in a sign test). No item is shown: the sets stay unseen. Each state's runs stay in `OUT/runs/STATE`
(run.json per set and condition); read them in aggregate only.

    python -m ragqa.eval.pooled --sets c78 c79 --state M:RAGQA_PASSAGE_CHARS=0 --state V: --out /tmp/pool

States differ by settings or model folders only: code changes need a checkout of their own (run this
there with the same --out: indexes are reused when their documents match).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import EvalError

ROOT = Path(__file__).resolve().parent.parent
CONDITIONS = ("own", "merged")


@dataclass(frozen=True)
class State:
    """One way to run the answerer: a name and the environment variables that make it."""

    name: str
    env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> State:
        """`NAME:VAR=VALUE,VAR=VALUE` (`NAME:` for the defaults); EvalError saying the form when malformed."""
        name, sep, rest = spec.partition(":")
        pairs = [p for p in rest.split(",") if p.strip()] if sep else []
        if not name.strip() or not name.replace("-", "").replace("_", "").isalnum() or any("=" not in p for p in pairs):
            raise EvalError(f"state {spec!r}: expected NAME:VAR=VALUE,... (for example M:RAGQA_MODEL_DIR=/tmp/m or V:)")
        env = {key.strip(): value for key, _, value in (p.strip().partition("=") for p in pairs)}
        if bad := [k for k in env if not k.startswith("RAGQA_")]:
            raise EvalError(f"state {name}: {', '.join(bad)} is not a ragqa setting (RAGQA_*)")
        return cls(name.strip(), env)


@dataclass(frozen=True)
class Tally:
    """What one state did on one condition's sets (counts, not items)."""

    answerable: int = 0
    unanswerable: int = 0
    answered_right: int = 0
    refused_unanswerable: int = 0
    refused_answerable: int = 0
    citations_right: int = 0
    hit5: int = 0

    @property
    def correct(self) -> int:
        return self.answered_right + self.refused_unanswerable

    def __add__(self, other: Tally) -> Tally:
        return Tally(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values(), strict=True)))


def pending_docs(pending: Path, name: str) -> tuple[Path, list[Path]]:
    """The gold file of set `name` and its document folders (those holding a SOURCES.tsv)."""
    gold = pending / name / f"{name}.jsonl"
    if not gold.is_file():
        raise EvalError(f"no gold set {gold}: name sets as they are in {pending} (for example c78)")
    folders = sorted(p for p in (pending / name).iterdir() if p.is_dir() and (p / "SOURCES.tsv").is_file())
    if not folders:
        raise EvalError(f"set {name} has no document folder (a folder with SOURCES.tsv) in {pending / name}")
    return gold, folders


def _ragqa(args: Sequence[str], env: Mapping[str, str], what: str) -> None:
    """Run `ragqa ARGS` with exactly `env`; EvalError naming `what` with the command's last line (its
    one-line error) when it fails."""
    done = subprocess.run([sys.executable, "-m", "ragqa.service.cli", *args], env=dict(env), capture_output=True, text=True)
    if done.returncode != 0:
        said = done.stderr.strip().splitlines()
        raise EvalError(f"{what} failed: {said[-1] if said else '(no message)'}")


def _ingest(docs: Path, index: Path, env: Mapping[str, str]) -> None:
    """`ragqa ingest DOCS --index INDEX`, skipped when INDEX was built from the same files (names and contents)."""
    listing = sorted(f"{p.relative_to(docs)} {hashlib.sha256(p.read_bytes()).hexdigest()}" for p in docs.rglob("*") if p.is_file())
    stamp = index.parent / f"{index.name}.docs.json"
    if (index / "manifest.json").is_file() and stamp.is_file() and json.loads(stamp.read_text(encoding="utf-8")) == listing:
        return
    print(f"pooled: indexing {docs} -> {index}", file=sys.stderr, flush=True)
    for old in (index, index.parent / f"{index.name}.data"):
        shutil.rmtree(old, ignore_errors=True)
    _ragqa(["ingest", str(docs), "--index", str(index)], env, f"ingest of {docs}")
    stamp.write_text(json.dumps(listing, ensure_ascii=False), encoding="utf-8")


def build_indexes(sets: Sequence[str], pending: Path, corpora: Path, out: Path, env: Mapping[str, str]) -> dict[str, dict[str, Path]]:
    """Index per condition and set: {"own": {set: index}, "merged": {set: index}}. A document folder
    whose name another pooled set or the corpora already use is an error (its ids would collide)."""
    seen = {p.name: "corpora" for p in corpora.iterdir() if p.is_dir()}
    merged_docs = out / "docs" / "merged"
    shutil.rmtree(merged_docs, ignore_errors=True)
    shutil.copytree(corpora, merged_docs)
    own: dict[str, Path] = {}
    for name in sets:
        _, folders = pending_docs(pending, name)
        own_docs = out / "docs" / name
        shutil.rmtree(own_docs, ignore_errors=True)
        for folder in folders:
            if folder.name in seen:
                raise EvalError(f"set {name}'s folder {folder.name} is also in {seen[folder.name]}: document ids would collide")
            seen[folder.name] = name
            shutil.copytree(folder, own_docs / folder.name)
            shutil.copytree(folder, merged_docs / folder.name)
        _ingest(own_docs, out / "own" / name, env)
        own[name] = out / "own" / name
    _ingest(merged_docs, out / "merged", env)
    return {"own": own, "merged": {name: out / "merged" for name in sets}}


def tally(run: Path) -> tuple[Tally, dict[str, bool]]:
    """The counts of one `ragqa eval --report` run (its run.json) and each item's decision (right or not)."""
    items = json.loads((run / "run.json").read_text(encoding="utf-8"))["items"]
    counts: dict[str, int] = dict.fromkeys(asdict(Tally()), 0)
    decisions: dict[str, bool] = {}
    for item in items:
        v = item["verdict"]
        if item["gold"]["refs"]:
            counts["answerable"] += 1
            counts["answered_right"] += bool(v["answer_correct"])
            counts["refused_answerable"] += bool(v["refused"])
            counts["citations_right"] += bool(v["citation_correct"])
            counts["hit5"] += bool(v["hit@5"])
            decisions[item["id"]] = bool(v["answer_correct"])
        else:
            counts["unanswerable"] += 1
            counts["refused_unanswerable"] += bool(v["refused"])
            decisions[item["id"]] = bool(v["refused"])
    return Tally(**counts), decisions


def run_state(
    state: State, sets: Sequence[str], pending: Path, indexes: Mapping[str, Mapping[str, Path]], out: Path, env: Mapping[str, str]
) -> dict[str, Path]:
    """Ask every set in both conditions as `state`; {f"{condition}/{set}": report folder}."""
    runs: dict[str, Path] = {}
    for condition in CONDITIONS:
        for name in sets:
            gold, _ = pending_docs(pending, name)
            report = out / "runs" / state.name / condition / name
            print(f"pooled: {state.name} {condition} {name}", file=sys.stderr, flush=True)
            args = ["eval", str(gold), "--index", str(indexes[condition][name]), "--report", str(report)]
            _ragqa(args, {**env, **state.env}, f"{state.name} on {name} ({condition})")
            if not (report / "run.json").is_file():
                raise EvalError(f"{state.name} on {name} ({condition}) failed: no run.json in {report}")
            runs[f"{condition}/{name}"] = report
    return runs


@dataclass(frozen=True)
class Comparison:
    """A state against the baseline (the first state), over every pooled decision."""

    state: str
    baseline: str
    decisions: int
    differ: int
    gained: int
    lost: int

    @property
    def sd(self) -> float:
        """Standard deviation of `gained - lost` when neither state is better: sqrt of the discordant count."""
        return math.sqrt(self.differ)


def summarize(states: Sequence[State], runs: Mapping[str, Mapping[str, Path]]) -> dict[str, object]:
    """Aggregates of every state (per condition and pooled) and each state against the first."""
    tallies: dict[str, dict[str, Tally]] = {}
    decisions: dict[str, dict[str, bool]] = {}
    for state in states:
        per = {c: Tally() for c in CONDITIONS}
        decisions[state.name] = {}
        for key, report in runs[state.name].items():
            condition = key.split("/", 1)[0]
            counts, made = tally(report)
            per[condition] = per[condition] + counts
            decisions[state.name].update({f"{key}/{i}": d for i, d in made.items()})
        tallies[state.name] = per
    base = states[0].name
    comparisons = []
    for state in states[1:]:
        a, b = decisions[base], decisions[state.name]
        shared = a.keys() & b.keys()
        comparisons.append(
            Comparison(
                state.name,
                base,
                len(shared),
                sum(a[k] != b[k] for k in shared),
                sum(b[k] and not a[k] for k in shared),
                sum(a[k] and not b[k] for k in shared),
            )
        )
    return {
        "states": {s.name: dict(s.env) for s in states},
        "tallies": {s: {c: {**asdict(t), "correct": t.correct} for c, t in per.items()} for s, per in tallies.items()},
        "pooled_correct": {s: sum(t.correct for t in per.values()) for s, per in tallies.items()},
        "comparisons": [{**asdict(c), "sd": round(c.sd, 2)} for c in comparisons],
    }


def render(summary: Mapping[str, object]) -> str:
    """The summary as a plain-text table."""
    tallies = summary["tallies"]
    assert isinstance(tallies, dict)
    lines = [
        f"{'state':<10}{'condition':<10}{'answered right':>16}{'unans. refused':>16}{'ans. refused':>14}{'citations':>11}{'hit@5':>8}{'correct':>9}"
    ]
    for state, per in tallies.items():
        for condition, t in per.items():
            lines.append(
                f"{state:<10}{condition:<10}{t['answered_right']:>10} / {t['answerable']:<3}{t['refused_unanswerable']:>10} / {t['unanswerable']:<3}"
                f"{t['refused_answerable']:>14}{t['citations_right']:>11}{t['hit5']:>8}{t['correct']:>9}"
            )
    pooled = summary["pooled_correct"]
    assert isinstance(pooled, dict)
    lines.append("pooled correct decisions: " + ", ".join(f"{s} {n}" for s, n in pooled.items()))
    comparisons = summary["comparisons"]
    assert isinstance(comparisons, list)
    for c in comparisons:
        lines.append(
            f"{c['state']} against {c['baseline']}: {c['gained'] - c['lost']:+d} correct decisions of {c['decisions']} "
            f"({c['gained']} gained, {c['lost']} lost; {c['differ']} differ, SD under no effect {c['sd']:.1f})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ragqa.eval.pooled",
        description="ask two or more states the same unseen sets (own and merged indexes) and count their decisions; aggregates only",
        epilog="example:\n  python -m ragqa.eval.pooled --sets c78 c79 --state M:RAGQA_PASSAGE_CHARS=0 --state V: --out /tmp/pool",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--sets", nargs="+", required=True, metavar="NAME", help="pending sets to pool (folders of --pending), e.g. c78 c79")
    parser.add_argument("--state", action="append", required=True, metavar="NAME:VAR=VALUE,...", help="a state to run; the first is the baseline")
    parser.add_argument("--out", type=Path, required=True, help="work folder: documents, indexes (reused), runs and summary.json")
    parser.add_argument("--pending", type=Path, default=ROOT / "eval" / "pending", help="where the sets are (default eval/pending)")
    parser.add_argument("--corpora", type=Path, default=ROOT / "eval" / "corpora", help="documents every merged index holds (default eval/corpora)")
    args = parser.parse_args(argv)
    try:
        states = [State.parse(s) for s in args.state]
        if len({s.name for s in states}) != len(states):
            raise EvalError("state names must differ")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_") or k in ("RAGQA_CACHE_DIR", "RAGQA_EMBEDDER")}
        args.out.mkdir(parents=True, exist_ok=True)
        indexes = build_indexes(args.sets, args.pending, args.corpora, args.out, env)
        runs = {s.name: run_state(s, args.sets, args.pending, indexes, args.out, env) for s in states}
    except EvalError as exc:
        print(f"pooled: {exc}", file=sys.stderr)
        return 1
    summary = summarize(states, runs)
    (args.out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
