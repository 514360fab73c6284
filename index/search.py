"""Hybrid search: keyword (BM25) and dense (the vector store: FAISS or Milvus) candidates, fused by weighted reciprocal rank.

fused(c) = w_kw / (k + rank_kw(c)) + w_dense / (k + rank_dense(c))   (rank 1-based; absent = 0)

The `candidates` best by `fused` are then ranked once more: by the question's character bigrams
each holds (in its text and title), each bigram weighted by how few of these candidates hold it,
and the two orders fused the same way (final = 1 / (k + rank_fused) + w_bigram / (k + rank_bigram)).
Word segmentation can split a question and a clause differently (a word jieba keeps whole in one
and cuts in the other); bigrams do not depend on it, and weighting them within the candidates
makes the ones every candidate shares (the document's place and year) count for nothing.

BM25 over clause chunks is the stronger signal on these documents; dense retrieval earns its
place on paraphrases (colloquial questions whose words the documents do not use), so it gets a
lower weight, 0.6 (chosen on train, judged on unseen sets: README).
Each hit keeps both raw scores, which the answerer uses as evidence for refusing.

`Searcher.restricted(docs)` searches as if the index held only `docs` (access control,
docs/access.md): both candidate lists are drawn from their chunks only, before ranking, never
by over-fetching and filtering. BM25 scores are masked and re-weighted with IDF counted over the
allowed chunks (`AllowedKeywords`); the vector store searches only the allowed documents' rows
(FAISS: an ID selector; Milvus: a `doc in [...]` expression), also before ranking.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, replace

import numpy as np
from ragqa.ingest.model import Chunk
from ragqa.ingest.normalize import normalize_query

from .embedders import Embedder, Matrix
from .expansion import Expansions
from .keyword import KeywordIndex, strip_frame, tokenize
from .store import LoadedIndex
from .titles import TitleIndex, best_chunks

# Stands in for a chunk a restricted view may not show, so chunk ids (dense and BM25 rows) stay positions.
HIDDEN = Chunk(doc_id="", start_line=0, end_line=0, clause_path=(), text="", match_text="", kind="hidden")


TIE = 1e-6  # dense scores closer than this rank as equal: by chunk position


def top_positions(scores: np.ndarray, k: int) -> list[int]:
    """The positions of the `k` highest positive `scores`, best first, ties by position: what a
    stable sort of the whole array would give, but by partial selection (np.partition over
    the positive scores), so a query costs O(n) and a sort of `k`, never a sort of every chunk."""
    if k <= 0:
        return []
    found = np.flatnonzero(scores > 0)
    if len(found) > k:
        values = scores[found]
        kth = np.partition(values, len(values) - k)[len(values) - k]
        above = found[values > kth]
        found = np.concatenate([above, found[values == kth][: k - len(above)]])
    order = np.lexsort((found, -scores[found]))
    return [int(i) for i in found[order]]


def _untied(scores: np.ndarray, positions: np.ndarray) -> list[tuple[float, int]]:
    """(score, position) of the dense candidates, best first, with scores within TIE of the next
    ordered by chunk position: FAISS and Milvus (or two CPUs) sum floats in different orders, so
    equal vectors may score a last bit apart, and they must still rank alike."""
    found = positions >= 0
    order = np.argsort(-scores[found], kind="stable")
    ranked, places = scores[found][order], positions[found][order]
    runs = np.concatenate(([0], np.cumsum(ranked[:-1] - ranked[1:] > TIE))) if len(ranked) else ranked
    final = np.lexsort((places, runs))
    return list(zip(ranked[final].tolist(), places[final].tolist(), strict=True))


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its fused score and the two scores it came from."""

    chunk: Chunk
    score: float
    keyword_score: float
    dense_score: float
    keyword_rank: int | None
    dense_rank: int | None
    position: int = -1  # the chunk's id in the index searched (-1: not from an index)


