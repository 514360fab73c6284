"""Answer candidates from retrieved passages, and the generic features the ranker scores.

A candidate is a piece of a passage a reader could accept as the answer: a sentence, an item of
an enumeration run together on one line, or a table row. Each keeps its passage and exact lines.

`FEATURES` names the columns of the matrix `featurize` returns. They describe how well the
candidate and its surroundings hold the question's key terms (IDF-weighted, in the candidate,
its clause path and title, its passage, its neighbours; weighted also by how few of the other
candidates hold each term; the longest stretch of the question held word for word; the best
comma-clause's coverage where that clause holds the answer type; the share of the terms next to the
question's frame word, what is asked about, it holds; also character bigrams, for
paraphrases), where it stands (fused passage rank, BM25 score and rank; nothing from the dense model, whose
scores and ranks change with the embedder a deployment picks), position in the clause,
heading, table row, length), and whether it holds the answer type the question's frame asks
for (`answertypes`), the measure word of "多少张" and the asked year. Nothing here names a topic,
place or document; which combination of features makes an answer is learned (`ranker`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from ragqa.index.search import Hit
from ragqa.ingest.clauses import detect_heading
from ragqa.ingest.model import Chunk
from ragqa.ingest.normalize import fold
from ragqa.ingest.sentences import Sentence, split_items, split_sentences

from .answertypes import TYPES, arabize, text_types
from .question import QuestionProfile, has_measure, years_in

FEATURES_VERSION = "candidates-12"
_LONG_SENTENCE = 24


@dataclass(frozen=True)
class Candidate:
    """A piece of passage `passage` (1-based) of `hit`, the `index`-th of its chunk's pieces."""

    sentence: Sentence
    passage: int
    hit: Hit
    index: int
    kind: str  # "sentence", "item", "row"


@lru_cache(maxsize=8192)
def _pieces(chunk: Chunk) -> tuple[tuple[Sentence, str], ...]:
    """A chunk's candidate pieces and their kinds, in order (cached: popular chunks recur)."""
    context = chunk.context
    header = context.rsplit("\n", 1)[-1] if "\n" in context else None
    out: list[tuple[Sentence, str]] = []
    for sentence in split_sentences(chunk):
        if sentence.table_cells and sentence.text == header:
            continue
        kind = "row" if sentence.table_cells else "sentence"
        out.append((sentence, kind))
        if kind == "sentence" and len(sentence.text) > _LONG_SENTENCE:
            out.extend((Sentence(item, fold(item), sentence.start_line, sentence.end_line), "item") for item in split_items(sentence.text))
    return tuple(out)


def candidates(hits: list[Hit]) -> list[Candidate]:
    """Every sentence, run-together list item and table row of `hits`, in passage order.
    A table's header row (the last line of the chunk's context) names columns and is skipped."""
    return [
        Candidate(sentence, passage, hit, index, kind)
        for passage, hit in enumerate(hits, start=1)
        for index, (sentence, kind) in enumerate(_pieces(hit.chunk))
    ]


@lru_cache(maxsize=65536)
def _bigrams(text: str) -> frozenset[str]:
    chars = [c for c in text if "\u3400" <= c <= "\u9fff" or c.isalnum()]
    return frozenset(a + b for a, b in itertools.pairwise(chars))


@lru_cache(maxsize=65536)
def _heading_like(text: str) -> bool:
    """A short line that reads as a heading (cached: the same sentences are featurized for the
    rerank and again for the answer)."""
    return len(text) <= 40 and detect_heading(text) is not None


def _coverage(q: QuestionProfile, text: str) -> float:
    return sum(w for t, w in q.terms.items() if t in text) / q.total


_QUESTION_NOISE = re.compile(r"多少|什么|哪些|哪个|是否|怎么|如何|请问|[？?，,。]")

