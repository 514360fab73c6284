"""Relative-time variants of a gold set (eval/relative_variants.py), on the sample documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ragqa.eval.relative_variants import WORDS, main, variants
from ragqa.index.store import load_index
from ragqa.service.reltime import speaking_year

from .conftest import DEV_GOLD

REPORT = "000_f32850ce6c833049.txt"  # 东阳's 2022 plan for the first motion of its people's congress


def _item(question: str, doc: str = REPORT) -> str:
    return json.dumps(
        {
            "id": "x1",
            "question": question,
            "answers": ["58%"],
            "must_all": False,
            "refs": [{"doc": doc, "start_line": 27, "end_line": 27}],
            "type": "numeric",
        },
        ensure_ascii=False,
    )


def test_the_named_year_becomes_the_word_for_it_counted_from_the_documents_year(hash_index: Path) -> None:
    docs = load_index(hash_index).documents
    asked = [
        _item("东阳2022年规上企业研发投入要增长多少？"),
        _item("东阳2021年规上工业总产值是多少？"),
        _item("东阳2023年要新增多少家企业？"),
        _item("东阳2019年规上工业总产值是多少？"),
        _item("东阳2021年和2022年的产值各是多少？"),
        _item("东阳今年2022年的目标是什么？"),
        json.dumps({"id": "x2", "question": "东阳2022年的人口是多少？", "answers": [], "refs": [], "type": "unanswerable"}),
    ]
    made, counts = variants(asked, docs)
    assert [v["question"] for v in made] == ["东阳今年规上企业研发投入要增长多少？", "东阳去年规上工业总产值是多少？", "东阳明年要新增多少家企业？"]
    assert all(v["id"] == "rel-x1" and v["answers"] == ["58%"] and v["refs"][0]["doc"] == REPORT for v in made)
    assert counts == {"今年": 1, "去年": 1, "明年": 1, "year not the document's or one off": 1, "not one year named": 2, "unanswerable": 1}
    assert variants([_item("东阳2022年的目标？", doc="nowhere.txt")], docs)[1] == {"not one document of the index": 1}


def test_the_dev_set_variants_keep_everything_but_the_year(hash_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rel.jsonl"
    assert main([str(DEV_GOLD), "--index", str(hash_index), "--out", str(out)]) == 0
    original = {i["id"]: i for i in map(json.loads, DEV_GOLD.read_text(encoding="utf-8").splitlines())}
    made = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert made and f"{len(made)} of {len(original)} items" in capsys.readouterr().err
    docs = load_index(hash_index).documents
    for v in made:
        before = original[v["id"].removeprefix("rel-")]
        assert {k: x for k, x in v.items() if k not in ("id", "question")} == {k: x for k, x in before.items() if k not in ("id", "question")}
        speaks = speaking_year(docs[v["refs"][0]["doc"]])
        assert speaks is not None
        back = [v["question"].replace(word, f"{speaks + offset}年", 1) for offset, word in WORDS.items() if word in v["question"]]
        assert back == [before["question"]]


def test_a_line_that_is_not_json_is_named(hash_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gold = tmp_path / "bad.jsonl"
    gold.write_text(_item("东阳2022年的目标？") + "\n{not json\n", encoding="utf-8")
    assert main([str(gold), "--index", str(hash_index), "--out", str(tmp_path / "out.jsonl")]) == 1
    assert "line 2 is not JSON" in capsys.readouterr().err
    assert not (tmp_path / "out.jsonl").exists()