@dataclass(frozen=True)
class FusionConfig:
    keyword_weight: float = 1.0
    dense_weight: float = 0.6
    rrf_k: int = 5
    candidates: int = 50
    bigram_weight: float = 1.0
    title_weight: float = 0.3  # the list of chunks from the documents the question names by title (index/titles.py); 0: off
    title_distinct: int = 2  # a title word names documents when at most this many titles hold it
    title_docs: int = 3  # documents named at most
    title_chunks: int = 8  # best keyword chunks taken from each
    expansion_weight: float = 1.5  # learned query expansion (index/expansion.py): weight × P of each added word; 0: off

    def __post_init__(self) -> None:
        if self.keyword_weight < 0 or self.dense_weight < 0 or self.keyword_weight + self.dense_weight == 0:
            raise ValueError("fusion weights must be >= 0 and not both 0")
        if self.bigram_weight < 0 or self.title_weight < 0 or self.expansion_weight < 0:
            raise ValueError("bigram_weight, title_weight and expansion_weight must be >= 0")
        if min(self.title_distinct, self.title_docs, self.title_chunks) < 1:
            raise ValueError("title_distinct, title_docs and title_chunks must be >= 1")
        if self.rrf_k < 1 or self.candidates < 1:
            raise ValueError("rrf_k and candidates must be >= 1")


def _lucene_idf(df: np.ndarray, n: int) -> np.ndarray:
    """bm25s's Lucene IDF, log(1 + (N - df + 0.5) / (df + 0.5)), for an array of frequencies."""
    return np.log1p((n - df + 0.5) / (df + 0.5))


class AllowedKeywords(KeywordIndex):
    """The BM25 index of `full` as an index of only the chunks `mask` allows would score: other
    chunks score 0, and document frequencies and IDF are counted over the allowed chunks, so a
    forbidden chunk's words change neither a weight nor a rank. The one statistic left
    corpus-wide is the average chunk length of BM25's length norm.

    Built once per view in O(postings) numpy work plus one dict of the allowed vocabulary; a
    query costs what a full one does (the postings of its tokens)."""

    def __init__(self, full: KeywordIndex, mask: np.ndarray) -> None:
        postings = full.postings
        self._indptr: np.ndarray = postings.indptr
        self._vocab: dict[str, int] = postings.vocab
        self.mask = mask
        seen = np.concatenate(([0], np.cumsum(mask[postings.indices], dtype=np.int64)))
        self._df_ids = seen[self._indptr[1:]] - seen[self._indptr[:-1]]
        df = {tok: int(self._df_ids[i]) for tok, i in self._vocab.items() if tok and self._df_ids[i]}
        super().__init__(postings, df, int(mask.sum()))
        self._full_n = full.n_docs

    def token_scores(self, tokens: list[str], weights: list[float] | None = None) -> np.ndarray:
        """BM25 score of every chunk of the full index for `tokens` (times `weights`, when
        given); 0 for chunks not allowed."""
        given = [1.0] * len(tokens) if weights is None else weights
        kept = [(self._vocab[t], w) for t, w in zip(tokens, given, strict=True) if t in self.df]
        ids = np.asarray([i for i, _ in kept], dtype=np.int64)
        if not len(ids):
            return np.zeros(len(self.mask), dtype=np.float32)
        full_df = (self._indptr[ids + 1] - self._indptr[ids]).astype(np.float64)
        idf = _lucene_idf(self._df_ids[ids].astype(np.float64), self.n_docs) / _lucene_idf(full_df, self._full_n)
        out = self.postings.scores(ids.tolist(), (idf * np.asarray([w for _, w in kept])).tolist())
        out[~self.mask] = 0.0
        return out