_BASE = [
    "cov",
    "cov_ctx",
    "cov_passage",
    "cov_prev",
    "cov_next",
    "cov_gap_best",
    "cov_rank",
    "missing_max",
    "bigram_cov",
    "bigram_gap_best",
    "passage_rank",
    "kw_norm",
    "keyword_rr",
    "index",
    "is_first",
    "is_heading",
    "is_row",
    "is_item",
    "length_log",
    "labelled",
    "n_terms",
    "q_len_log",
    "unseen_share",
    "year_state",
    "measure_state",
    "type_fit",
    "type_any",
    "n_passages_doc",
    "is_question",
    "answer_label",
    "prev_is_question",
    "leadin",
    "after_leadin",
    "missing_all_max",
    "missing_all_share",
    "cov_x_fit",
    "ctx_x_fit",
    "prev_x_fit",
    "year_ctx_state",
    "title_cov",
    "starts_marker",
    "bare_line",
    "type_near",
    "cov_local",
    "cov_local_gap_best",
    "lcs_share",
    "clause_cov_fit",
    "frame_cov",
    "frame_cov_ctx",
    "frame_gap_best",
    "frame_ctx_gap_best",
    "doc_missing_titled",
]
FEATURES = tuple(_BASE + [f"q_{t}" for t in TYPES] + [f"c_{t}" for t in TYPES])
_LABELLED = re.compile(r"^[\u4e00-\u9fff]{1,8}[:：]")
_MARKER = re.compile(r"^\s*(?:[(（]?[0-9一二三四五六七八九十a-z]{1,3}[)）.．、]|[\u2460-\u2473]|[一二三四五六七八九十]{1,3}是)")
_CLAUSE = re.compile(r"[,，;；。:：]")
_SENTENCE_MARK = re.compile(r"[,，;；。:：!！?？]")
_QUESTION_LINE = re.compile(r"^(?:问|問|q)[:：.]|[?？][”」』\"]?$", re.IGNORECASE)
_ANSWER_LINE = re.compile(r"^(?:答|a)[:：.]", re.IGNORECASE)


def _year_state(q: QuestionProfile, text: str) -> float:
    """1 when `text` names one of the question's years, -1 when it names only others, 0 otherwise."""
    if not q.years:
        return 0.0
    named = years_in(text)
    return 0.0 if not named else (1.0 if named & q.years else -1.0)


def _type_near(q: QuestionProfile, arabic: str, wanted: frozenset[str]) -> float:
    """Whether one clause of the candidate holds both a key term and the asked-for answer type
    (the number next to the thing asked about, not elsewhere in the sentence)."""
    if not wanted:
        return 0.0
    for clause in _CLAUSE.split(arabic):
        if clause and any(t in clause for t in q.terms if len(t) >= 2) and wanted & text_types(clause):
            return 1.0
    return 0.0


@dataclass(frozen=True)
class _Own:
    """What a candidate's features take from the question and the candidate's text alone."""

    held: frozenset[str]
    cov: float
    bigram: float
    types: frozenset[str]
    fit: float
    measure_state: float
    year_state: float
    type_near: float
    lcs_share: float
    clause_cov_fit: float


def _own(q: QuestionProfile, text: str, q_bigrams: frozenset[str], body: str) -> _Own:
    """`_Own` of the candidate sentence (folded) `text`, kept in the question's memo: the rerank
    and the answer featurize the same sentences of a request. `q_bigrams` and `body`: the
    question's bigrams and its text without frame words."""
    found = q.memo.get(text)
    if found is None:
        arabic = arabize(text)
        types = text_types(arabic)
        found = q.memo[text] = _Own(
            held=frozenset(t for t in q.terms if t in text),
            cov=_coverage(q, text),
            bigram=len(q_bigrams & _bigrams(text)) / (len(q_bigrams) or 1),
            types=types,
            fit=len(q.types & types) / len(q.types) if q.types else 0.0,
            measure_state=(1.0 if any(has_measure(arabic, m) or has_measure(text, m) for m in q.measures) else -1.0) if q.measures else 0.0,
            year_state=_year_state(q, text),
            type_near=_type_near(q, arabic, q.types),
            lcs_share=_lcs_share(body, text),
            clause_cov_fit=_clause_cov_fit(q, text),
        )
    return found


@dataclass(frozen=True)
class _Passage:
    cov: float
    in_context: frozenset[str]
    year_state: float
    title_cov: float


@dataclass(frozen=True)
class _Batch:
    """What a candidate's features compare it with: the other candidates and their passages."""

    cov: list[float]
    bigram: list[float]
    cov_rank: dict[int, int]
    top_kw: float
    passage: dict[int, _Passage]
    doc_passages: dict[str, int]
    absent: list[float]
    is_question: list[bool]
    leadin: list[bool]
    local: list[float]
    frame_total: float  # the weight of the terms next to the question's frame word, for `_frame_cov`


