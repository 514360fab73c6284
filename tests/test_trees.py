"""The numpy tree walker (service/trees.py) gives LightGBM's own predictions for the shipped model
and for a model with stumps, missing values and default directions."""

from __future__ import annotations

from pathlib import Path

import lightgbm
import numpy as np
import pytest
from ragqa.service.extractive import MODEL_DIR
from ragqa.service.trees import ForestError, load_forest


def _rows(n: int, width: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.random((n, width))
    x[rng.random((n, width)) < 0.3] = 0.0  # many exact zeros, as the features have
    x[:, 3] = rng.integers(-1, 2, n)  # a three-valued feature
    return x


def test_the_shipped_model_predicts_as_lightgbm_does() -> None:
    path = MODEL_DIR / "answerer.txt"
    booster = lightgbm.Booster(model_file=str(path))
    forest = load_forest(path)
    x = _rows(500, forest.n_features, 1)
    np.testing.assert_allclose(forest.predict(x), booster.predict(x), rtol=1e-9, atol=1e-12)


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
    with pytest.raises(ForestError, match="binary"):
        load_forest(tmp_path / "reg.txt")
