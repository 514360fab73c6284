"""End to end through `command.run` with a fake asker: summary, reports, baseline, --min gates."""

from __future__ import annotations

import argparse
import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from ragqa.eval import command
from ragqa.eval.askers import Asker, HttpAsker
from ragqa.eval.errors import AskerError, BaselineError, GoldError
from ragqa.eval.runner import Progress

DOCS = {
    "a.txt": ["一、总体目标", "地区生产总值增长7.5%以上。", "<b>产业</b> & 发展"],
    "b.txt": ["粮食播种面积稳定在25.6万亩"],
}

GOLD: list[dict[str, Any]] = [
    {
        "id": "g1",
        "question": "GDP增长多少?",
        "answers": ["7.5%以上"],
        "must_all": False,
        "refs": [{"doc": "a.txt", "start_line": 2, "end_line": 2}],
        "type": "numeric",
    },
    {
        "id": "g2",
        "question": "<script>alert(1)</script>产业?",
        "answers": ["产业"],
        "must_all": False,
        "refs": [{"doc": "a.txt", "start_line": 3, "end_line": 3}],
        "type": "fact",
    },
    {
        "id": "u1",
        "question": "GDP多少美元?",
        "answers": [],
        "must_all": False,
        "refs": [],
        "type": "unanswerable",
    },
]


def passage(doc: str, line: int) -> dict[str, Any]:
    return {
        "doc": doc,
        "start_line": line,
        "end_line": line,
        "clause": "一、总体目标 › 1.",
        "score": 0.5,
        "text": DOCS[doc][line - 1],
    }


def reply(answer: str, doc: str = "", line: int = 0, refused: bool = False) -> dict[str, Any]:
    citations = (
        []
        if refused or not doc
        else [
            {
                "id": 1,
                "doc": doc,
                "title": "T",
                "start_line": line,
                "end_line": line,
                "clause": "一、总体目标",
                "quote": DOCS[doc][line - 1],
            }
        ]
    )
    return {
        "answer": answer,
        "refused": refused,
        "citations": citations,
        "passages": [],
        "llm": {"backend": "fake", "model": None},
        "timings_ms": {"total": 1.0},
    }


GOOD = {
    "g1": ([passage("a.txt", 2)], reply("增长7.5%以上[1]", "a.txt", 2)),
    "g2": ([passage("b.txt", 1), passage("a.txt", 3)], reply("<i>产业</i>[1]", "a.txt", 3)),
    "u1": ([passage("a.txt", 2)], reply("文件没有提到。", refused=True)),
}
BAD = {
    **GOOD,
    "g2": ([passage("b.txt", 1)] * 6, reply("不知道<&>", "b.txt", 1)),
}