def _batch(q: QuestionProfile, cands: list[Candidate], own: list[_Own]) -> _Batch:
    cov = [o.cov for o in own]
    # Per passage (a chunk's context is already folded at ingest): what its title, clause path
    # and table header hold of the question.
    passage: dict[int, _Passage] = {}
    doc_passages: dict[str, int] = {}
    for c in cands:
        if c.passage not in passage:
            context = c.hit.chunk.context
            passage[c.passage] = _Passage(
                cov=_coverage(q, c.hit.chunk.match_text + context),
                in_context=frozenset(t for t in q.terms if t in context),
                year_state=_year_state(q, context),
                title_cov=_coverage(q, context.split("\n", 1)[0].split(" › ", 1)[0]),
            )
            doc_passages[c.hit.chunk.doc_id] = doc_passages.get(c.hit.chunk.doc_id, 0) + 1
    retrieved = "".join(c.hit.chunk.match_text + c.hit.chunk.context for c in cands if c.index == 0)
    local = _local_coverage(q, cands)
    return _Batch(
        cov=cov,
        bigram=[o.bigram for o in own],
        cov_rank={i: r for r, i in enumerate(sorted(range(len(cands)), key=lambda i: -cov[i]))},
        top_kw=max(c.hit.keyword_score for c in cands) or 1.0,
        passage=passage,
        doc_passages=doc_passages,
        absent=[w / q.total for t, w in q.terms.items() if t not in retrieved],
        is_question=[bool(_QUESTION_LINE.search(c.sentence.text.strip())) for c in cands],
        leadin=[c.sentence.text.rstrip().endswith((":", "：")) for c in cands],
        local=local,
        frame_total=math.fsum(q.terms[t] for t in q.near_frame),
    )


def _lcs_share(body: str, text: str) -> float:
    """The longest stretch of the question `body` (frame words removed) that `text` holds word for
    word, as a share of its length: a phrase quoted whole says more than its words apart."""
    best = 0
    for i in range(len(body)):
        j = i + best + 1
        while j <= len(body) and body[i:j] in text:
            best = j - i
            j += 1
    return best / (len(body) or 1)


def _clause_cov_fit(q: QuestionProfile, text: str) -> float:
    """The best clause of `text` (between commas) by its coverage of the question's key terms,
    counted only where that clause or the next holds the answer type asked for."""
    parts = [p for p in _CLAUSE.split(text) if p]
    best = 0.0
    for k, part in enumerate(parts):
        near = part + (parts[k + 1] if k + 1 < len(parts) else "")
        fits = not q.types or bool(q.types & text_types(arabize(near)))
        if fits:
            best = max(best, _coverage(q, part))
    return best


def _local_coverage(q: QuestionProfile, cands: list[Candidate]) -> list[float]:
    """Coverage of the question's key terms weighted by how rare each is among the candidates
    themselves (IDF over this pool of sentences, times the corpus IDF): the terms every retrieved
    sentence shares (the document's place and year) say little about which one answers, the
    terms only a few hold say most."""
    held = [{t for t in q.terms if t in c.sentence.match} for c in cands]
    n = len(cands)
    weight = {t: q.terms[t] * math.log((n + 1) / (sum(t in h for h in held) + 0.5)) for t in q.terms}
    total = sum(weight.values()) or 1.0
    return [math.fsum(weight[t] for t in h) / total for h in held]


def _frame_cov(q: QuestionProfile, total: float, held: frozenset[str], in_context: frozenset[str]) -> tuple[float, float]:
    """The share of the weight (`total`) of the terms next to the question's frame word (what is
    asked about) the candidate holds, and holds with its clause path and title; 1 when there are none."""
    if not total:
        return 1.0, 1.0
    return (math.fsum(q.terms[t] for t in q.near_frame if t in held) / total,
            math.fsum(q.terms[t] for t in q.near_frame if t in held or t in in_context) / total)


