"""Run gold items through an Asker, with bounded concurrency and progress on stderr.

For each item the runner calls `ask(question, top_k)` for the answer metrics,
timing it, and `search(question, max(10, top_k))` for the retrieval metrics.
A failed call is recorded on the item (and counted as wrong by the metrics);
it does not stop the run. After all calls, every item is judged
against the documents' lines, fetched once per cited or referenced document.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from ragqa.eval.askers import Asker
from ragqa.eval.contract import AskResult, Passage, parse_ask, parse_search
from ragqa.eval.errors import AskerError, DocumentNotFound
from ragqa.eval.goldset import GoldItem, GoldSet
from ragqa.eval.metrics import Outcome, Verdict, judge
from ragqa.eval.scores import Metrics, aggregate, by_type

SEARCH_DEPTH = 10


@dataclass(frozen=True)
class ItemRun:
    item: GoldItem
    outcome: Outcome
    verdict: Verdict
    ref_texts: tuple[str | None, ...]


@dataclass(frozen=True)
class RunConfig:
    created_at: str
    target: str
    gold_path: str
    gold_sha256: str
    git_commit: str | None
    top_k: int
    search_top_k: int
    asker: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    config: RunConfig
    gold: GoldSet
    items: tuple[ItemRun, ...]
    overall: Metrics
    by_type: dict[str, Metrics]
    wall_s: float


class Progress:
    """`eval 23/53 …` on stderr: rewritten in place on a TTY, else a line every `every` items."""

    def __init__(self, total: int, stream: TextIO | None = None, every: int = 10) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.every = max(1, every)
        self.tty = self.stream.isatty()
        self.done = 0
        self._start = time.monotonic()
        self._lock = threading.Lock()

    def step(self, label: str) -> None:
        with self._lock:
            self.done += 1
            elapsed = time.monotonic() - self._start
            line = f"eval {self.done}/{self.total} {label} ({elapsed:.1f}s)"
            if self.tty:
                end = "\n" if self.done == self.total else ""
                self.stream.write(f"\r\x1b[K{line}{end}")
            elif self.done % self.every == 0 or self.done == self.total:
                self.stream.write(line + "\n")
            self.stream.flush()


def git_commit(where: Path | None = None) -> str | None:
    """`git rev-parse HEAD` of the checkout holding this package; None when there is none."""
    cwd = where or Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def fetch_outcome(asker: Asker, item: GoldItem, top_k: int) -> Outcome:
    """Ask, then search, for one item; AskerErrors are recorded on the Outcome, not raised.

    The ask call goes first so that its latency is not flattered by caches the
    search call would warm.
    """
    ask: AskResult | None = None
    latency: float | None = None
    ask_error: str | None = None
    started = time.perf_counter()
    try:
        ask = parse_ask(asker.ask(item.question, top_k, item.history))
        latency = (time.perf_counter() - started) * 1000.0
    except AskerError as exc:
        ask_error = f"ask: {exc}"
    search: tuple[Passage, ...] = ()
    search_error: str | None = None
    try:
        # a follow-up is searched as the service understood it (its history makes it self-contained)
        query = ask.rewritten if item.history and ask is not None and ask.rewritten else item.question
        search = parse_search(asker.search(query, max(SEARCH_DEPTH, top_k)))
    except AskerError as exc:
        search_error = f"search: {exc}"
    return Outcome(search, ask, latency, search_error, ask_error)


def collect(
    items: Sequence[GoldItem],
    asker: Asker,
    top_k: int,
    progress: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """Outcomes in the order of `items`, at most `asker.concurrency` in flight."""

    def one(item: GoldItem) -> Outcome:
        outcome = fetch_outcome(asker, item, top_k)
        if progress is not None:
            progress(item.id)
        return outcome

    if asker.concurrency <= 1 or len(items) <= 1:
        return [one(item) for item in items]
    pool = ThreadPoolExecutor(max_workers=asker.concurrency)
    try:
        return list(pool.map(one, items))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class _Lines:
    def __init__(self, asker: Asker) -> None:
        self._asker = asker
        self._cache: dict[str, list[str] | None] = {}

    def __call__(self, doc: str) -> list[str] | None:
        if doc not in self._cache:
            try:
                self._cache[doc] = self._asker.document_lines(doc)
            except DocumentNotFound:
                self._cache[doc] = None
        return self._cache[doc]


def evaluate(
    gold: GoldSet,
    asker: Asker,
    top_k: int = 5,
    target: str = "in-process",
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Run and score every gold item.

    Raises AskerError only when document lines or the asker's config cannot be
    read; failed search/ask calls are recorded on their items.
    """
    started = time.monotonic()
    created = datetime.now(UTC).isoformat(timespec="seconds")
    outcomes = collect(gold.items, asker, top_k, progress)
    lines_of = _Lines(asker)
    runs = []
    for item, outcome in zip(gold.items, outcomes, strict=True):
        verdict = judge(item, outcome, lines_of)
        texts = []
        for ref in item.refs:
            lines = lines_of(ref.doc)
            texts.append("\n".join(lines[ref.start_line - 1 : ref.end_line]) if lines else None)
        runs.append(ItemRun(item, outcome, verdict, tuple(texts)))
    verdicts = [r.verdict for r in runs]
    config = RunConfig(
        created_at=created,
        target=target,
        gold_path=gold.path,
        gold_sha256=gold.sha256,
        git_commit=git_commit(),
        top_k=top_k,
        search_top_k=max(SEARCH_DEPTH, top_k),
        asker=asker.config(),
    )
    return Run(
        config=config,
        gold=gold,
        items=tuple(runs),
        overall=aggregate(verdicts),
        by_type=by_type(verdicts),
        wall_s=time.monotonic() - started,
    )
