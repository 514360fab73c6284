"""Gold validation: every broken line is reported with its line number, valid ones kept."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from ragqa.eval.errors import GoldError
from ragqa.eval.goldset import GoldItem, Ref, load_gold, parse_gold

DOC_LINES = {"a.txt": 4, "sub/b.txt": 2}


def line(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "g1",
        "question": "东阳2023年GDP要增长多少?",
        "answers": ["7.5%以上"],
        "must_all": False,
        "refs": [{"doc": "a.txt", "start_line": 2, "end_line": 2}],
        "type": "numeric",
    }
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}, ensure_ascii=False)


UNANSWERABLE = line(id="u1", answers=[], refs=[], type="unanswerable", note="无")

BROKEN = [
    line(),  # 1 valid
    '{"id": "g2", "question": ',  # 2
    line(id="g3", refs=...),  # 3
    line(id="g4", answers="7.5%"),  # 4
    line(id="g5", type="opinion"),  # 5
    line(id="g6", answers=[]),  # 6
    line(id="g7", type="fact", refs=[]),  # 7
    line(id="g8", refs=[{"doc": "a.txt", "start_line": 3, "end_line": 2}]),  # 8
    line(),  # 9 duplicate of line 1
    "",  # 10 blank: ignored
    UNANSWERABLE,  # 11 valid
    line(id="g12", refs=[{"doc": "nope.txt", "start_line": 1, "end_line": 1}]),  # 12
    line(id="g13", refs=[{"doc": "a.txt", "start_line": 3, "end_line": 5}]),  # 13
    "[1, 2]",  # 14
    line(id="g15", must_all="yes"),  # 15
    line(id="g16", refs=[{"doc": "a.txt", "start_line": True, "end_line": 2}]),  # 16
    line(id="g17", answers=["7.5%", " "]),  # 17
    line(id="u18", answers=["x"], refs=[], type="unanswerable"),  # 18
    line(id="g19", refs=[{"doc": "sub/b.txt", "start_line": 1, "end_line": 2}]),  # 19 valid
]

EXPECTED = {
    2: "bad JSON",
    3: "missing field 'refs'",
    4: "'answers' must be a list of strings, got str",
    5: "unknown type 'opinion'",
    6: "'answers' is empty for type 'numeric'",
    7: "'refs' is empty for type 'fact'",
    8: "start_line 3 > end_line 2",
    9: "duplicate id 'g1' (first on line 1)",
    12: "document 'nope.txt' is not in the index",
    13: "lines 3-5 run past the end of 'a.txt' (4 lines)",
    14: "expected a JSON object, got list",
    15: "'must_all' must be true or false, got str",
    16: "'start_line' must be an integer, got bool",
    17: "answers[1] is empty",
    18: "an unanswerable item must have empty 'answers' and 'refs'",
}


def test_broken_lines_are_reported_with_line_numbers() -> None:
    gold = parse_gold("\n".join(BROKEN), DOC_LINES)
    assert [i.id for i in gold.items] == ["g1", "u1", "g19"]
    assert [p.line_no for p in gold.problems] == sorted(EXPECTED)
    for problem in gold.problems:
        assert EXPECTED[problem.line_no] in problem.reason


def test_valid_items_are_parsed_into_dataclasses() -> None:
    gold = parse_gold("\n".join(BROKEN), DOC_LINES)
    g1, u1, g19 = gold.items
    assert g1 == GoldItem(
        "g1",
        "东阳2023年GDP要增长多少?",
        ("7.5%以上",),
        False,
        (Ref("a.txt", 2, 2),),
        "numeric",
        "",
        1,
    )
    assert (u1.answerable, u1.note, u1.line_no) == (False, "无", 11)
    assert g19.refs == (Ref("sub/b.txt", 1, 2),)


def test_documents_unchecked_without_an_index_and_by_callable() -> None:
    text = line(refs=[{"doc": "nope.txt", "start_line": 1, "end_line": 900}])
    assert len(parse_gold(text).items) == 1
    problems = parse_gold(text, lambda doc: None).problems
    assert [(p.line_no, "not in the index" in p.reason) for p in problems] == [(1, True)]


def test_must_all_and_note_are_optional() -> None:
    text = line(must_all=..., note=...)
    (item,) = parse_gold(text).items
    assert item.must_all is False and item.note == ""


def test_load_gold_hashes_the_file_and_strips_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "gold.jsonl"
    raw = ("\ufeff" + line() + "\n").encode("utf-8")
    path.write_bytes(raw)
    gold = load_gold(path, DOC_LINES)
    assert gold.sha256 == hashlib.sha256(raw).hexdigest()
    assert gold.path == str(path.resolve()) and len(gold.items) == 1


def test_load_gold_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1}\nnot json\n', encoding="utf-8")
    with pytest.raises(GoldError, match=r"no valid item \(2 bad lines; line 1: 'id' must be"):
        load_gold(bad)
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes(line().encode("gbk"))
    with pytest.raises(GoldError, match="not UTF-8"):
        load_gold(gbk)
    with pytest.raises(GoldError, match="cannot read gold file"):
        load_gold(tmp_path / "missing.jsonl")


def test_dev_gold_set_is_valid_against_the_sample_corpus() -> None:
    root = Path(__file__).resolve().parents[1]
    corpus = root / "samples" / "corpus"
    docs = {f.name: len(f.read_text(encoding="utf-8").splitlines()) for f in corpus.glob("*.txt")}
    gold = load_gold(root / "eval" / "gold" / "dev.jsonl", docs)
    assert gold.problems == () and len(gold.items) == 53
