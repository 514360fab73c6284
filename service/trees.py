"""The answer model's trees evaluated with numpy, so serving needs no LightGBM.

`ragqa train` fits a LightGBM model (a binary classifier, or a ranker whose scores a logistic
calibration fitted out of fold turns into probabilities) and saves it in LightGBM's text format
(service/models/answerer.txt). Importing LightGBM costs a second at start-up (it pulls in
scikit-learn, SciPy and pandas) and a hundred megabytes; answering only walks 200 small trees.
`Forest` reads the text format (numerical splits only, which is all `ragqa train` makes) and
walks every tree for every candidate at once: one gather and compare per level of each tree's depth.
tests/test_trees.py checks it against LightGBM's own predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

_ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| below it is "zero" for zero-as-missing splits


class ForestError(ValueError):
    """The model file is not a LightGBM text model this evaluator supports."""


@dataclass(frozen=True)
class Forest:
    """Trees as arrays [tree, node]; a child < 0 is leaf ~child."""

    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    default_left: np.ndarray
    missing: np.ndarray  # 0 none, 1 zero, 2 NaN (LightGBM's missing types)
    leaf: np.ndarray  # [tree, leaf]
    depth: int
    sigmoid: float
    n_features: int
    offset: float = 0.0  # a ranker's calibration: P = 1 / (1 + exp(-(sigmoid * raw + offset)))

    @cached_property
    def _walk(self) -> _Walk:
        return _Walk.of(self)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """P(positive) for each row of `x`: a binary model's, as LightGBM's predict gives it, or a
        ranker's calibrated score."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ForestError(f"expected rows of {self.n_features} features, got shape {x.shape}")
        plain = not self.missing.any() and not np.isnan(x).any()  # no missing-value rules apply: compare only
        raw = self._walk.raw(x) if plain else self._masked_raw(x)
        return np.asarray(1.0 / (1.0 + np.exp(-(self.sigmoid * raw + self.offset))), dtype=np.float64)

    def _masked_raw(self, x: np.ndarray) -> np.ndarray:
        """The trees' summed leaf values, walked with LightGBM's missing-value rules: every row
        through every tree at once, a mask of the rows still at a split."""
        n, trees = len(x), len(self.leaf)
        t = np.arange(trees)[None, :]
        rows = np.arange(n)[:, None]
        width = self.feature.shape[1]
        base = t * width  # flat index of each tree's node 0 in the raveled [tree, node] arrays
        feature, threshold, left, right = (a.ravel() for a in (self.feature, self.threshold, self.left, self.right))
        node = np.where(self.feature[:, 0] >= 0, 0, -1)[None, :].repeat(n, axis=0)  # a stump is leaf 0
        for _ in range(self.depth):
            inner = node >= 0
            if not inner.any():
                break
            at = base + np.where(inner, node, 0)
            value = x[rows, feature[at]]
            missing = self.missing.ravel()[at]
            nan = np.isnan(value)
            value = np.where(nan & (missing != 2), 0.0, value)  # LightGBM reads NaN as 0 unless NaN is "missing"
            is_missing = ((missing == 2) & nan) | ((missing == 1) & (np.abs(value) <= _ZERO))
            go_left = np.where(is_missing, self.default_left.ravel()[at], value <= threshold[at])
            step = np.where(go_left, left[at], right[at])
            node = np.where(inner, step, node)
        return np.asarray(self.leaf[t, ~node].sum(axis=1))


@dataclass(frozen=True)
class _Walk:
    """The forest as one flat array of nodes in which a leaf is a node that leads to itself (and
    compares with +inf), so a row walks every tree with no masks: each step is one gather and
    compare. The trees are held shallowest first, and step k walks only the trees deeper than k
    (a suffix), so each tree takes as many steps as it is deep (7.6 on average, against 11 for
    the deepest); leaf values are summed in the model's tree order. Used when no missing-value
    rule applies (the usual case)."""

    start: np.ndarray  # [tree, in depth order] the flat node each tree starts at
    deeper: tuple[int, ...]  # [step k] the first tree (in depth order) deeper than k
    feature: np.ndarray  # [node]
    threshold: np.ndarray
    child: np.ndarray  # [2 * node + (x > threshold)] flat index of the next node
    value: np.ndarray  # [node] a leaf's value, 0 for a split
    unsort: np.ndarray  # depth order -> model order

    @classmethod
    def of(cls, forest: Forest) -> _Walk:
        trees, inner = forest.feature.shape
        width = inner + forest.leaf.shape[1]
        base = (np.arange(trees) * width)[:, None]
        leaf_nodes = base + inner + np.arange(forest.leaf.shape[1])[None, :]

        def target(child: np.ndarray) -> np.ndarray:
            return np.asarray(np.where(child >= 0, base + child, base + inner + ~child))

        split = forest.feature >= 0
        left, right = (np.concatenate([np.where(split, target(c), 0), leaf_nodes], axis=1).ravel() for c in (forest.left, forest.right))
        depth = np.array([_depth(forest.left[t], forest.right[t]) if split[t, 0] else 0 for t in range(trees)])
        order = np.argsort(depth, kind="stable")
        start = np.where(split[:, 0], base[:, 0], base[:, 0] + inner)  # a stump is its leaf 0
        return cls(
            start=start[order],
            deeper=tuple(int(np.searchsorted(depth[order], k, side="right")) for k in range(int(depth.max(initial=0)))),
            feature=np.concatenate([np.where(split, forest.feature, 0), np.zeros_like(leaf_nodes)], axis=1).ravel(),
            threshold=np.concatenate([forest.threshold, np.full(leaf_nodes.shape, np.inf)], axis=1).ravel(),
            child=np.stack([left, right], axis=1).ravel(),
            value=np.concatenate([np.zeros(forest.feature.shape), forest.leaf], axis=1).ravel(),
            unsort=np.argsort(order),
        )

    def raw(self, x: np.ndarray) -> np.ndarray:
        n, width = x.shape
        flat = x.ravel()
        offset = (np.arange(n) * width)[:, None]
        node = np.repeat(self.start[None, :], n, axis=0)
        for first in self.deeper:
            at = node[:, first:]
            node[:, first:] = self.child[2 * at + (flat[offset + self.feature[at]] > self.threshold[at])]
        leaves = np.ascontiguousarray(self.value[node[:, self.unsort]])  # laid out as before: the same sums to the bit
        return np.asarray(leaves.sum(axis=1))