class FakeAsker:
    """Canned contract-shaped replies keyed by question, as the HTTP edge would give them."""

    concurrency = 2

    def __init__(self, replies: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]]) -> None:
        by_question = {g["question"]: g["id"] for g in GOLD}
        self.replies = {q: replies[i] for q, i in by_question.items()}
        self.calls: list[tuple[str, str, int]] = []

    def ask(self, question: str, top_k: int, history: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        self.calls.append(("ask", question, top_k))
        return self.replies[question][1]

    def search(self, query: str, top_k: int) -> dict[str, Any]:
        self.calls.append(("search", query, top_k))
        return {"passages": self.replies[query][0][:top_k]}

    def documents(self) -> dict[str, int]:
        return {doc: len(lines) for doc, lines in DOCS.items()}

    def document_lines(self, doc: str) -> list[str]:
        return DOCS[doc]

    def config(self) -> dict[str, Any]:
        return {"index": {"embedder": "fake", "corpus_hash": "abc"}, "llm": "fake"}


def write_gold(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "gold.jsonl"
    body = "\n".join(json.dumps(g, ensure_ascii=False) for g in GOLD)
    path.write_text(body + "\n" + extra, encoding="utf-8")
    return path


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="ragqa eval")
    command.configure_parser(parser)
    return parser.parse_args(list(argv))


def invoke(args: argparse.Namespace, asker: Asker) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = command.run(args, lambda _: asker, out, err)
    return code, out.getvalue(), err.getvalue()


def test_summary_progress_and_calls(tmp_path: Path) -> None:
    asker = FakeAsker(GOOD)
    code, out, err = invoke(parse(str(write_gold(tmp_path)), "--top-k", "3"), asker)
    assert code == 0
    assert sorted(c for c in asker.calls if c[0] == "search")[0][2] == 10
    assert {c[2] for c in asker.calls if c[0] == "ask"} == {3}
    assert "eval 3/3" in err
    overall = next(row for row in out.splitlines() if row.startswith("overall"))
    assert overall.split()[1:7] == ["3", "0.500", "1.000", "1.000", "0.750", "1.000"]


def test_gold_problems_are_reported_and_skipped(tmp_path: Path) -> None:
    unknown_doc = {
        **GOLD[0],
        "id": "g5",
        "refs": [{"doc": "c.txt", "start_line": 1, "end_line": 1}],
    }
    extra = '{"id": "g9"}\n' + json.dumps(unknown_doc) + "\n"
    code, _, err = invoke(parse(str(write_gold(tmp_path, extra))), FakeAsker(GOOD))
    assert code == 0
    assert "line 4: missing field 'question' (skipped)" in err
    assert "line 5: " in err and "not in the index" in err


def test_gold_without_valid_items_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    path.write_text("nonsense\n", encoding="utf-8")
    with pytest.raises(GoldError, match="no valid item"):
        invoke(parse(str(path)), FakeAsker(GOOD))


def test_min_gates(tmp_path: Path) -> None:
    gold = str(write_gold(tmp_path))
    code, _, err = invoke(
        parse(gold, "--min", "answer_accuracy=0.85", "--min", "hit@5=0.5"), FakeAsker(BAD)
    )
    assert code == 1
    assert err.splitlines()[-1] == "eval: answer_accuracy 0.5 < 0.85"
    code, _, _ = invoke(
        parse(gold, "--min", "answer_accuracy=0.5", "--min", "mrr=0.5"), FakeAsker(BAD)
    )
    assert code == 0


@pytest.mark.parametrize("gate", ["precision=0.9", "false_refusal_rate=0.1", "hit@5", "hit@5=high"])
def test_bad_min_is_a_usage_error(gate: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        parse("gold.jsonl", "--min", gate)
    assert info.value.code == 2
    message = capsys.readouterr().err
    assert "usage:" in message
    if gate.startswith(("precision", "false")):
        assert "valid names: hit@1, hit@5, hit@10, mrr, answer_accuracy" in message


def test_report_folder(tmp_path: Path) -> None:
    report = tmp_path / "run1"
    code, out, _ = invoke(parse(str(write_gold(tmp_path)), "--report", str(report)), FakeAsker(BAD))
    assert code == 0 and f"report: {report / 'report.html'}" in out
    run = json.loads((report / "run.json").read_text(encoding="utf-8"))
    assert run["metrics"]["overall"]["answer_accuracy"] == 0.5
    assert run["metrics"]["by_type"]["fact"]["hit@5"] == 0.0
    assert run["config"]["asker"]["index"]["embedder"] == "fake"
    assert run["config"]["gold_sha256"] and run["config"]["top_k"] == 5
    assert "git_commit" in run["config"] and run["config"]["created_at"]
    g2 = next(i for i in run["items"] if i["id"] == "g2")
    assert g2["verdict"]["verdict"] == "retrieval miss" and g2["verdict"]["hit@5"] is False
    assert (
        g2["search_passages"][0]["doc"] == "b.txt"
        and g2["gold"]["refs"][0]["text"] == DOCS["a.txt"][2]
    )
    assert [f["kind"] for f in g2["verdict"]["failures"]] == ["retrieval miss", "bad citation"]

    md = (report / "report.md").read_text(encoding="utf-8")
    assert "| overall | 3 | 0.500 | 0.500 | 0.500 | 0.500 | 0.500 |" in md
    assert "## Failures (1)" in md and "retrieval miss" in md and "**answer_accuracy**" in md

    page = (report / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "不知道&lt;&amp;&gt;" in page and "&lt;b&gt;产业&lt;/b&gt; &amp; 发展" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert page.count("<svg") == 3 and "answer accuracy by type" in page
    assert "retrieval miss" in page and "一、总体目标 › 1." in page


def test_baseline_comparison(tmp_path: Path) -> None:
    gold = str(write_gold(tmp_path))
    invoke(parse(gold, "--report", str(tmp_path / "old")), FakeAsker(BAD))
    baseline = str(tmp_path / "old" / "run.json")
    code, out, _ = invoke(
        parse(gold, "--report", str(tmp_path / "new"), "--baseline", baseline), FakeAsker(GOOD)
    )
    assert code == 0
    assert re.search(r"answer_accuracy\s+0\.5 ->\s+1\s+\(\+0\.5\)", out)
    assert "fixed (2): g2 (answer_correct), g2 (hit@5)" in out and "broken (0): none" in out
    md = (tmp_path / "new" / "report.md").read_text(encoding="utf-8")
    assert "## Compared with baseline" in md and "g2 (hit@5)" in md
    assert "Compared with baseline" in (tmp_path / "new" / "report.html").read_text(
        encoding="utf-8"
    )
    run = json.loads((tmp_path / "new" / "run.json").read_text(encoding="utf-8"))
    assert {"item_id": "g2", "metric": "hit@5", "change": "fixed"} in run["comparison"]["flips"]

    _, out, _ = invoke(
        parse(gold, "--baseline", str(tmp_path / "new" / "run.json")), FakeAsker(BAD)
    )
    assert "broken (2): g2 (answer_correct), g2 (hit@5)" in out


def test_bad_baseline_fails_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"items": []}', encoding="utf-8")
    asker = FakeAsker(GOOD)
    with pytest.raises(BaselineError, match=re.escape("not a ragqa eval run.json")):
        invoke(parse(str(write_gold(tmp_path)), "--baseline", str(tmp_path / "x.json")), asker)
    assert asker.calls == []


def test_over_http_with_a_mock_service(tmp_path: Path) -> None:
    fake = FakeAsker(GOOD)

    def service(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/documents":
            docs = [{"doc": d, "title": d, "lines": len(ls), "chunks": 1} for d, ls in DOCS.items()]
            return httpx.Response(200, json={"documents": docs})
        if request.url.path.endswith("/lines"):
            doc = request.url.path.split("/")[3]
            rows = [{"n": n, "text": t} for n, t in enumerate(DOCS[doc], 1)]
            return httpx.Response(200, json={"doc": doc, "lines": rows})
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        body = json.loads(request.content)
        if request.url.path == "/v1/search":
            return httpx.Response(200, json=fake.search(body["query"], body["top_k"]))
        return httpx.Response(200, json=fake.ask(body["question"], body["top_k"]))

    client = httpx.Client(transport=httpx.MockTransport(service))
    asker = HttpAsker("http://svc", client=client, concurrency=3)
    args = parse(str(write_gold(tmp_path)), "--url", "http://svc", "--report", str(tmp_path / "r"))
    code, out, _ = invoke(args, asker)
    assert code == 0 and "overall" in out
    run = json.loads((tmp_path / "r" / "run.json").read_text(encoding="utf-8"))
    assert run["config"]["target"] == "http://svc"
    assert run["metrics"]["overall"]["citation_validity"] == 1.0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_rewrites_one_line_on_a_tty_and_prints_periodically_otherwise() -> None:
    tty = Terminal()
    progress = Progress(2, tty)
    progress.step("g1")
    progress.step("g2")
    assert re.fullmatch(
        r"\r\x1b\[Keval 1/2 g1 \(\d+\.\ds\)\r\x1b\[Keval 2/2 g2 \(\d+\.\ds\)\n", tty.getvalue()
    )
    log = io.StringIO()
    progress = Progress(25, log, every=10)
    for i in range(25):
        progress.step(f"g{i}")
    assert [line.split()[1] for line in log.getvalue().splitlines()] == ["10/25", "20/25", "25/25"]


class FailingAsker(FakeAsker):
    def ask(self, question: str, top_k: int, history: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
        if question == GOLD[0]["question"]:
            raise AskerError("POST http://svc/v1/ask answered 500: boom (gave up after 4 attempts)")
        return super().ask(question, top_k)


def test_a_failed_call_is_scored_wrong_and_reported(tmp_path: Path) -> None:
    args = parse(str(write_gold(tmp_path)), "--report", str(tmp_path / "r"))
    code, _out, err = invoke(args, FailingAsker(GOOD))
    assert code == 0 and "eval: 1 of 3 items had failed calls (scored wrong)" in err
    run = json.loads((tmp_path / "r" / "run.json").read_text(encoding="utf-8"))
    g1 = run["items"][0]
    assert g1["answer"] is None and g1["errors"]["ask"].startswith("ask: POST http://svc/v1/ask")
    assert g1["verdict"]["verdict"] == "call failed" and g1["verdict"]["hit@5"] is True
    assert run["metrics"]["overall"]["answer_accuracy"] == 0.5
