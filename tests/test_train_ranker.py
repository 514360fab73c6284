"""`ragqa train --ranker`: the kept candidate ranker is saved unchanged, only the abstainer is fitted."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from ragqa.eval.errors import EvalError
from ragqa.eval.train_answerer import train
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
    assert ranker["items"] == shipped["items"]
    assert meta["abstainer"] != shipped["abstainer"]  # fitted on 53 items, not the shipped thousands
    loaded = load_ranker(tmp_path)
    assert loaded.join_ratio == shipped["join_ratio"] and loaded.threshold == meta["abstainer"]["threshold"]  # type: ignore[index]


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
    assert 53 < int(str(meta["items"])) <= 53 + 120  # the off-topic questions joined as unanswerable
    loaded = load_ranker(out)
    assert loaded.offtopic is not None and loaded.offtopic.threshold == meta["offtopic_abstainer"]["threshold"]
    with pytest.raises(EvalError, match="--ranker"):
        train([(str(DEV_GOLD), use_index)], tmp_path / "no", Settings(), 5, 0.05, keep_abstainer=True)
