"""The numpy tree walker (service/trees.py) gives LightGBM's own predictions for the shipped model,
for a model with stumps, missing values and default directions, and for a ranker with its calibration."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest
from ragqa.service.extractive import MODEL_DIR, load_ranker
from ragqa.service.trees import ForestError, load_forest


def _rows(n: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, width))
    x[rng.random((n, width)) < 0.3] = 0.0  # many exact zeros, as the features have
    x[:, 3] = rng.integers(-1, 2, n)  # a three-valued feature
    return x


def test_the_shipped_model_predicts_as_lightgbm_does() -> None:
    ranker = load_ranker(MODEL_DIR)
    booster = lightgbm.Booster(model_file=str(MODEL_DIR / "answerer.txt"))
    x = _rows(500, ranker.forest.n_features, 1)
    expected = booster.predict(x)
    calibration = ranker.meta.get("calibration")
    if calibration:  # a ranker: LightGBM gives its scores, the calibration their probabilities
        expected = 1.0 / (1.0 + np.exp(-(calibration["scale"] * expected + calibration["offset"])))
    np.testing.assert_allclose(ranker.probabilities(x), expected, rtol=1e-9, atol=1e-12)


def test_a_ranker_is_read_with_its_calibration_and_only_with_it(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    x = rng.random((600, 4))
    y = (x[:, 0] + 0.5 * rng.random(600) > 0.9).astype(float)
    data = lightgbm.Dataset(x, y)
    data.set_group([6] * 100)
    booster = lightgbm.train({"objective": "lambdarank", "num_leaves": 5, "verbose": -1, "seed": 1, "min_data_in_leaf": 5}, data, 20)
    path = tmp_path / "rank.txt"
    booster.save_model(str(path))
    probe = rng.random((200, 4))
    forest = load_forest(path, (1.7, -2.5))
    np.testing.assert_allclose(forest.predict(probe), 1.0 / (1.0 + np.exp(-(1.7 * booster.predict(probe) - 2.5))), rtol=1e-9, atol=1e-12)
    with pytest.raises(ForestError, match="calibration"):
        load_forest(path)
    binary = lightgbm.train({"objective": "binary", "num_leaves": 5, "verbose": -1}, lightgbm.Dataset(x, y), 5)
    binary.save_model(str(tmp_path / "binary.txt"))
    with pytest.raises(ForestError, match="calibrat"):
        load_forest(tmp_path / "binary.txt", (1.0, 0.0))


def test_missing_values_and_defaults_follow_lightgbm(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    x = rng.random((2000, 5))
    y = (x[:, 0] + 0.3 * x[:, 1] > 0.7).astype(float)
    x[rng.random(x.shape) < 0.2] = np.nan
    for params in ({"use_missing": True}, {"use_missing": True, "zero_as_missing": True}, {"use_missing": False}):
        booster = lightgbm.train({"objective": "binary", "num_leaves": 5, "verbose": -1, "seed": 1, **params}, lightgbm.Dataset(x, y), 30)
        path = tmp_path / "m.txt"
        booster.save_model(str(path))
        probe = rng.random((300, 5))
        probe[rng.random(probe.shape) < 0.2] = np.nan
        probe[rng.random(probe.shape) < 0.1] = 0.0
        np.testing.assert_allclose(load_forest(path).predict(probe), booster.predict(probe), rtol=1e-9, atol=1e-12)
        whole = rng.random((300, 5))  # no NaN: a model without missing-value rules takes the flat walk
        np.testing.assert_allclose(load_forest(path).predict(whole), booster.predict(whole), rtol=1e-9, atol=1e-12)


def test_a_model_of_stumps_and_bad_input(tmp_path: Path) -> None:
    x = np.ones((50, 3))
    y = np.r_[np.ones(25), np.zeros(25)]
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "min_data_in_leaf": 100}, lightgbm.Dataset(x, y), 3)
    path = tmp_path / "stumps.txt"
    booster.save_model(str(path))
    forest = load_forest(path)
    np.testing.assert_allclose(forest.predict(x[:4]), booster.predict(x[:4]), rtol=1e-9)
    with pytest.raises(ForestError, match="features"):
        forest.predict(np.ones((2, 7)))
    (tmp_path / "reg.txt").write_text("tree\nobjective=regression\nmax_feature_idx=2\n\nTree=0\nnum_leaves=1\nleaf_value=0\n", encoding="utf-8")
    with pytest.raises(ForestError, match="binary and ranking"):
        load_forest(tmp_path / "reg.txt")