_FRAME_COLS = [FEATURES.index("frame_cov"), FEATURES.index("frame_cov_ctx")]
_FRAME_GAP_COLS = [FEATURES.index("frame_gap_best"), FEATURES.index("frame_ctx_gap_best")]
_DOC_MISSING = FEATURES.index("doc_missing_titled")


def featurize(q: QuestionProfile, cands: list[Candidate], evidence: Mapping[str, float] | None = None) -> np.ndarray:
    """One row of `FEATURES` per candidate (float32). `evidence`: for each candidate's document,
    the largest weight share of the question's terms that a document title holds and that whole
    document never mentions (`abstain.document_evidence`; 0 for a document not given): a
    candidate of another city's bulletin, when the question names the city a title holds."""
    if not cands:
        return np.zeros((0, len(FEATURES)), dtype=np.float32)
    q_bigrams, body = _bigrams(_QUESTION_NOISE.sub(" ", q.text)), _QUESTION_NOISE.sub("", q.text)
    own = [_own(q, c.sentence.match, q_bigrams, body) for c in cands]
    batch = _batch(q, cands, own)
    rows = np.asarray([_row(q, cands, i, batch, own[i]) for i in range(len(cands))], dtype=np.float32)
    frame = rows[:, _FRAME_COLS]
    rows[:, _FRAME_GAP_COLS] = frame.max(axis=0) - frame  # how far behind the best candidate of this question
    if evidence:
        rows[:, _DOC_MISSING] = [evidence.get(c.hit.chunk.doc_id, 0.0) for c in cands]
    return rows


def _row(q: QuestionProfile, cands: list[Candidate], i: int, b: _Batch, own: _Own) -> list[float]:
    c, s = cands[i], cands[i].sentence
    around = b.passage[c.passage]
    held = own.held
    in_ctx = around.in_context - held
    cov_ctx = b.cov[i] + 0.6 * math.fsum(q.terms[t] for t in in_ctx) / q.total
    missing = [q.terms[t] / q.total for t in q.terms if t not in held and t not in in_ctx]
    prev_cov = b.cov[i - 1] if i > 0 and cands[i - 1].hit is c.hit else 0.0
    next_cov = b.cov[i + 1] if i + 1 < len(cands) and cands[i + 1].hit is c.hit else 0.0
    c_types, fit = own.types, own.fit
    shape = [
        float(c.passage), c.hit.keyword_score / b.top_kw, 1.0 / c.hit.keyword_rank if c.hit.keyword_rank else 0.0,
        float(min(c.index, 20)), float(c.index == 0), float(_heading_like(s.text)),
        float(c.kind == "row"), float(c.kind == "item"), math.log1p(len(s.text)), float(bool(_LABELLED.match(s.text))),
        float(len(q.terms)), math.log1p(len(q.text)), math.fsum(q.terms[t] for t in q.unseen) / q.total,
    ]
    fits = [own.year_state, own.measure_state, fit, float(bool(q.types & c_types)), float(b.doc_passages[c.hit.chunk.doc_id])]
    lines = [
        float(b.is_question[i]), float(bool(_ANSWER_LINE.match(s.text))), float(i > 0 and cands[i - 1].hit is c.hit and b.is_question[i - 1]),
        float(b.leadin[i]), float(any(b.leadin[j] for j in range(max(0, i - 12), i) if cands[j].hit is c.hit)),
        max(b.absent, default=0.0), sum(b.absent), b.cov[i] * fit, cov_ctx * fit, prev_cov * fit, around.year_state, around.title_cov,
        float(bool(_MARKER.match(s.text))), float(len(s.text) <= 20 and not _SENTENCE_MARK.search(s.text)), own.type_near,
        b.local[i], max(b.local) - b.local[i], own.lcs_share, own.clause_cov_fit,
        *_frame_cov(q, b.frame_total, held, around.in_context), 0.0, 0.0,  # the two gaps, filled in by `featurize`
        0.0,  # doc_missing_titled, filled in by `featurize`
    ]
    coverage = [b.cov[i], cov_ctx, around.cov, prev_cov, next_cov, max(b.cov) - b.cov[i], float(b.cov_rank[i]), max(missing, default=0.0),
                b.bigram[i], max(b.bigram) - b.bigram[i]]
    return coverage + shape + fits + lines + [float(t in q.types) for t in TYPES] + [float(t in c_types) for t in TYPES]
