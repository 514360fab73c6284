"""The synthetic corpus of the scale benchmark (eval/synth.py): deterministic per seed, no two
chunks alike at ~5,000 chunks, queries whose refs hold their answers, and answerable by ragqa."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ragqa.eval.goldset import load_gold
from ragqa.eval.synth import Perturbation, detect_names, shuffled_order, write_corpus
from ragqa.eval.textnorm import normalize
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.store import load_index
from ragqa.ingest.model import Document
from ragqa.ingest.readers import read_tree

from .conftest import DEV_GOLD, SAMPLES, settings_for


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two copies of the sample corpus (about 680 chunks) with queries for both."""
    out = tmp_path_factory.mktemp("synth-small")
    write_corpus([SAMPLES], out, 600, seed=7, gold=DEV_GOLD, query_copies=2)
    return out


def test_same_seed_same_corpus_other_seed_other_corpus(small: Path, tmp_path: Path) -> None:
    write_corpus([SAMPLES], tmp_path / "again", 600, seed=7, gold=DEV_GOLD, query_copies=2)
    write_corpus([SAMPLES], tmp_path / "other", 600, seed=8, gold=DEV_GOLD, query_copies=2)
    assert _files(tmp_path / "again") == _files(small)
    other = _files(tmp_path / "other")
    assert other.keys() == _files(small).keys()
    assert other["docs/c0000_000_f32850ce6c833049.txt"] != _files(small)["docs/c0000_000_f32850ce6c833049.txt"]


def test_a_copy_renames_consistently_and_keeps_headings_numbered() -> None:
    docs, _ = read_tree([SAMPLES])
    names = detect_names(docs)
    assert {"东阳", "金华", "缙云", "巍山", "六石"} <= set(names.places)
    assert "李敢峰" in names.persons and "市发改局" in names.units
    a, b = Perturbation(names, 0, 2, 0), Perturbation(names, 1, 2, 0)
    assert a.place["东阳"] != b.place["东阳"] and not set(a.place.values()) & set(b.place.values())
    text = "东阳2022年增长58%，12月底前完成，东阳市发改局牵头"
    once = a.apply(text)
    assert once == a.apply(text) and "东阳" not in once and a.place["东阳"] in once
    assert f"{2022 + a.year_shift}年" in once
    assert a.apply("3.37%") in a.apply("比重达到3.37%等") and a.apply("1.新增企业5家").startswith("1.")


def test_shuffling_moves_sibling_clauses_only() -> None:
    import random

    lines = ["标题", "一、甲", "(一)子一", "正文1", "(二)子二", "正文2", "(三)子三", "二、乙", "表\t头", "1\t行一", "\t续", "2\t行二"]
    orders = {tuple(shuffled_order(lines, random.Random(seed))) for seed in range(30)}
    assert len(orders) > 1
    for order in orders:
        assert sorted(order) == list(range(len(lines)))
        assert order[:2] == (0, 1) and order[7:9] == (7, 8)  # the top level and a table's header stay
        assert order.index(3) == order.index(2) + 1 and order.index(10) == order.index(9) + 1  # a clause and a row move whole


def test_no_two_chunks_alike_at_5000(tmp_path: Path) -> None:
    report = write_corpus([SAMPLES], tmp_path, 5000, seed=0)
    assert report.copies >= 14
    index = ingest_paths([tmp_path / "docs"], tmp_path / "index", HashEmbedder(64))
    assert index.chunks >= 5000
    texts = [c.text for c in load_index(tmp_path / "index").chunks]
    assert len(set(texts)) == len(texts)


def test_refs_hold_the_answers(small: Path) -> None:
    docs = {d.doc_id: d for d in read_tree([small / "docs"])[0]}
    gold = load_gold(small / "queries.jsonl", {d: len(doc.lines) for d, doc in docs.items()})
    assert not gold.problems
    dev = [json.loads(line) for line in DEV_GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(gold.items) == 2 * len(dev)
    for item in gold.items:
        assert item.question not in {d["question"] for d in dev}
        texts = [normalize("".join(docs[r.doc].lines[r.start_line - 1 : r.end_line])) for r in item.refs]
        found = [any(normalize(a) in t for t in texts) for a in item.answers]
        assert all(found), item.id
        assert all(r.doc.startswith(item.id.rsplit("-", 1)[1]) for r in item.refs)


def test_origins_map_each_line_to_its_source(small: Path) -> None:
    sources = {d.doc_id: d for d in read_tree([SAMPLES])[0]}
    for row in map(json.loads, (small / "origins.jsonl").read_text(encoding="utf-8").splitlines()):
        doc: Document = read_tree([small / "docs" / row["doc"]])[0][0]
        assert sorted(row["lines"]) == list(range(1, len(sources[row["source"]].lines) + 1))
        assert len(doc.lines) == len(row["lines"])


def test_ragqa_answers_most_synthetic_queries(small: Path, tmp_path: Path) -> None:
    from ragqa.eval.askers import InProcessAsker
    from ragqa.eval.runner import evaluate
    from ragqa.service.pipeline import Pipeline

    ingest_paths([small / "docs"], tmp_path / "index", HashEmbedder(256))
    gold = load_gold(small / "queries.jsonl")
    run = evaluate(gold, InProcessAsker(pipeline=Pipeline.from_settings(settings_for(tmp_path / "index"))))
    assert run.overall.hit_at_5 is not None and run.overall.hit_at_5 >= 0.9
    assert run.overall.answer_accuracy is not None and run.overall.answer_accuracy >= 0.75
