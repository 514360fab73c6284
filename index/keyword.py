"""Keyword search: BM25 (Lucene, as bm25s computes it) over jieba tokens of the Simplified matching text.

Tokens come from `jieba.lcut_for_search`, which adds the short words inside long compounds
(地区生产总值 -> 地区, 生产, 总值, 生产总值 …), so a question phrased with part of a term still
matches. Punctuation and a short list of function and question words are dropped. The answerer
weighs question words by their document frequencies, read off the postings (index/postings.py).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import jieba
import numpy as np

from . import jiebadict
from .postings import COUNTS, EMPTY, ColumnFrequencies, Postings, read_vocab

if TYPE_CHECKING:
    from .bm25 import TermCounts

STOPWORDS = frozenset(
    ["的", "了", "和", "与", "及", "或", "是", "在", "为", "对", "等", "将", "把", "被", "于", "以", "之", "其", "这", "那", "也", "都", "就", "并", "而", "由", "从", "向", "到", "中", "上", "下", "个", "各", "要", "有", "年", "今年", "什么", "哪些", "哪个", "哪家", "哪位", "哪", "谁", "多少", "几", "怎么", "怎样", "如何", "是否", "吗", "呢", "吧", "啊", "分别", "一下", "请问", "请", "问", "里", "里面", "方面", "这些", "那些", "一个", "还", "给", "让", "说", "提", "提出", "叫", "是什么", "什么样", "怎么样", "哪一条", "哪条", "一条", "属于", "归", "被", "哪天", "日期", "时间", "节点", "时间节点", "何时", "具体", "大概", "大约", "怎么", "要求", "多久"]
)
# The interrogative frame of a question ("哪几个", "哪一年", "多少", "什么时候" …): not search terms.
_FRAME = re.compile(
    r"哪[一二三四五六七八九十两几]*[个年天些位家项条所部种类大批]?|(?<![0-9一二三四五六七八九十])几[个项家所条种类批]"
    r"|(?:达到|达)?多少钱?|什么(?:时候|时间|样)?|何时|如何|怎么样?|是否|请问|最多|最少|最高|最低|至少|多久|多长时间?"
)
# "多少家规上企业": the measure word stays a term of its own instead of gluing onto 规 (家规).
_HOW_MANY = re.compile(r"(?:达到|达)?多少([家个项所条张套宗名户辆座台件次批株栋间床倍亩])")
_KEEP = re.compile(r"[\w%.\-+]+")

_jieba_ready = False


def configure_jieba(cache_dir: Path | None) -> None:
    """Load jieba's dictionary now, silencing its start-up log. With `cache_dir` (created), its
    caches live there and the part-of-speech tagger (`jieba.posseg`) is loaded too, both from
    the quick tables of index/jiebadict.py; without, jieba loads its own way and the tagger on
    first use."""
    global _jieba_ready
    jieba.setLogLevel(logging.WARNING)
    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
        jieba.dt.tmp_dir = str(cache_dir)
    if not _jieba_ready:
        if cache_dir is None:
            jieba.initialize()
        else:
            jiebadict.install(cache_dir)
        _jieba_ready = True


def strip_frame(question: str) -> str:
    """`question` with its interrogative words blanked out (哪三个, 几个, 哪一年, 多少 …)."""
    return _FRAME.sub(" ", _HOW_MANY.sub(r" \1 ", question))


def tokenize(text: str) -> list[str]:
    """Search tokens of Simplified matching text: jieba search-mode words minus stopwords."""
    if not _jieba_ready:
        configure_jieba(None)
    out: list[str] = []
    for tok in jieba.lcut_for_search(text):
        tok = tok.strip().lower()
        if tok and _KEEP.fullmatch(tok) and tok not in STOPWORDS and not (len(tok) == 1 and tok.isascii()):
            out.append(tok)
    return out


class KeywordIndex:
    """BM25 over tokenised chunks, plus document frequencies for weighting question words."""

    def __init__(self, postings: Postings, df: Mapping[str, int], n_docs: int) -> None:
        self.postings = postings
        self.df = df
        self.n_docs = n_docs
        self._counts: TermCounts | None = None  # kept from `build` until saved

    @classmethod
    def build(cls, texts: Iterable[str], known: Mapping[str, list[str]] | None = None) -> KeywordIndex:
        """BM25 over `texts`; `known` maps texts already tokenised (by the live index) to their
        tokens, so a rebuild after an upload tokenises only the new chunks. Each text is counted
        as it is tokenised, so `texts` may be a generator and no chunk's tokens outlive it."""
        from .bm25 import TermCounts  # scipy: only builds need it

        known = known or {}
        return cls.of_counts(TermCounts.from_tokens(known[t] if t in known else (tokenize(t) or [EMPTY]) for t in texts))

    @classmethod
    def of_counts(cls, counts: TermCounts) -> KeywordIndex:
        """BM25 over chunks' term counts (index/bm25.py)."""
        from .bm25 import postings

        scored = postings(counts)
        built = cls(scored, ColumnFrequencies(scored), scored.n_docs)
        built._counts = counts
        return built

    @staticmethod
    def read_counts(folder: Path) -> TermCounts | None:
        """The term counts saved beside the BM25 files (None for an index from before them)."""
        from .bm25 import TermCounts

        return TermCounts.load(folder, read_vocab(folder / "bm25")) if (folder / COUNTS).exists() else None

    @staticmethod
    def read_tokens(folder: Path) -> list[list[str]] | None:
        """The tokens of every chunk as saved beside the BM25 files (None for older indexes)."""
        counts = KeywordIndex.read_counts(folder)
        if counts is not None:
            return counts.tokens()
        path = folder / "tokens.jsonl"  # an index from before the counts
        if not path.exists():
            return None
        with path.open(encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    def idf(self, token: str) -> float:
        """Smoothed inverse document frequency; unseen tokens get the highest weight."""
        return math.log(1.0 + (self.n_docs + 1) / (self.df.get(token, 0) + 0.5))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (Simplified matching text)."""
        return self.token_scores(tokenize(query))

    def token_scores(self, tokens: list[str], weights: list[float] | None = None) -> np.ndarray:
        """BM25 score of every chunk for a query already tokenised as `tokens` (each token's
        scores times its weight, when `weights` are given)."""
        if weights is None:
            return self.postings.scores(self.postings.ids([t for t in tokens if t in self.df]))
        kept = [(t, w) for t, w in zip(tokens, weights, strict=True) if t in self.df and t in self.postings.vocab]
        return self.postings.scores(self.postings.ids([t for t, _ in kept]), [w for _, w in kept])

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.postings.save(folder / "bm25")
        if self._counts is not None:
            self._counts.save(folder)

    @classmethod
    def load(cls, folder: Path) -> KeywordIndex:
        """The index `save` wrote. The BM25 matrix is memory-mapped, not read: a query touches the
        postings of its own tokens only, and the pages stay the kernel's to drop."""
        postings = Postings.load(folder / "bm25")
        return cls(postings, ColumnFrequencies(postings), postings.n_docs)