def _numbers(block: dict[str, str], key: str, kind: type) -> list[float] | list[int]:
    text = block.get(key, "").strip()
    return [kind(v) for v in text.split()] if text else []


RANKING_OBJECTIVES = ("lambdarank", "rank_xendcg")


def load_forest(path: Path, calibration: tuple[float, float] | None = None) -> Forest:
    """A LightGBM text model (numerical splits) as a `Forest`: of the binary objective, or of a
    ranking objective with the `calibration` (scale, offset) that turns its scores into probabilities."""
    text = path.read_text(encoding="utf-8")
    head, _, body = text.partition("\nTree=")
    header = dict(line.split("=", 1) for line in head.splitlines() if "=" in line)
    objective = header.get("objective", "")
    offset = 0.0
    if objective.startswith("binary"):
        if calibration is not None:
            raise ForestError(f"{path}: a binary model is calibrated already; no calibration is taken")
        sigmoid = next((float(p.split(":", 1)[1]) for p in objective.split() if p.startswith("sigmoid:")), 1.0)
    elif objective.startswith(RANKING_OBJECTIVES):
        if calibration is None:
            raise ForestError(f"{path}: a ranking model ({objective.split()[0]}) needs its calibration")
        sigmoid, offset = calibration
    else:
        raise ForestError(f"{path}: objective {objective!r}; only binary and ranking models are supported")
    n_features = int(header["max_feature_idx"]) + 1
    trees: list[dict[str, str]] = []
    for chunk in ("Tree=" + body).split("\nTree="):
        if "num_leaves=" not in chunk:
            continue
        block = dict(line.split("=", 1) for line in chunk.splitlines() if "=" in line)
        if int(block.get("num_cat", "0")) != 0:
            raise ForestError(f"{path}: categorical splits are not supported")
        trees.append(block)
    if not trees:
        raise ForestError(f"{path}: no trees")
    inner = max(max(int(b["num_leaves"]) - 1, 1) for b in trees)
    leaves = max(int(b["num_leaves"]) for b in trees)
    shape = (len(trees), inner)
    feature = np.full(shape, -1, dtype=np.int64)
    threshold = np.zeros(shape)
    left = np.full(shape, -1, dtype=np.int64)
    right = np.full(shape, -1, dtype=np.int64)
    default_left = np.zeros(shape, dtype=bool)
    missing = np.zeros(shape, dtype=np.int64)
    leaf = np.zeros((len(trees), leaves))
    depth = 1
    for i, b in enumerate(trees):
        values = _numbers(b, "leaf_value", float)
        leaf[i, : len(values)] = values
        splits = _numbers(b, "split_feature", int)
        if not splits:
            continue
        k = len(splits)
        decision = np.asarray(_numbers(b, "decision_type", int), dtype=np.int64)
        if (decision & 1).any():
            raise ForestError(f"{path}: categorical splits are not supported")
        feature[i, :k] = splits
        threshold[i, :k] = _numbers(b, "threshold", float)
        left[i, :k] = _numbers(b, "left_child", int)
        right[i, :k] = _numbers(b, "right_child", int)
        default_left[i, :k] = (decision & 2) > 0
        missing[i, :k] = (decision >> 2) & 3
        depth = max(depth, _depth(left[i, :k], right[i, :k]))
    return Forest(feature, threshold, left, right, default_left, missing, leaf, depth, sigmoid, n_features, offset)


def _depth(left: np.ndarray, right: np.ndarray, node: int = 0) -> int:
    """Levels of splits below `node` (1 for a node whose children are leaves)."""
    below = [_depth(left, right, int(c)) for c in (left[node], right[node]) if c >= 0]
    return 1 + max(below, default=0)

