"""Passages shown in context (service/retrieval.py `widened`): the matched clause with the whole
lines of the chunks next to it, up to a character budget, never past its document, never over
lines an earlier passage shows. Real chunker, text store and FAISS (hash embedder); the
pipeline's /search and /ask passages through the real Pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.search import Hit
from ragqa.index.store import LoadedIndex, load_index
from ragqa.service.pipeline import Pipeline
from ragqa.service.retrieval import to_passage, widened

from .conftest import settings_for

RULE = (
    "某市租赁管理条例\n"
    "第一条 为了规范房屋租赁，制定本条例。\n"
    "第二条 本条例适用于本市行政区域内的房屋租赁。\n"
    "第三条 出租人应当遵守下列规定：\n"
    "（一）收到租金后七日内向承租人出具收据；\n"
    "（二）收据应当载明出租人的姓名和租金所属期间；\n"
    "（三）违反本条前两项规定的，由住房部门处五百元罚款。\n"
    "第四条 本条例自2025年1月1日起施行。\n"
)
OTHER = "某市物业服务通知\n各物业服务企业应当在每月十日前公示收费情况。\n"


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("passages")
    docs = root / "docs"
    docs.mkdir()
    (docs / "a_rule.txt").write_text(RULE, encoding="utf-8")
    (docs / "b_notice.txt").write_text(OTHER, encoding="utf-8")
    ingest_paths([docs], root / "index", HashEmbedder(64))
    return root / "index"


@pytest.fixture(scope="module")
def loaded(index: Path) -> LoadedIndex:
    return load_index(index)


def _hit(loaded: LoadedIndex, doc: str, line: int) -> Hit:
    """A hit on the chunk of `doc` that starts at `line`, as the searcher makes it."""
    for i, chunk in enumerate(loaded.chunks):
        if chunk.doc_id == doc and chunk.start_line == line:
            return Hit(chunk, 1.0, 1.0, 1.0, 1, 1, position=i)
    raise AssertionError(f"no chunk of {doc} starts at line {line}: {[(c.doc_id, c.start_line) for c in loaded.chunks]}")


def _chars(passage_text: str) -> int:
    return sum(len(line) for line in passage_text.split("\n"))


def test_a_sub_clause_is_shown_with_the_article_around_it(loaded: LoadedIndex) -> None:
    fine = _hit(loaded, "a_rule.txt", 7)
    assert fine.chunk.end_line == 7, "the fixture's sub-clause should be a chunk of its own"
    (passage,) = widened([fine], loaded, 500)
    lines = RULE.split("\n")
    assert passage.start_line == 1 and passage.end_line == 8, "the whole short rule fits in 500 characters"
    assert passage.text == "\n".join(lines[0:8])
    assert passage.clause == fine.chunk.clause and passage.score == fine.score
    assert (passage.match_start_line, passage.match_end_line) == (7, 7), "the matched chunk's own lines"


def test_the_budget_bounds_the_lines_shown(loaded: LoadedIndex) -> None:
    fine = _hit(loaded, "a_rule.txt", 7)
    lines = RULE.split("\n")
    own = len(lines[6])
    for budget in (own, own + len(lines[5]), 60, 90):
        (passage,) = widened([fine], loaded, budget)
        assert passage.start_line <= 7 <= passage.end_line
        assert _chars(passage.text) <= budget
        assert passage.text == "\n".join(lines[passage.start_line - 1 : passage.end_line])
    (alone,) = widened([fine], loaded, own)
    assert (alone.start_line, alone.end_line) == (7, 7)
    (two,) = widened([fine], loaded, own + len(lines[5]))
    assert (two.start_line, two.end_line) == (6, 7), "the nearer line before comes first"


def test_off_or_too_long_keeps_the_chunk_as_found(loaded: LoadedIndex) -> None:
    fine = _hit(loaded, "a_rule.txt", 7)
    assert widened([fine], loaded, 0) == [to_passage(fine)]
    assert widened([fine], loaded, 5) == [to_passage(fine)], "a chunk longer than the budget is not cut"
    unindexed = Hit(fine.chunk, 1.0, 1.0, 1.0, 1, 1)  # position -1: not from this index
    assert widened([unindexed], loaded, 500) == [to_passage(unindexed)]


def test_a_passage_stays_in_its_document(loaded: LoadedIndex) -> None:
    first = _hit(loaded, "b_notice.txt", 1)
    (passage,) = widened([first], loaded, 5000)
    assert passage.doc == "b_notice.txt"
    assert (passage.start_line, passage.end_line) == (1, 2)
    assert passage.text == OTHER.rstrip("\n")


def test_a_later_passage_does_not_repeat_lines_already_shown(loaded: LoadedIndex) -> None:
    first, second = _hit(loaded, "a_rule.txt", 3), _hit(loaded, "a_rule.txt", 7)
    shown, later = widened([first, second], loaded, 80)
    assert shown.start_line <= 3 <= shown.end_line
    assert later.start_line <= 7 <= later.end_line
    overlap = set(range(shown.start_line, shown.end_line + 1)) & set(range(later.start_line, later.end_line + 1))
    assert not overlap, (shown, later)


def test_search_and_ask_show_passages_in_context(index: Path, loaded: LoadedIndex) -> None:
    lines = RULE.split("\n")
    question = "违反出具收据规定的罚多少钱"
    runs = {}
    for chars in (500, 0):
        pipe = Pipeline(settings_for(index, passage_chars=chars), loaded, HashEmbedder(64))
        runs[chars] = (pipe.search(question, top_k=3), pipe.ask(question, top_k=3))
    (found, asked), (bare, bare_asked) = runs[500], runs[0]
    assert [p.clause for p in found] == [p.clause for p in bare], "the same passages, in the same order"
    assert asked.passages == found
    for wide, own in zip(found, bare, strict=True):
        assert wide.doc == own.doc and wide.start_line <= own.start_line and own.end_line <= wide.end_line
        if wide.doc == "a_rule.txt":
            assert wide.text == "\n".join(lines[wide.start_line - 1 : wide.end_line])
    assert any(w.end_line - w.start_line > o.end_line - o.start_line for w, o in zip(found, bare, strict=True))
    assert (asked.answer, asked.refused, asked.citations) == (bare_asked.answer, bare_asked.refused, bare_asked.citations), (
        "the answer and its citations do not depend on the passages shown"
    )
