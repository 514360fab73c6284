"""Learned query expansion: the table, how search uses it, and how it is learned."""

from __future__ import annotations

from pathlib import Path

import pytest
from ragqa.eval.goldset import GoldItem, Ref
from ragqa.eval.term_assoc import Pair, Rules, learn, main, pairs_of
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.expansion import ExpansionError, Expansions, load_expansions
from ragqa.index.search import FusionConfig, Searcher
from ragqa.index.store import load_index
from ragqa.ingest.model import Document
from ragqa.service.extractive import default_expansions

from .conftest import ROOT


def test_a_query_gains_each_words_expansions_at_their_largest_share_and_never_a_word_it_holds() -> None:
    table = Expansions({"罚": (("罚款", 0.8), ("以下", 0.5)), "过期": (("逾期", 0.6), ("以下", 0.7))})
    assert table.extra(["过期", "罚", "食品"]) == {"罚款": 0.8, "以下": 0.7, "逾期": 0.6}
    assert table.extra(["罚", "罚款"]) == {"以下": 0.5}
    assert table.extra(["食品"]) == {}


def test_a_table_is_read_back_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    assert load_expansions(tmp_path / "none.json") is None
    path = tmp_path / "x.json"
    path.write_text(Expansions({"罚": (("罚款", 0.8),)}).to_json({"items": 1}), encoding="utf-8")
    assert load_expansions(path) == Expansions({"罚": (("罚款", 0.8),)})
    path.write_text('{"format": "other"}', encoding="utf-8")
    with pytest.raises(ExpansionError, match="term_assoc"):
        load_expansions(path)
    path.write_text("not json", encoding="utf-8")
    with pytest.raises(ExpansionError, match="not an expansion table"):
        load_expansions(path)


def test_the_shipped_table_loads_and_maps_question_words_to_words_of_the_documents() -> None:
    table = default_expansions()
    assert table is not None and len(table.table) >= 20
    assert all(0 < p <= 1 for words in table.table.values() for _, p in words)


@pytest.fixture(scope="module")
def penalty_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("exp")
    (docs / "a.txt").write_text("第一条 过期的证件应当及时换领。\n第二条 证件过期后仍然使用的，可以到窗口咨询。\n", encoding="utf-8")
    (docs / "b.txt").write_text("第一条 逾期未换领证件的，处二百元以下罚款。\n第二条 本办法自公布之日起施行。\n", encoding="utf-8")
    target = tmp_path_factory.mktemp("expidx") / "index"
    ingest_paths([docs], target, HashEmbedder(32))
    return target


def test_expansions_move_the_clause_that_says_it_in_its_own_words_up_but_not_its_keyword_score(penalty_index: Path) -> None:
    index, embedder = load_index(penalty_index), HashEmbedder(32)
    question = "证件过期了会罚多少钱"
    plain = Searcher(index, embedder, FusionConfig(dense_weight=0.0)).search(question, 3)
    table = Expansions({"罚": (("罚款", 0.8),), "过期": (("逾期", 0.6),)})
    expanded = Searcher(index, embedder, FusionConfig(dense_weight=0.0), expansions=table).search(question, 3)
    assert plain[0].chunk.doc_id == "a.txt"  # the question's own words are all in a.txt
    assert expanded[0].chunk.doc_id == "b.txt" and "罚款" in expanded[0].chunk.text
    before = {(h.chunk.doc_id, h.chunk.start_line): (h.keyword_score, h.keyword_rank) for h in plain}
    for h in expanded:  # score and rank stay the question's own words'
        if (h.chunk.doc_id, h.chunk.start_line) in before:
            score, rank = before[h.chunk.doc_id, h.chunk.start_line]
            assert h.keyword_score == pytest.approx(score) and h.keyword_rank == rank
    off = Searcher(index, embedder, FusionConfig(dense_weight=0.0, expansion_weight=0.0), expansions=table).search(question, 3)
    assert [h.chunk for h in off] == [h.chunk for h in plain]
    restricted = Searcher(index, embedder, FusionConfig(dense_weight=0.0), expansions=table).restricted(frozenset({"a.txt", "b.txt"}))
    assert restricted.search(question, 1)[0].chunk.doc_id == "b.txt"  # a reader's view keeps the table
    with pytest.raises(ValueError):
        FusionConfig(expansion_weight=-1.0)


