"""How necessary each key term of a question is: the learned chance that the lines answering it hold the term.

A question's terms are weighed by IDF (`question.profile_question`), and IDF says the opposite of
what the answer step needs about the asker's own words: a rare or unseen word (a colloquial
word, a paraphrase) is the least likely of all to be in the answering line, while a common
document word of the question usually is. On the train split IDF ranks a term's presence in
the gold line worse than chance (AUC 0.43 out of fold by document); a small model over generic
facts of the term reaches 0.67 (README, session 33). With a necessity model saved beside the answer
model (`ragqa train --necessity`), each term's weight is its IDF times that chance, so coverage and
the missing-term features count what an answer must hold, not what is rare. The shipped model
does not use one: so weighed (N), it answered a few more held-out questions but refused fewer
unanswerable ones, and it failed the test split's refusal floor (README, look 120).

The facts (`FEATURES`) are the term's rarity (its IDF scaled to the range of the question's terms,
its rank among them, and the share of the index's chunks that hold it), its length, whether it is
one character, holds a digit, or was never seen in the index, whether it is next to the question's
frame word, its order among the question's terms and where it starts in the question, and how
many terms the question has. No word list: the same model reads any corpus.
`python -m ragqa.eval.term_necessity` learns it (a small LightGBM classifier, read here with numpy
through `trees.Forest`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ragqa.index.keyword import KeywordIndex

from .trees import Forest, ForestError, load_forest

FEATURES = ("idf_scaled", "idf_rank", "log_df_share", "length", "single", "digit", "unseen", "near_frame", "order", "offset", "n_terms")
FILE = "necessity.txt"


class NecessityError(ValueError):
    """The necessity model cannot be read."""


def term_features(text: str, terms: Mapping[str, float], keyword: KeywordIndex, near_frame: frozenset[str]) -> np.ndarray:
    """One row of `FEATURES` per term of `terms` (in its order), for the question `text` (normalized).
    Rarity is read within the question (IDF scaled to its terms' range, and its rank among them)
    and as the share of the index's chunks holding the term, so that the model learned on a large
    corpus reads a small one alike: raw IDF grows with the number of chunks."""
    n = len(terms)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    idf = np.array([keyword.idf(t) for t in terms], dtype=np.float64)
    low, span = idf.min(), float(idf.max() - idf.min()) or 1.0
    rank = idf.argsort(kind="stable").argsort(kind="stable") / max(n - 1, 1)
    rows = []
    for i, term in enumerate(terms):
        df = keyword.df.get(term, 0)
        at = text.find(term)
        rows.append([(idf[i] - low) / span, rank[i], math.log((df + 1) / (keyword.n_docs + 1)), float(len(term)), float(len(term) == 1),
                     float(any(c.isdigit() for c in term)), float(df == 0), float(term in near_frame), i / max(n - 1, 1),
                     max(at, 0) / max(len(text), 1), float(n)])
    return np.asarray(rows, dtype=np.float64)


@dataclass(frozen=True)
class Necessity:
    """The learned chance that a question term is in the answering lines."""

    forest: Forest
    sha256: str
    path: Path  # the file it was read from (`ragqa train` saves it beside the ranker)

    def of(self, text: str, terms: Mapping[str, float], keyword: KeywordIndex, near_frame: frozenset[str]) -> dict[str, float]:
        """Each term's chance (0–1), by term."""
        if not terms:
            return {}
        chances = self.forest.predict(term_features(text, terms, keyword, near_frame))
        return {t: float(p) for t, p in zip(terms, chances, strict=True)}


def load_necessity(path: Path) -> Necessity:
    """The model at `path` (LightGBM text, binary objective, over `FEATURES`)."""
    try:
        forest = load_forest(path)
    except (OSError, ForestError, KeyError, ValueError) as exc:
        raise NecessityError(f"{path}: not a necessity model ({exc}); learn it with 'python -m ragqa.eval.term_necessity'") from None
    if forest.n_features != len(FEATURES):
        raise NecessityError(f"{path}: {forest.n_features} features, this code computes {len(FEATURES)}; "
                             "learn it again with 'python -m ragqa.eval.term_necessity'")
    return Necessity(forest, hashlib.sha256(path.read_bytes()).hexdigest(), path)
