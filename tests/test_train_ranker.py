"""`ragqa train --ranker`: the kept candidate ranker is saved unchanged, only the abstainer is fitted."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from ragqa.eval.errors import EvalError
from ragqa.eval.goldset import UNANSWERABLE, GoldItem, Ref
from ragqa.eval.train_answerer import KeptRanker, Rows, choose_threshold, simulate, train
from ragqa.service.extractive import MODEL_DIR, load_ranker
from ragqa.service.settings import Settings

from .conftest import DEV_GOLD, ROOT, settings_for

TRAIN_GOLD = ROOT / "eval" / "gold" / "train.jsonl"


def test_keeps_the_ranker_and_fits_only_the_abstainer(use_index: Path, tmp_path: Path) -> None:
    shipped = json.loads((MODEL_DIR / "answerer.json").read_text(encoding="utf-8"))
    meta = train([(str(DEV_GOLD), use_index)], tmp_path, settings_for(use_index), 5, 0.05, ranker=MODEL_DIR)
    assert (tmp_path / "answerer.txt").read_bytes() == (MODEL_DIR / "answerer.txt").read_bytes()
    assert meta["calibration"] == shipped["calibration"] and meta["join_ratio"] == shipped["join_ratio"]
    assert meta["gain"] == shipped["gain"] and meta["items"] == 53
    ranker = meta["ranker"]
    assert isinstance(ranker, dict) and ranker["sha256"] == hashlib.sha256((MODEL_DIR / "answerer.txt").read_bytes()).hexdigest()
    fitted_by = shipped.get("ranker", shipped)  # the model that fitted the shipped trees
    assert ranker["items"] == fitted_by["items"]
    assert meta["abstainer"] != shipped["abstainer"]  # fitted on 53 items, not the shipped thousands
    assert meta["params"] == shipped["params"] and meta["rounds"] == shipped["rounds"]
    loaded = load_ranker(tmp_path)
    assert loaded.offtopic is None
    assert loaded.join_ratio == shipped["join_ratio"] and loaded.threshold == meta["abstainer"]["threshold"]  # type: ignore[index]
    figures = meta["out_of_fold"]
    assert isinstance(figures, dict) and figures["refusal_recall_on_topic"] == figures["refusal_recall"]  # no question asked elsewhere


def test_refuses_a_ranker_of_other_features(tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(MODEL_DIR, old)
    meta = json.loads((old / "answerer.json").read_text(encoding="utf-8"))
    meta["features_version"] = "candidates-0"
    (old / "answerer.json").write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(EvalError, match=r"--ranker .*candidates-0"):
        train([(str(DEV_GOLD), tmp_path / "unused")], tmp_path / "out", Settings(), 5, 0.05, ranker=old)
    with pytest.raises(EvalError, match="top 5 passages"):
        train([(str(DEV_GOLD), tmp_path / "unused")], tmp_path / "out", Settings(), 3, 0.05, ranker=MODEL_DIR)
    assert not (tmp_path / "out").exists()


def test_keeps_the_abstainer_too_and_fits_an_off_topic_one(use_index: Path, tmp_path: Path) -> None:
    shipped = json.loads((MODEL_DIR / "answerer.json").read_text(encoding="utf-8"))
    corpora_items = [line for line in TRAIN_GOLD.read_text(encoding="utf-8").splitlines() if line.strip()][:120]
    elsewhere = tmp_path / "elsewhere.jsonl"
    elsewhere.write_text("\n".join(corpora_items) + "\n", encoding="utf-8")  # about eval/corpora, none in the sample index
    out = tmp_path / "model"
    meta = train([(str(DEV_GOLD), use_index)], out, settings_for(use_index), 5, 0.05, elsewhere=[(str(elsewhere), use_index)],
                 elsewhere_share=1.0, ranker=MODEL_DIR, keep_abstainer=True)  # fmt: skip
    assert meta["abstainer"] == shipped["abstainer"] and isinstance(meta["offtopic_abstainer"], dict)
    assert meta["offtopic_abstainer"] != shipped["abstainer"] and isinstance(meta["ranker"], dict)
    assert (out / "answerer.txt").read_bytes() == (MODEL_DIR / "answerer.txt").read_bytes()
    assert 53 < int(str(meta["items"])) <= 53 + 120  # the off-topic questions joined as unanswerable
    figures = meta["out_of_fold"]
    assert isinstance(figures, dict) and 0.0 <= figures["refusal_recall_on_topic"] <= 1.0
    loaded = load_ranker(out)
    assert loaded.offtopic is not None and loaded.offtopic.threshold == meta["offtopic_abstainer"]["threshold"]
    with pytest.raises(EvalError, match="--ranker"):
        train([(str(DEV_GOLD), use_index)], tmp_path / "no", Settings(), 5, 0.05, keep_abstainer=True)


def _altered(tmp_path: Path, **changes: object) -> Path:
    folder = tmp_path / "altered"
    shutil.copytree(MODEL_DIR, folder)
    meta = json.loads((folder / "answerer.json").read_text(encoding="utf-8"))
    (folder / "answerer.json").write_text(json.dumps({**meta, **changes}), encoding="utf-8")
    return folder


def test_a_kept_ranker_names_the_model_that_fitted_its_trees(tmp_path: Path) -> None:
    origin = {"from": "service/models", "sha256": "ab" * 32, "items": 3657}
    kept = KeptRanker.read(_altered(tmp_path, ranker=origin), 5)
    assert kept.provenance() == {**origin, "via": [str(tmp_path / "altered")]}
    assert KeptRanker.read(MODEL_DIR, 5).provenance()["sha256"] == hashlib.sha256((MODEL_DIR / "answerer.txt").read_bytes()).hexdigest()


def test_trees_fitted_with_other_settings_are_not_kept(tmp_path: Path) -> None:
    with pytest.raises(EvalError, match="other settings"):
        KeptRanker.read(_altered(tmp_path, rounds=50), 5)


def test_items_a_kept_abstainer_refuses_count_against_the_budget() -> None:
    scores = np.linspace(0.05, 1.0, 20)  # 20 answerable items of one fold
    answerable, folds = np.ones(20), np.zeros(20)
    assert choose_threshold(scores, answerable, folds, 0.1) == pytest.approx(scores[2] - 1e-9)  # 2 of 20 may be refused
    refused = np.zeros(20, dtype=bool)
    refused[10] = True  # one the kept abstainer refuses: one more is left
    assert choose_threshold(scores, answerable, folds, 0.1, refused) == pytest.approx(scores[1] - 1e-9)
    refused[11] = True  # the budget is spent: the new threshold refuses none
    assert choose_threshold(scores, answerable, folds, 0.1, refused) == pytest.approx(scores[0] - 1e-9)


def test_out_of_fold_refusal_recall_is_told_apart_for_questions_asked_elsewhere() -> None:
    """simulate: refusal recall over every unanswerable question, and over the gold sets' own alone
    (`refusal_recall_on_topic`), without those asked of an index that holds none of their documents."""

    def rows(id_: str, answers: tuple[str, ...], elsewhere: bool = False) -> Rows:
        item = GoldItem(id_, "问题？", answers, False, (Ref("d.txt", 1, 1),) if answers else (), "fact" if answers else UNANSWERABLE)
        return Rows(item, np.zeros((1, 1)), np.zeros(1), ("答案是五日。",), id_, ("d.txt",), {}, elsewhere)

    got = simulate([rows("a", ("五日",)), rows("b", ()), rows("c", (), elsewhere=True)], [np.array([0.9])] * 3, [False, False, True], 0.3)
    assert got.answer_accuracy == 1.0 and got.false_refusals == 0.0
    assert got.refusal_recall == 0.5 and got.refusal_recall_on_topic == 0.0
