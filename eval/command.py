"""The `ragqa eval` subcommand: argument parsing and the run, as the CLI wires them.

`configure_parser` adds the arguments to the CLI's `eval` subparser; `run`
returns the exit status: 0 when every `--min` gate holds, 1 when one fails
(one `eval: NAME VALUE < MIN` line each on stderr). Everything else that goes
wrong raises EvalError with a one-line message.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from ragqa.eval.askers import Asker, HttpAsker, InProcessAsker
from ragqa.eval.compare import compare, fmt, format_comparison, load_baseline
from ragqa.eval.errors import EvalError
from ragqa.eval.goldset import load_gold
from ragqa.eval.report import item_json, write_report
from ragqa.eval.runner import Progress, evaluate
from ragqa.eval.scores import HIGHER_IS_BETTER, Metrics
from ragqa.eval.table import summary_table

DESCRIPTION = """\
Score the question-answering pipeline on a gold set (JSONL, one question per line):
retrieval hit@1/5/10 and MRR, answer accuracy, citation accuracy and validity,
refusal precision/recall, false refusals and latency, overall and per type.
Runs the pipeline in this process, or a running service with --url.

example:
  ragqa eval eval/gold/dev.jsonl --index ./index --report runs/today \\
      --baseline runs/yesterday/run.json --min answer_accuracy=0.85 --min hit@5=0.9
"""


@dataclass(frozen=True)
class Gate:
    metric: str
    minimum: float
    text: str


def parse_gate(text: str) -> Gate:
    """Parse `--min metric=value`; argparse turns the error into a usage message."""
    name, sep, value = text.partition("=")
    name = name.strip()
    if name not in HIGHER_IS_BETTER:
        raise argparse.ArgumentTypeError(
            f"unknown metric '{name}' in '{text}'; valid names: {', '.join(HIGHER_IS_BETTER)}"
        )
    if not sep:
        raise argparse.ArgumentTypeError(f"'{text}' should read {name}=VALUE")
    try:
        minimum = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' needs a number after '=', e.g. {name}=0.9"
        ) from None
    return Gate(name, minimum, value.strip())


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            n = low - 1
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"expected a whole number {low}-{high}, got '{text}'")
        return n

    return parse


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the `eval` arguments (and description, with an example) to `p`."""
    p.description = DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("gold", metavar="GOLD.jsonl", help="gold set to score")
    p.add_argument(
        "--url", help="evaluate a running service at this base URL instead of in process"
    )
    p.add_argument("--index", metavar="DIR", help="index folder for the in-process run")
    p.add_argument("--llm", metavar="BACKEND", help="LLM backend for the in-process run")
    p.add_argument(
        "--top-k",
        type=_whole(1, 50),
        default=5,
        metavar="N",
        help="passages per answer, 1-50 (default 5); retrieval metrics search max(10, N)",
    )
    p.add_argument(
        "--concurrency",
        type=_whole(1, 64),
        default=4,
        metavar="N",
        help="requests in flight with --url (default 4)",
    )
    p.add_argument("--report", metavar="DIR", help="write run.json, report.md and report.html here")
    p.add_argument("--baseline", metavar="RUN.json", help="compare with an earlier run's run.json")
    p.add_argument(
        "--min",
        type=parse_gate,
        action="append",
        default=[],
        metavar="METRIC=VALUE",
        help="fail (exit 1) when METRIC is below VALUE; repeatable; "
        f"metrics: {', '.join(HIGHER_IS_BETTER)}",
    )


def make_asker(args: argparse.Namespace) -> Asker:
    """The asker the arguments ask for: HttpAsker with --url, else InProcessAsker."""
    if args.url:
        if args.index or args.llm:
            raise EvalError("--index and --llm apply to in-process runs; drop them with --url")
        return HttpAsker(args.url, concurrency=args.concurrency)
    return InProcessAsker(index_dir=args.index, llm_backend=args.llm, top_k=args.top_k)


def failed_gates(metrics: Metrics, gates: list[Gate]) -> list[str]:
    """One `eval: NAME VALUE < MIN` line per gate that fails; a metric that is n/a fails."""
    lines = []
    for gate in gates:
        value = metrics.value(gate.metric)
        if value is None or value < gate.minimum:
            lines.append(f"eval: {gate.metric} {fmt(value)} < {gate.text}")
    return lines


def run(
    args: argparse.Namespace,
    asker_factory: Callable[[argparse.Namespace], Asker] = make_asker,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Run `ragqa eval`; returns 0, or 1 when a --min gate fails. Raises EvalError."""
    out = out or sys.stdout
    err = err or sys.stderr
    baseline = load_baseline(args.baseline) if args.baseline else None
    asker = asker_factory(args)
    try:
        gold = load_gold(args.gold, asker.documents())
        for problem in gold.problems:
            err.write(f"eval: {args.gold} line {problem.line_no}: {problem.reason} (skipped)\n")
        target = args.url or "in-process"
        progress = Progress(len(gold.items), err)
        result = evaluate(gold, asker, args.top_k, target, progress.step)
    finally:
        if isinstance(asker, HttpAsker):
            asker.close()
    failed_calls = sum(bool(r.outcome.ask_error or r.outcome.search_error) for r in result.items)
    if failed_calls:
        err.write(
            f"eval: {failed_calls} of {len(result.items)} items had failed calls (scored wrong)\n"
        )
    out.write(summary_table(result.overall, result.by_type) + "\n")
    comparison = None
    if baseline is not None:
        verdicts = {r.item.id: item_json(r)["verdict"] for r in result.items}
        comparison = compare(baseline, result.overall.as_dict(), verdicts)
        out.write(format_comparison(comparison) + "\n")
    if args.report:
        folder = write_report(result, args.report, comparison)
        out.write(f"report: {folder / 'report.html'}\n")
    failures = failed_gates(result.overall, args.min)
    for line in failures:
        err.write(line + "\n")
    return 1 if failures else 0
