"""Knowing when no candidate answers: a question-level logistic model over the ranker's output.

The candidate ranker says how likely each piece is to hold the answer; whether the documents
answer the question at all is better told by the whole picture: how sure the best candidate
is and how far ahead of the next, how much of the question (IDF-weighted) the best candidate
and all retrieved passages leave out, whether it holds the asked-for answer type, and which
types the question asks for, and whether the question names what a document's title names but
the best candidate's whole document never mentions (`document_evidence`): a question about one
place, body or year answered from another's document; and how much of the question, weighed by
how rare each word is in general Chinese (`background_idf`), that document never mentions
(`doc_missing_general`). `ragqa train` fits
the weights on out-of-fold ranker output and picks the threshold on the probability of
"answerable" that keeps false refusals within budget.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jieba
import numpy as np
from ragqa.ingest.model import Document
from ragqa.ingest.normalize import fold

from .answertypes import TYPES
from .candidates import FEATURES
from .question import QuestionProfile

_FROM_BEST = ("cov", "cov_ctx", "cov_passage", "missing_max", "bigram_cov", "type_fit", "year_state", "measure_state",
              "missing_all_max", "missing_all_share", "unseen_share", "n_terms", "is_question", "kw_norm", "keyword_rr")
DOCUMENT_FEATURES = ("doc_missing_titled_max", "doc_missing_general")
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


def _word_key(word: str) -> int:
    """A word's 64-bit key, the same in every process (Python's own str hash is not)."""
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


@dataclass(frozen=True)
class GeneralRarity:
    """How rare each word is in general Chinese, not in any one collection: the IDF table jieba
    ships for keyword extraction (jieba/analyse/idf.txt, about 270,000 words), and its median for
    a word it lacks. Kept as the words' sorted 64-bit keys beside their values (4 MB, not the
    40 MB of a dict of the words): a question looks up a handful of words."""

    keys: np.ndarray
    values: np.ndarray
    median: float

    def __getitem__(self, word: str) -> float:
        key = _word_key(word)
        at = int(np.searchsorted(self.keys, key))
        return float(self.values[at]) if at < len(self.keys) and self.keys[at] == key else self.median

    @classmethod
    def parse(cls, path: Path) -> GeneralRarity:
        """Read jieba's `word value` lines (about 0.5 s); no word is kept."""
        keyed, valued = array("q"), array("d")
        with path.open(encoding="utf-8") as f:
            for line in f:
                word, _, value = line.rstrip("\n").rpartition(" ")
                if word:
                    keyed.append(_word_key(word))
                    valued.append(float(value))
        keys, values = np.frombuffer(keyed, dtype=np.int64), np.frombuffer(valued, dtype=np.float64)
        order = np.argsort(keys, kind="stable")
        return cls(keys[order], values[order], float(np.median(values)) if len(values) else 1.0)


_rarity: GeneralRarity | None = None
_rarity_lock = threading.Lock()
RARITY_FORMAT = 1  # the key function and the arrays saved; a change renames the cache file


def background_idf(cache_dir: Path | None = None) -> GeneralRarity:
    """The `GeneralRarity` table, read once per process. With `cache_dir`, from the arrays saved
    there (a few milliseconds), which are written the first time and named by jieba's version,
    the table's size and mtime and RARITY_FORMAT; a file that cannot be read or does not hold a
    sorted table is parsed and written again."""
    global _rarity
    with _rarity_lock:
        if _rarity is None:
            _rarity = _load_rarity(cache_dir)
        return _rarity


