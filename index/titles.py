"""Documents a question names by their titles: a word of the question that only a few titles hold
(a place, a body, the name of a law) points at those documents.

Keyword and dense ranking read chunk texts; a question such as "丙市2025年地区生产总值是多少？"
names its document only by a word of the title, and another city's bulletin, whose chunks say
地区生产总值 more often, takes every place. `TitleIndex.named` finds the documents whose titles
hold a question word that at most `distinct` titles of the searched documents hold (found
inside the title's text, not among its words), scored by
the IDF (over titles) of the words they share; the searcher then ranks those documents' best
keyword chunks as one more list of its fusion. A word every title holds (a year, 条例, 报告)
names no document; in a corpus where a place names hundreds of documents it names none either.
Document frequencies are counted over the documents a reader may search, so a title a reader
cannot see changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ragqa.ingest.normalize import normalize_query

_NONE: tuple[int, ...] = ()


@dataclass(frozen=True)
class TitleIndex:
    """The titles of an index's documents (folded, by document position) and, for each character
    bigram, the documents whose titles hold it. A question word is looked for inside the titles,
    not among their words: jieba cuts "2025年丙市国民经济" as 年丙市 and "丙市2025年" as 丙市."""

    titles: Mapping[int, str]
    docs_by_bigram: Mapping[str, tuple[int, ...]]

    @classmethod
    def build(cls, titles: Mapping[int, str]) -> TitleIndex:
        """From document position -> title."""
        folded = {pos: normalize_query(title).lower() for pos, title in titles.items()}  # question words come lowercased
        found: dict[str, list[int]] = {}
        for pos, title in folded.items():
            for bigram in {title[i : i + 2] for i in range(len(title) - 1)}:
                found.setdefault(bigram, []).append(pos)
        return cls(folded, {b: tuple(sorted(p)) for b, p in found.items()})

    def holders(self, word: str) -> tuple[int, ...]:
        """The documents whose titles hold `word` (of two or more characters)."""
        if len(word) < 2:
            return _NONE
        first = self.docs_by_bigram.get(word[:2], _NONE)
        return first if len(word) == 2 else tuple(p for p in first if word in self.titles[p])

    def named(self, words: list[str], allowed: frozenset[int] | None, n_docs: int, distinct: int, limit: int) -> list[tuple[int, float]]:
        """(document position, score) of up to `limit` documents a question of key `words` names,
        best first: each word held by 1..`distinct` of the `allowed` documents' titles (all when
        None; `n_docs` of them) adds log(n_docs / titles holding it) to each of those documents."""
        if n_docs <= distinct:
            return []  # a corpus of a few documents: every title word is distinctive, none names one
        score: dict[int, float] = {}
        for word in sorted(set(words)):  # sorted: the same float sums whatever order a set yields
            holders = self.holders(word)
            if allowed is not None:
                holders = tuple(p for p in holders if p in allowed)
            if 0 < len(holders) <= distinct:
                weight = math.log(n_docs / len(holders))
                for pos in holders:
                    score[pos] = score.get(pos, 0.0) + weight
        return sorted(score.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def rest(self, words: list[str], pos: int) -> list[str]:
        """The question's key `words` that document `pos`'s title does not hold: what to look for
        inside the document once its title has matched the rest."""
        title = self.titles.get(pos, "")
        return [w for w in words if w not in title]


def best_chunks(kw_scores: np.ndarray, span: tuple[int, int] | np.ndarray, per_doc: int) -> list[int]:
    """The positions of a document's `per_doc` chunks with the highest positive keyword score,
    best first (ties by position); `span` is its chunks' (first position, count) or their positions."""
    positions = np.arange(span[0], span[0] + span[1]) if isinstance(span, tuple) else span
    if not len(positions):
        return []
    scores = kw_scores[positions]
    positive = scores > 0
    keep = positions[positive]
    order = np.lexsort((keep, -scores[positive]))[:per_doc]
    return [int(i) for i in keep[order]]
