"""Documents a question names by a title word (index/titles.py) and their chunks in the search."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.search import FusionConfig, Searcher
from ragqa.index.store import load_index
from ragqa.index.titles import TitleIndex, best_chunks

TITLES = {0: "甲市统计公报", 1: "乙市统计公报", 2: "丙省养老服务条例", 3: "丁县政府工作报告", 4: "戊县政府工作报告"}


def test_a_word_few_titles_hold_names_those_documents() -> None:
    titles = TitleIndex.build(TITLES)
    named = titles.named(["甲市", "生产", "总值"], None, len(TITLES), distinct=2, limit=3)
    assert [pos for pos, _ in named] == [0]
    assert named[0][1] > 0


def test_a_word_many_titles_hold_names_none() -> None:
    titles = TitleIndex.build(TITLES)
    assert titles.named(["统计", "公报"], None, len(TITLES), distinct=1, limit=3) == []
    assert titles.named(["工作", "报告", "政府"], None, len(TITLES), distinct=1, limit=3) == []


def test_titles_a_reader_cannot_see_do_not_count() -> None:
    titles = TitleIndex.build(TITLES)
    # "统计" is in two titles; a reader who sees only one of them and two others is pointed at it
    assert [p for p, _ in titles.named(["统计"], frozenset({1, 2, 3}), 3, distinct=1, limit=3)] == [1]
    assert titles.named(["统计"], None, len(TITLES), distinct=1, limit=3) == []


def test_a_corpus_of_a_few_documents_names_none() -> None:
    titles = TitleIndex.build({0: "甲市统计公报", 1: "丙省养老服务条例"})
    assert titles.named(["甲市"], None, 2, distinct=2, limit=3) == []


def test_the_words_left_after_the_title() -> None:
    titles = TitleIndex.build(TITLES)
    assert titles.rest(["甲市", "生产", "总值"], 0) == ["生产", "总值"]


def test_best_chunks_of_a_run_or_of_positions() -> None:
    scores = np.array([0.0, 2.0, 1.0, 3.0, 2.0, 0.0], dtype=np.float32)
    assert best_chunks(scores, (1, 4), 2) == [3, 1]
    assert best_chunks(scores, np.array([0, 2, 4, 5]), 5) == [4, 2]
    assert best_chunks(scores, (0, 0), 3) == []


def _bulletins(root: Path) -> Path:
    """Four bulletins of four cities that say the same things in the same words; only the title tells them apart."""
    for n, city in enumerate(["甲市", "乙市", "丙市", "丁市"]):
        body = [f"2025年{city}国民经济和社会发展", "统计公报", "一、综合", f"全年实现地区生产总值{1000 + n}亿元，比上年增长{5 + n}.0%。"]
        body += ["二、农业", "全年粮食产量保持稳定，农业生产平稳。", "三、工业", "全年规模以上工业增加值比上年增长。"]
        (root / f"bulletin_{n}.txt").write_text("\n".join(body) + "\n", encoding="utf-8")
    target = root / "idx"
    ingest_paths([root], target, HashEmbedder(64))
    return target


def test_the_document_a_question_names_by_title_comes_first(tmp_path: Path) -> None:
    index = load_index(_bulletins(tmp_path))
    question = "丙市2025年地区生产总值是多少？"
    routed = Searcher(index, HashEmbedder(64), FusionConfig()).search(question, 3)
    assert (routed[0].chunk.doc_id, "1002亿元" in routed[0].chunk.text) == ("bulletin_2.txt", True)
    plain = Searcher(index, HashEmbedder(64), FusionConfig(title_weight=0.0)).search(question, 3)
    assert plain[0].chunk.doc_id != "bulletin_2.txt"  # without the titles, the tie goes to the first document


def test_a_reader_view_routes_among_its_own_documents(tmp_path: Path) -> None:
    index = load_index(_bulletins(tmp_path))
    view = Searcher(index, HashEmbedder(64), FusionConfig()).restricted(frozenset({"bulletin_0.txt", "bulletin_1.txt", "bulletin_3.txt"}))
    hits = view.search("丙市2025年地区生产总值是多少？", 5)
    assert hits and all(h.chunk.doc_id != "bulletin_2.txt" for h in hits)


def test_latin_title_words_match_the_lowercased_question_words() -> None:
    titles = TitleIndex.build({0: "GB 50016 建筑设计防火规范", 1: "乙市统计公报", 2: "丙省养老服务条例"})
    assert [p for p, _ in titles.named(["gb", "50016", "防火"], None, 3, distinct=1, limit=3)] == [0]
    assert titles.rest(["gb", "耐火等级"], 0) == ["耐火等级"]