class Searcher:
    """Searches one loaded index with one embedder (the one it was built with); with `docs`,
    only their chunks (`allowed`: the mask of them over chunk ids), as `restricted` makes it."""

    def __init__(
        self,
        index: LoadedIndex,
        embedder: Embedder,
        fusion: FusionConfig | None = None,
        allowed: np.ndarray | None = None,
        docs: frozenset[str] | None = None,
        titles: _Titles | None = None,
        expansions: Expansions | None = None,
    ) -> None:
        self.index = index
        self.expansions = expansions
        self.embedder = embedder
        self.fusion = fusion or FusionConfig()
        self.allowed = allowed
        self.docs = docs
        self._allowed_count = len(index.chunks) if allowed is None else int(allowed.sum())
        self._titles = titles or _Titles(index)
        heads = index.documents.heads
        self._doc_positions = None if docs is None else frozenset(heads[d].pos for d in docs if d in heads)

    def warm(self) -> None:
        """Read the titles and each document's chunk span now (one pass over the chunk table:
        about 16 ms per 14,000 chunks here), not on the first question that names a document."""
        if self.fusion.title_weight > 0:
            self._titles.index  # noqa: B018 -- built on first use

    def restricted(self, docs: frozenset[str]) -> Searcher:
        """A searcher over a view of this index that holds only `docs`: their documents, records
        and chunk texts (other chunks are `HIDDEN`, keeping ids), searched as described above.
        The view shares the vectors, the BM25 matrix and the text store."""
        full = self.index
        mask = full.chunks.doc_mask(docs)
        kept = full.documents.restricted(docs)
        manifest = dict(full.manifest)
        for key in ("corpus", "groups"):
            value = manifest.get(key)
            if isinstance(value, dict):
                manifest[key] = {d: v for d, v in value.items() if d in kept}
        manifest.update(documents=len(kept), chunks=int(mask.sum()))
        view = replace(
            full,
            manifest=manifest,
            documents=kept,
            chunks=full.chunks.restricted(mask, HIDDEN),
            keyword=AllowedKeywords(full.keyword, mask),
            records=full.records.restricted(frozenset(kept)),
        )
        return Searcher(view, self.embedder, self.fusion, mask, frozenset(kept), self._titles, self.expansions)

    def _dense(self, query: Matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk positions) of the nearest rows; positions are -1 where no chunk of
        this index has the row."""
        scores, ids = self.index.dense.search(query, min(k, self._allowed_count), docs=self.docs)
        return scores, self.index.positions(ids)

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """The `top_k` best chunks for `query` (either script), best first."""
        if self._allowed_count == 0 or not query.strip():
            return []
        text = normalize_query(query)
        cfg = self.fusion
        words = tokenize(strip_frame(text))
        kw_scores = self.index.keyword.token_scores(words)
        ranking = self._expanded(words, kw_scores)
        kw_order = top_positions(ranking, cfg.candidates)
        dense_scores: dict[int, float] = {}
        dense_order: list[int] = []
        if cfg.dense_weight > 0:
            scores, ids = self._dense(self.embedder.encode([text]), cfg.candidates)
            for s, i in _untied(scores[0], ids[0]):
                dense_scores[i] = s
                dense_order.append(i)
        kw_rank = {cid: r for r, cid in enumerate(kw_order, start=1)}
        # what a hit reports is its rank by the question's own words, as its keyword score is
        own_rank = kw_rank if ranking is kw_scores else {cid: r for r, cid in enumerate(top_positions(kw_scores, cfg.candidates), start=1)}
        dense_rank = {cid: r for r, cid in enumerate(dense_order, start=1)}
        fused: dict[int, float] = {}
        for cid, r in kw_rank.items():
            fused[cid] = fused.get(cid, 0.0) + cfg.keyword_weight / (cfg.rrf_k + r)
        for cid, r in dense_rank.items():
            fused[cid] = fused.get(cid, 0.0) + cfg.dense_weight / (cfg.rrf_k + r)
        self._add_named(fused, words, ranking)
        ranked = sorted(fused, key=lambda c: (-fused[c], c))
        if cfg.bigram_weight > 0 and len(ranked) > 1:
            pool = ranked[: max(cfg.candidates, top_k)]
            read = dict(zip(pool, self.index.chunks.many(pool), strict=True))
            final = _by_bigrams(text, pool, list(read.values()), cfg)
            place = {c: i for i, c in enumerate(pool)}
            best = sorted(pool, key=lambda c: (-final[c], place[c]))[:top_k]  # ties: the fused order
            chunks = [read[c] for c in best]
        else:
            final, best = fused, ranked[:top_k]
            chunks = self.index.chunks.many(best)
        return [
            Hit(
                chunk=chunk,
                score=round(final[c], 6),
                keyword_score=float(kw_scores[c]),
                dense_score=float(dense_scores.get(c, 0.0)),
                keyword_rank=own_rank.get(c),
                dense_rank=dense_rank.get(c),
                position=c,
            )
            for c, chunk in zip(best, chunks, strict=True)
        ]

    def _expanded(self, words: list[str], kw_scores: np.ndarray) -> np.ndarray:
        """`kw_scores` plus the BM25 scores of the learned expansions of `words` (index/expansion.py),
        each weighted `expansion_weight` × P: the keyword ranking; `kw_scores` itself without them.
        The answer model reads each hit's keyword score and rank as evidence; both stay the
        question's own, as the model was trained with them."""
        weight = self.fusion.expansion_weight
        extra = self.expansions.extra(words) if self.expansions is not None and weight > 0 else {}
        if not extra:
            return kw_scores
        added = self.index.keyword.token_scores(list(extra), [weight * p for p in extra.values()])
        return np.asarray(kw_scores + added, dtype=np.float32)

    def _add_named(self, fused: dict[int, float], words: list[str], kw_scores: np.ndarray) -> None:
        """Fuse the chunks of the documents the question names by title (`_named_chunks`) into
        `fused` as one more ranked list. A named document the chunk texts lost comes back; inside
        one they found, the chunk that holds the rest of the question moves up."""
        cfg = self.fusion
        if cfg.title_weight <= 0 or not fused:
            return
        named = self._named_chunks(words, kw_scores)
        for r, cid in enumerate((c for chunks in named.values() for c in chunks), start=1):
            fused[cid] = fused.get(cid, 0.0) + cfg.title_weight / (cfg.rrf_k + r)

    def _named_chunks(self, words: list[str], kw_scores: np.ndarray) -> dict[int, list[int]]:
        """Document position -> chunks, of the documents a question of key `words` names by title,
        the best-named first; each document's chunks best first by the keyword score of the
        question's words its title does not hold."""
        cfg = self.fusion
        n_docs = len(self.index.documents) if self._doc_positions is None else len(self._doc_positions)
        titles = self._titles.index
        out: dict[int, list[int]] = {}
        scored: dict[tuple[str, ...], np.ndarray] = {}
        for pos, _ in titles.named(words, self._doc_positions, n_docs, cfg.title_distinct, cfg.title_docs):
            rest = tuple(titles.rest(words, pos))
            if rest and rest not in scored:
                scored[rest] = self.index.keyword.token_scores(list(rest))
            span = self._titles.span(pos)
            # the question's own score when the title holds every word, or the rest is in no chunk of it
            found = best_chunks(scored[rest], span, cfg.title_chunks) if rest else []
            out[pos] = found or best_chunks(kw_scores, span, cfg.title_chunks)
        return out