def _pair(doc: str, asked: set[str], answering: set[str]) -> Pair:
    return Pair(GoldItem(f"{doc}-q", "问", ("答",), False, (), "fact"), doc, frozenset(asked), frozenset(answering))


def test_a_pair_is_learned_only_when_questions_about_several_documents_agree(penalty_index: Path) -> None:
    keyword = load_index(penalty_index).keyword
    rules = Rules(min_count=3, min_docs=3, min_share=0.2, min_lift=1.5)
    spread = [_pair(f"d{i}.txt", {"罚", "证件"}, {"罚款", "证件", "以下"}) for i in range(3)]
    filler = [_pair(f"e{i}.txt", {"施行"}, {"施行", "公布"}) for i in range(6)]
    learned = learn(spread + filler, keyword, rules).table
    assert dict(learned["罚"]) == {"罚款": 1.0, "以下": 1.0}
    one_document = [_pair("d0.txt", {"罚", "证件"}, {"罚款", "证件"}) for _ in range(5)]
    assert "罚" not in learn(one_document + filler, keyword, rules).table  # one document's wording is no rule
    common = [_pair(f"d{i}.txt", {"罚"}, {"罚款", "公布"}) for i in range(3)] + [_pair(f"f{i}.txt", {"x"}, {"公布"}) for i in range(3)]
    assert [w for w, _ in learn(common, keyword, rules).table["罚"]] == ["罚款"]  # 公布 is in every answering line: no lift
    assert "无此词" not in {w for words in learn(spread + filler, keyword, rules).table.values() for w, _ in words}


def test_pairs_take_the_gold_lines_words_and_skip_unanswerable_items() -> None:
    doc = Document("a.txt", "办法", ("第一条 总则", "第二条 逾期未换领的，处罚款。"))
    items = [
        GoldItem("a-1", "过期不换会罚吗？", ("处罚款",), False, (Ref("a.txt", 2, 2),), "fact"),
        GoldItem("a-2", "有奖励吗？", (), False, (), "unanswerable"),
    ]
    (pair,) = pairs_of(items, {"a.txt": doc})
    assert "罚款" in pair.answering and "逾期" in pair.answering and "过期" in pair.asked


def test_the_learner_says_what_is_wrong_with_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--gold", f"{tmp_path / 'none.jsonl'}={ROOT / '.ragqa' / 'index'}", "--out", str(tmp_path / "x.json")]) == 2
    assert "no gold set" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--gold", "no-equals-sign"])
    assert not (tmp_path / "x.json").exists()


def test_training_retrieves_the_set_a_table_was_learned_from_with_tables_that_never_saw_the_items_document(
    penalty_index: Path, tmp_path: Path
) -> None:
    from ragqa.eval.train_answerer import ExpansionPlan, _searcher_of
    from ragqa.service.settings import Settings

    gold = tmp_path / "gold.jsonl"
    gold.write_text("", encoding="utf-8")
    items = [
        GoldItem("b-1", "证件过期了会罚多少钱？", ("二百元以下罚款",), False, (Ref("b.txt", 1, 1),), "numeric"),
        GoldItem("a-1", "证件过期了去哪换？", ("及时换领",), False, (Ref("a.txt", 1, 1),), "fact"),
    ]
    index, embedder = load_index(penalty_index), HashEmbedder(32)
    everything = Expansions({"罚": (("罚款", 1.0),)})
    plan = ExpansionPlan(everything, frozenset({(str(gold.absolute()), str(penalty_index.absolute()))}), Rules(1, 1, 0.0, 0.0), "sha")
    pick = _searcher_of(items, str(gold), index, embedder, Settings(), plan)
    for item in items:  # each item's table is learned without its own document's items
        learned = pick(item).expansions
        assert learned is not None and learned != everything
        assert "罚" not in learned.table or item.refs[0].doc != "b.txt"
    other = _searcher_of(items, str(tmp_path / "other.jsonl"), index, embedder, Settings(), plan)
    assert other(items[0]).expansions is everything  # any other set: the table as served