def _load_rarity(cache_dir: Path | None) -> GeneralRarity:
    source = Path(jieba.__file__).parent / "analyse" / "idf.txt"
    if cache_dir is None:
        return GeneralRarity.parse(source)
    stat = source.stat()
    cached = cache_dir / f"general-idf-{jieba.__version__}-{stat.st_size}-{stat.st_mtime_ns}.v{RARITY_FORMAT}.npz"
    try:
        with np.load(cached, allow_pickle=False) as saved:
            keys, values, median = saved["keys"], saved["values"], float(saved["median"])
        if keys.dtype == np.int64 and values.dtype == np.float64 and keys.shape == values.shape and len(keys) and bool((keys[1:] > keys[:-1]).all()):
            return GeneralRarity(keys, values, median)
    except Exception:  # missing, or damaged in any way (BadZipFile, EOFError, TypeError …): parsed and written again
        pass
    table = GeneralRarity.parse(source)
    partial: str | None = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, partial = tempfile.mkstemp(dir=cache_dir, prefix=cached.name, suffix=".tmp")
        with os.fdopen(handle, "wb") as f:
            np.savez(f, keys=table.keys, values=table.values, median=np.float64(table.median))
        os.replace(partial, cached)
        partial = None
    except OSError:
        pass  # a read-only cache folder or a full disk: parsed again next start
    finally:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)
    return table


def _lacking(q: QuestionProfile, doc: Document) -> dict[str, float]:
    """The question's key terms (two characters or more) that the whole of `doc` never mentions,
    with their shares of the question's weight. Kept in the question's memo (by the document's
    version): the rerank, the candidates and the abstainer of one request ask it of the same
    documents, and a long document takes about a millisecond to scan."""
    key = f"\0lacking\0{doc.doc_id}\0{doc.sha256}"  # no candidate sentence, the memo's other keys, holds a NUL
    found: dict[str, float] | None = q.memo.get(key)
    if found is None:
        text = _searchable(doc.doc_id, doc.sha256, doc.lines)
        found = q.memo[key] = {t: w / q.total for t, w in q.terms.items() if len(t) >= 2 and t not in text}
    return found


def _titled(q: QuestionProfile, lacking: Mapping[str, float], docs: Mapping[str, Document]) -> float:
    """The largest share of the `lacking` terms that a document title of the reader's view holds."""
    titles = _titles(docs) if lacking else ""
    return max((w for t, w in lacking.items() if t in titles), default=0.0)


def document_evidence(q: QuestionProfile, doc_id: str, docs: Mapping[str, Document]) -> np.ndarray:
    """`DOCUMENT_FEATURES` for the document `doc_id` the best candidate comes from.

    - doc_missing_titled_max: of the question's key terms that this whole document never
      mentions while a document title of the reader's view holds them (the question names a
      place, a body, a year or a document this one is not about), the largest weight share.
    - doc_missing_general: the share of the question's key terms (two characters or more), each
      weighed by its general rarity (`background_idf`), that this whole document never mentions.
      Weighed by the collection's own IDF instead, the same count refused wrongly on held-out
      sets: the asker's own words (今年, 咱们) are in no document, and in a collection of a few
      documents every word they lack is unseen and weighs the most. General rarity weighs a
      word alike in a collection of 5 documents and of 300. A word jieba's table lacks (a year,
      a figure, a name, a slip) weighs the table's median, as a rare word does."""
    if not q.terms or doc_id not in docs:
        return np.zeros(len(DOCUMENT_FEATURES))
    lacking = _lacking(q, docs[doc_id])
    rarity = background_idf()
    general = {t: rarity[t] for t in q.terms if len(t) >= 2}
    share = math.fsum(w for t, w in general.items() if t in lacking) / (math.fsum(general.values()) or 1.0)
    return np.array([_titled(q, lacking, docs), share])


def titled_evidence(q: QuestionProfile, doc_ids: Iterable[str], docs: Mapping[str, Document]) -> dict[str, float]:
    """doc_missing_titled_max (`document_evidence`'s first value) of each of `doc_ids`, for the
    candidates' `featurize`."""
    if not q.terms:
        return dict.fromkeys(set(doc_ids), 0.0)
    return {d: _titled(q, _lacking(q, docs[d]), docs) if d in docs else 0.0 for d in set(doc_ids)}


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
