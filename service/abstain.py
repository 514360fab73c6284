"""Knowing when no candidate answers: a question-level logistic model over the ranker's output.

The candidate ranker says how likely each piece is to hold the answer; whether the documents
answer the question at all is better told by the whole picture: how sure the best candidate
is and how far ahead of the next, how much of the question (IDF-weighted) the best candidate
and all retrieved passages leave out, whether it holds the asked-for answer type, and which
types the question asks for, and whether the question names what a document's title names but
the best candidate's whole document never mentions (`document_evidence`): a question about one
place, body or year answered from another's document. `ragqa train` fits
the weights on out-of-fold ranker output and picks the threshold on the probability of
"answerable" that keeps false refusals within budget.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold

from .answertypes import TYPES
from .candidates import FEATURES
from .question import QuestionProfile

_FROM_BEST = ("cov", "cov_ctx", "cov_passage", "missing_max", "bigram_cov", "type_fit", "year_state", "measure_state",
              "missing_all_max", "missing_all_share", "unseen_share", "n_terms", "is_question", "kw_norm", "keyword_rr")
DOCUMENT_FEATURES = ("doc_missing_titled_max",)
QUESTION_FEATURES = ("p1", "logit_p1", "p_gap", "p_sum_top5", "max_cov_any", "max_bigram_any", *_FROM_BEST, *tuple(f"q_{t}" for t in TYPES),
                     *DOCUMENT_FEATURES)  # fmt: skip
_COL = {name: i for i, name in enumerate(FEATURES)}


@lru_cache(maxsize=64)
def _searchable(doc_id: str, sha256: str, lines: tuple[str, ...]) -> str:
    """A document's whole text as questions are matched against it (folded); cached by version."""
    return fold("\n".join(lines))


def _titles(docs: Mapping[str, Document]) -> str:
    """Every title of `docs` (a reader's view), folded, one per line, read without any document's lines."""
    heads = getattr(docs, "heads", None)
    return _folded(tuple(h.title for h in heads.values()) if isinstance(heads, Mapping) else tuple(d.title for d in docs.values()))


@lru_cache(maxsize=16)
def _folded(titles: tuple[str, ...]) -> str:
    """`titles` folded, one per line: once per set of titles (an index, or a reader's view of it), not per question."""
    return fold("\n".join(titles))


def document_evidence(q: QuestionProfile, doc_id: str, docs: Mapping[str, Document]) -> np.ndarray:
    """`DOCUMENT_FEATURES` for the document `doc_id` the best candidate comes from: of the
    question's key terms that this whole document never mentions while a document title of the
    reader's view holds them (the question names a place, a body, a year or a document this one is
    not about), the largest weight share. Counting any term the document lacks helped as much out
    of fold on train but refused wrongly on held-out sets: the asker's own words (今年, 咱们) are
    in no document."""
    if not q.terms or doc_id not in docs:
        return np.zeros(len(DOCUMENT_FEATURES))
    doc = docs[doc_id]
    text = _searchable(doc.doc_id, doc.sha256, doc.lines)
    missing = {t: w / q.total for t, w in q.terms.items() if len(t) >= 2 and t not in text}
    titles = _titles(docs) if missing else ""
    return np.array([max((w for t, w in missing.items() if t in titles), default=0.0)])


def titled_evidence(q: QuestionProfile, doc_ids: Iterable[str], docs: Mapping[str, Document]) -> dict[str, float]:
    """`document_evidence` of each of `doc_ids` (its one value), for the candidates' `featurize`."""
    return {d: float(document_evidence(q, d, docs)[0]) for d in set(doc_ids)}


def question_features(probs: np.ndarray, features: np.ndarray, document: np.ndarray) -> np.ndarray:
    """The `QUESTION_FEATURES` vector of one question from its candidates' probabilities and
    features and its `document_evidence`."""
    if len(probs) == 0:
        return np.concatenate([np.zeros(len(QUESTION_FEATURES) - len(document)), document])
    order = np.argsort(-probs, kind="stable")
    p1 = float(probs[order[0]])
    p2 = float(probs[order[1]]) if len(order) > 1 else 0.0
    clipped = min(max(p1, 1e-6), 1 - 1e-6)
    best = features[order[0]]
    head = [p1, math.log(clipped / (1 - clipped)), p1 - p2, float(probs[order[:5]].sum()),
            float(features[:, _COL["cov"]].max()), float(features[:, _COL["bigram_cov"]].max())]
    return np.asarray(head + [float(best[_COL[n]]) for n in _FROM_BEST] + [float(best[_COL[f"q_{t}"]]) for t in TYPES] + [float(v) for v in document])


@dataclass(frozen=True)
class Abstainer:
    """Standardized logistic regression: P(the documents answer the question)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    bias: float
    threshold: float

    def probability(self, x: np.ndarray) -> float:
        z = float(((x - self.mean) / self.scale) @ self.coef + self.bias)
        return 1.0 / (1.0 + math.exp(-max(min(z, 30.0), -30.0)))

    def to_json(self) -> dict[str, object]:
        return {"features": list(QUESTION_FEATURES), "mean": self.mean.round(6).tolist(), "scale": self.scale.round(6).tolist(),
                "coef": self.coef.round(6).tolist(), "bias": round(self.bias, 6), "threshold": round(self.threshold, 6)}

    @classmethod
    def from_json(cls, d: dict[str, object]) -> Abstainer:
        def arr(key: str) -> np.ndarray:
            value = d[key]
            assert isinstance(value, list)
            return np.asarray(value, dtype=float)

        return cls(arr("mean"), arr("scale"), arr("coef"), float(str(d["bias"])), float(str(d["threshold"])))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 2000, rate: float = 0.1) -> Abstainer:
    """Fit by gradient descent on the mean log-loss plus `l2`/n times the squared weights
    (threshold left at 0.5; training picks the real one)."""
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    z = (x - mean) / scale
    w = np.zeros(z.shape[1])
    b = 0.0
    n = len(y)
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(z @ w + b, -30, 30)))
        grad = p - y
        w -= rate * (z.T @ grad / n + l2 * w / n)
        b -= rate * float(grad.mean())
    return Abstainer(mean, scale, w, b, 0.5)
