"""Learn the term-necessity model (service/necessity.py) from gold questions and the lines that answer them.

Every key term of every answerable item's question (as `profile_question` finds them) is one
example: its facts (`necessity.FEATURES`: rarity within the question and in the index, length,
digit, unseen, next to the frame word, order, place in the question, the question's number of
terms) and whether
the item's gold lines hold it. A small LightGBM classifier (few leaves, many examples per leaf, so
that it learns kinds of terms and cannot single out one word by its exact document frequency) is
fitted on all of them and saved in LightGBM's text format, which the service reads with numpy.

`--check` prints the out-of-fold AUC (the items of one fifth of the documents scored by a model
fitted on the rest) of the model and of the IDF weight alone.

  python -m ragqa.eval.term_necessity --gold eval/gold/train.jsonl=.ragqa/corpora --out .ragqa/necessity.txt --check
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from ragqa.index.keyword import KeywordIndex, configure_jieba
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold
from ragqa.service.necessity import FEATURES, term_features
from ragqa.service.question import profile_question
from ragqa.service.settings import Settings

from .errors import EvalError
from .goldset import GoldItem
from .term_assoc import FOLDS, fold_of, gold_on_index, learner_parser

PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 500, "lambda_l2": 1.0,
          "verbose": -1, "num_threads": 2, "seed": 7, "deterministic": True, "force_col_wise": True}
ROUNDS = 100


def examples(items: Sequence[GoldItem], docs: dict[str, Document], keyword: KeywordIndex) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows of `FEATURES`, labels (the gold lines hold the term) and each row's document."""
    rows: list[np.ndarray] = []
    labels: list[float] = []
    where: list[str] = []
    for it in items:
        refs = [r for r in it.refs if r.doc in docs]
        if not it.answerable or not refs:
            continue
        answering = fold(" ".join(" ".join(docs[r.doc].lines[r.start_line - 1 : r.end_line]) for r in refs))
        q = profile_question(it.question, keyword)
        if not q.terms:
            continue
        rows.append(term_features(q.text, q.terms, keyword, q.near_frame))
        labels += [float(t in answering) for t in q.terms]
        where += [refs[0].doc] * len(q.terms)
    if not rows:
        return np.zeros((0, len(FEATURES))), np.zeros(0), []
    return np.vstack(rows), np.asarray(labels), where


def fit(x: np.ndarray, y: np.ndarray) -> Any:
    import lightgbm as lgb  # only when learning: the service reads the saved trees with numpy

    return lgb.train(PARAMS, lgb.Dataset(x, y, feature_name=list(FEATURES)), num_boost_round=ROUNDS)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score))


def check(x: np.ndarray, y: np.ndarray, where: Sequence[str]) -> tuple[float, float]:
    """Out-of-fold AUC by document of the model, and the AUC of the IDF weight alone."""
    folds = np.array([fold_of(d) for d in where])
    oof = np.zeros(len(y))
    for k in range(FOLDS):
        held = folds == k
        if held.any() and (~held).any():
            oof[held] = fit(x[~held], y[~held]).predict(x[held])
    rarity = -x[:, FEATURES.index("log_df_share")] * np.where(x[:, FEATURES.index("single")] > 0, 0.5, 1.0)  # the IDF weight's order
    return _auc(y, oof), _auc(y, rarity)


def main(argv: Sequence[str] | None = None) -> int:
    p = learner_parser("python -m ragqa.eval.term_necessity", __doc__ or "")
    p.add_argument("--out", type=Path, required=True, help="where the model goes (LightGBM text); `ragqa train --necessity` takes it")
    p.add_argument("--check", action="store_true", help="also print the out-of-fold AUC by document, against IDF alone")
    args = p.parse_args(argv)
    settings = Settings()
    configure_jieba(settings.cache_dir / "jieba")
    parts: list[tuple[np.ndarray, np.ndarray, list[str]]] = []
    try:
        for gold, index_dir in args.gold:
            items, index, _ = gold_on_index(gold, index_dir, settings)
            found = examples(items, dict(index.documents.items()), index.keyword)
            print(f"term_necessity: {gold}: {len(found[1])} question terms on {index_dir}", file=sys.stderr)
            parts.append(found)
    except EvalError as e:
        print(f"term_necessity: {e}", file=sys.stderr)
        return 2
    x = np.vstack([part[0] for part in parts])
    y = np.concatenate([part[1] for part in parts])
    where = [d for part in parts for d in part[2]]
    if len(y) == 0 or y.min() == y.max():
        print("term_necessity: the gold sets give no answerable item with both kinds of term", file=sys.stderr)
        return 2
    if args.check:
        model_auc, idf_auc = check(x, y, where)
        print(f"term_necessity: out of fold by document, AUC {model_auc:.3f} (IDF weight alone {idf_auc:.3f}) "
              f"over {len(y)} terms, {y.mean():.3f} of them in the gold lines", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fit(x, y).save_model(str(args.out))
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"term_necessity: saved {args.out} ({len(y)} terms; sha256 {digest[:12]})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
