"""Pooled judging (eval/pooled.py): real `ragqa ingest` and `ragqa eval` subprocesses (hash embedder) on a
made-up pending set and corpus; the counts are checked against the gold set's own make-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ragqa.eval import pooled
from ragqa.eval.errors import EvalError
from ragqa.eval.pooled import State

from .conftest import ROOT

RULE = (
    "某市租赁管理条例\n"
    "第一条 为了规范房屋租赁，制定本条例。\n"
    "第二条 出租人应当遵守下列规定：\n"
    "（一）收到租金后七日内向承租人出具收据；\n"
    "（二）违反前项规定的，由住房部门处五百元罚款。\n"
    "第三条 本条例自2025年1月1日起施行。\n"
)
ITEMS = [
    {"id": "p-001", "question": "租赁管理条例什么时候开始施行？", "answers": ["2025年1月1日"], "refs": [{"doc": "rule9/rule.txt", "start_line": 6, "end_line": 6}], "type": "date"},
    {"id": "p-002", "question": "出租人收到租金后几日内要出具收据？", "answers": ["七日"], "refs": [{"doc": "rule9/rule.txt", "start_line": 4, "end_line": 4}], "type": "numeric"},
    {"id": "p-003", "question": "不出具收据会被罚多少钱？", "answers": ["五百元"], "refs": [{"doc": "rule9/rule.txt", "start_line": 5, "end_line": 5}], "type": "numeric"},
    {"id": "p-004", "question": "租赁管理条例规定押金最多收几个月？", "answers": [], "refs": [], "type": "unanswerable"},
]


@pytest.fixture()
def layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("RAGQA_EMBEDDER", "hash:32")
    monkeypatch.setenv("RAGQA_CACHE_DIR", str(ROOT / ".ragqa" / "cache"))
    monkeypatch.setenv("RAGQA_REFUSE_BELOW", "0.99")  # not a state's: must not reach the runs
    pending, corpora = tmp_path / "pending", tmp_path / "corpora"
    folder = pending / "c9" / "rule9"
    folder.mkdir(parents=True)
    (folder / "rule.txt").write_text(RULE, encoding="utf-8")
    (folder / "SOURCES.tsv").write_text("file\trepo\n", encoding="utf-8")
    (pending / "c9" / "c9.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in ITEMS), encoding="utf-8")
    (corpora / "notice").mkdir(parents=True)
    (corpora / "notice" / "other.txt").write_text("某市物业服务通知\n物业服务企业应当在每月十日前公示收费情况。\n", encoding="utf-8")
    return pending, corpora


def test_two_states_are_counted_side_by_side(layout: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pending, corpora = layout
    out = tmp_path / "pool"
    args = ["--sets", "c9", "--state", "M:RAGQA_PASSAGE_CHARS=0", "--state", "V:", "--out", str(out), "--pending", str(pending), "--corpora", str(corpora)]
    assert pooled.main(args) == 0
    printed = capsys.readouterr()
    assert "indexing" in printed.err and "V against M" in printed.out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    for state in ("M", "V"):
        for condition in ("own", "merged"):
            t = summary["tallies"][state][condition]
            assert (t["answerable"], t["unanswerable"]) == (3, 1)
            assert t["correct"] == t["answered_right"] + t["refused_unanswerable"]
            assert t["answered_right"] + t["refused_answerable"] <= 3
        assert summary["pooled_correct"][state] == sum(summary["tallies"][state][c]["correct"] for c in ("own", "merged"))
    (versus,) = summary["comparisons"]
    # passages shown in context change no decision (service/retrieval.py `widened`)
    assert (versus["state"], versus["baseline"], versus["decisions"], versus["differ"], versus["sd"]) == ("V", "M", 8, 0, 0.0)
    assert summary["states"] == {"M": {"RAGQA_PASSAGE_CHARS": "0"}, "V": {}}
    # the parent's RAGQA_REFUSE_BELOW=0.99 would refuse everything: only a state's own settings reach its runs
    assert summary["tallies"]["M"]["own"]["answered_right"] >= 2, summary["tallies"]["M"]

    assert pooled.main([*args[:2], "--state", "M:", "--out", str(out), "--pending", str(pending), "--corpora", str(corpora)]) == 0
    assert "indexing" not in capsys.readouterr().err, "indexes of the same documents are reused"
    rule = pending / "c9" / "rule9" / "rule.txt"
    rule.write_text(RULE.replace("五百元", "八百元"), encoding="utf-8")
    assert pooled.main([*args[:2], "--state", "M:", "--out", str(out), "--pending", str(pending), "--corpora", str(corpora)]) == 0
    assert "indexing" in capsys.readouterr().err, "a changed document is indexed again"


def test_bad_input_is_one_line_saying_what_to_do(layout: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pending, corpora = layout
    base = ["--out", str(tmp_path / "p"), "--pending", str(pending), "--corpora", str(corpora)]
    assert pooled.main(["--sets", "c404", "--state", "M:", *base]) == 1
    assert "no gold set" in capsys.readouterr().err
    assert pooled.main(["--sets", "c9", "--state", "M:PATH=/x", *base]) == 1
    assert "not a ragqa setting" in capsys.readouterr().err
    assert pooled.main(["--sets", "c9", "--state", "M:", "--state", "M:RAGQA_TOP_K=3", *base]) == 1
    assert "must differ" in capsys.readouterr().err
    assert pooled.main(["--sets", "c9", "--state", "M:RAGQA_MODEL_DIR=/nonexistent/model", *base]) == 1
    err = capsys.readouterr().err
    assert "M on c9 (own) failed: " in err and "model" in err, err
    (corpora / "rule9").mkdir()
    assert pooled.main(["--sets", "c9", "--state", "M:", *base]) == 1
    assert "collide" in capsys.readouterr().err
    with pytest.raises(EvalError, match="expected NAME:VAR=VALUE"):
        State.parse("no colon here=1")
