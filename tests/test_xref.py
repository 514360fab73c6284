"""Cross-references: a clause that cites another article of its document by number carries that
article's text for search, so that a question in the cited article's words finds it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.search import FusionConfig, Searcher
from ragqa.index.store import embed_text, load_index
from ragqa.ingest.clauses import chunk_document
from ragqa.ingest.model import Chunk
from ragqa.ingest.readers import read_document
from ragqa.ingest.xref import Articles, references

MAINLAND = """某市城市养犬管理条例
第一条 为了规范养犬行为，制定本条例。
第十四条 禁止在城市建成区内开办犬类交易场所和举办斗犬活动。
第十五条 携犬出户应当遵守下列规定：
（一）携带养犬证；
（二）束犬链；
（三）及时清除犬只户外排泄的粪便。
第二十六条 违反本条例第十四条规定的，由执法部门没收犬只，并处一万元以上二万元以下罚款。
第二十七条 违反本条例第十五条第三项规定的，处二十元以上五十元以下罚款。
第二十八条 违反《中华人民共和国动物防疫法》第十四条规定的，依照该法处理。
第二十九条 本条例自公布之日起施行。
"""

TAIWAN = """某某退休金條例
第 一 章 總則
第 7 條
本條例之適用對象為適用勞動基準法之本國籍勞工。
第 30 條
雇主不得以任何理由扣留勞工工資。
第 二 章 罰則
第 51 條
雇主違反第三十條規定，扣留勞工工資者，處新臺幣一萬元以上五萬元以下罰鍰。
第 52 條
依勞動基準法第三十條規定計算工時。
"""


def _chunks(tmp_path: Path, name: str, text: str) -> list[Chunk]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return chunk_document(read_document(path, name))


def _cited(chunks: list[Chunk], label: str) -> list[str]:
    chunk = next(c for c in chunks if label in c.match_text)
    assert "\n" not in chunk.context  # the answer features' context holds no citation
    return chunk.cited.split("\n") if chunk.cited else []


def test_a_penalty_clause_carries_the_article_it_cites_and_an_item_it_names(tmp_path: Path) -> None:
    chunks = _chunks(tmp_path, "dog.txt", MAINLAND)
    assert _cited(chunks, "第二十六条") == ["禁止在城市建成区内开办犬类交易场所和举办斗犬活动。"]
    item = _cited(chunks, "第二十七条")
    assert len(item) == 1 and "及时清除犬只户外排泄的粪便" in item[0] and "携带养犬证" not in item[0]
    assert _cited(chunks, "第二十八条") == []  # 第十四条 of another act is not this document's
    assert _cited(chunks, "第十四条") == [] and _cited(chunks, "第二十九条") == []  # its own label is no citation


def test_traditional_articles_with_labels_on_their_own_lines_are_resolved_and_folded(tmp_path: Path) -> None:
    chunks = _chunks(tmp_path, "tw.txt", TAIWAN)
    assert _cited(chunks, "违反第三十条") == ["雇主不得以任何理由扣留劳工工资。"]
    assert _cited(chunks, "依劳动基准法第三十条") == []


def test_references_skip_missing_articles_and_keep_at_most_four() -> None:
    lines = [f"第{n}条 第{n}条的内容{n}。" for n in range(1, 7)] + ["第七条 违反第一条、第二条、第三条、第四条、第五条或者第九十九条的，处罚款。"]
    articles = Articles(lines)
    cited = references(articles, [(7, lines[6])]).split("\n")
    assert cited == ["第1条的内容1。", "第2条的内容2。", "第3条的内容3。", "第4条的内容4。"]
    assert references(Articles(["没有条文的一段话，提到第三条。"]), [(1, "没有条文的一段话，提到第三条。")]) == ""


@pytest.fixture(scope="module")
def dog_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = tmp_path_factory.mktemp("xref")
    (docs / "dog.txt").write_text(MAINLAND, encoding="utf-8")
    target = tmp_path_factory.mktemp("xrefidx") / "index"
    ingest_paths([docs], target, HashEmbedder(32))
    return target


def test_a_question_in_the_cited_articles_words_finds_the_penalty_clause(dog_index: Path) -> None:
    index = load_index(dog_index)
    hits = Searcher(index, HashEmbedder(32), FusionConfig(dense_weight=0.0)).search("开办犬类交易场所会被罚款多少", 2)
    assert any("一万元以上二万元以下罚款" in h.chunk.text for h in hits)
    penalty = next(h.chunk for h in hits if "一万元以上二万元以下罚款" in h.chunk.text)
    assert "犬类交易场所" in embed_text(penalty) and "犬类交易场所" not in penalty.text  # searched, never shown


HONG_KONG = """盜竊罪條例
第9條 盜竊的定義
(1) 任何人不誠實地挪佔屬於另一人的財產，即屬盜竊。
第9A條 插入的條文
(1) 本條所指的運輸工具包括船隻。
(2) 任何人未獲授權而取用運輸工具，即屬犯罪。
第12條 罰則
任何人犯第 9(1) 條所訂的罪行，可處監禁10年；犯第9A(2)條所訂的罪行，可處罰款。
第13條 相關條例
《刑事罪行條例》(第200章)第9條另有規定。
"""


def test_hong_kong_sections_with_letters_spaces_and_subsections_are_resolved(tmp_path: Path) -> None:
    chunks = _chunks(tmp_path, "hk.txt", HONG_KONG)
    cited = _cited(chunks, "可处监禁10年")
    assert len(cited) == 2
    assert "不诚实地挪占属于另一人的财产" in cited[0]
    assert "未获授权而取用运输工具" in cited[1] and "包括船只" not in cited[1]  # subsection (2), not the section's start
    assert _cited(chunks, "刑事罪行条例") == []  # 第9條 of the ordinance (第200章) named before it


def test_odd_numbers_do_not_stop_a_document_and_cited_text_survives_the_chunk_store(tmp_path: Path) -> None:
    text = "某规定\n第一条 禁止在河道内倾倒垃圾。\n第二条 违反第一条第12345678901234567项的，处罚款；违反第一条规定的，处五百元罚款。\n"
    chunks = _chunks(tmp_path, "odd.txt", text)
    penalty = next(c for c in chunks if "五百元" in c.match_text)
    assert penalty.cited == "禁止在河道内倾倒垃圾。"  # the unreadable item falls back to the article's start, once
    assert Chunk.from_json(penalty.to_json()).cited == penalty.cited
    old = {k: v for k, v in penalty.to_json().items() if k != "cited"}  # a chunk stored before citations were kept
    assert Chunk.from_json(old).cited == ""