class _Titles:
    """An index's `TitleIndex` and each document's chunk positions, built on first use and shared
    by every reader's view of the index."""

    def __init__(self, index: LoadedIndex) -> None:
        self._index = index
        self._lock = threading.Lock()
        self._built: TitleIndex | None = None
        self._ranges: dict[int, tuple[int, int]] | None = None
        self._chunk_docs: np.ndarray | None = None

    @property
    def index(self) -> TitleIndex:
        """Built once (under a lock: two first questions at once read the chunk table once); after
        that, read without taking the lock."""
        if self._built is None:
            with self._lock:
                if self._built is None:
                    store = self._index.chunks.store
                    self._ranges = store.ranges("chunks")
                    if self._ranges is None:
                        self._chunk_docs = store.chunk_docs
                    # a document without chunks has nothing to bring back, and its title would count against the others'
                    self._built = TitleIndex.build({h.pos: h.title for h in self._index.documents.heads.values() if h.chunks})
        return self._built

    def span(self, pos: int) -> tuple[int, int] | np.ndarray:
        """Document `pos`'s chunks: (first position, count) when they are one run, else their positions."""
        if self._ranges is not None:
            return self._ranges.get(pos, (0, 0))
        assert self._chunk_docs is not None
        return np.flatnonzero(self._chunk_docs == pos)


_NOT_WORD = re.compile(r"[^\w]+")


def _bigrams(text: str) -> set[str]:
    """The character bigrams of `text`'s word characters, not across punctuation or spaces."""
    return {run[i : i + 2] for run in _NOT_WORD.split(text) for i in range(len(run) - 1)}


def _held(asked: set[str], text: str) -> set[str]:
    """`_bigrams(text) & asked`, without building every bigram of `text`: a bigram of two word
    characters occurs in a text only inside one of its word runs (a third of a search's time)."""
    return {g for g in asked if g in text}


def _by_bigrams(question: str, pool: list[int], chunks: list[Chunk], cfg: FusionConfig) -> dict[int, float]:
    """`pool` (chunk positions, best first) scored by its fused rank and its rank by the question's
    bigrams, each weighted by its IDF among the pool's chunks (text and title)."""
    asked = _bigrams(question)
    held = [_held(asked, c.match_text + " " + c.context.split("\n", 1)[0]) for c in chunks]
    n = len(pool)
    idf = {g: math.log((n + 1) / (sum(g in h for h in held) + 0.5)) for g in asked}
    weight = [math.fsum(idf[g] for g in h) for h in held]  # fsum: the same total whatever order a set yields
    order = sorted(range(n), key=lambda i: (-weight[i], i))
    by_bigram = {pool[i]: r for r, i in enumerate(order, start=1)}
    return {c: 1.0 / (cfg.rrf_k + r) + cfg.bigram_weight / (cfg.rrf_k + by_bigram[c]) for r, c in enumerate(pool, start=1)}
