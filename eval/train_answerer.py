"""`ragqa train`: learn the answer ranker from gold sets, calibrate its scores, choose its refusal
threshold by cross-validation, and save it beside the code (service/models/answerer.{txt,json}).

For every gold item the pipeline's own retrieval runs, its head is put in the answer-aware order
(`service/rerank.py`) by a model fitted without the item's document, and every candidate of the
top_k passages is featurized exactly as at answer time. A candidate is labelled positive when its text holds one
of the gold answers (normalized as the scorer does) and its lines overlap a gold ref; every
candidate of an unanswerable item is negative.

Cross-validation holds out whole documents (an item's group is the document of its first
ref, or the one an unanswerable item's note names; others are spread over the folds by id), so the threshold and the reported
out-of-fold figures are what the model does on documents it was not trained on. This is done for
`PARTITIONS` different dealings of the documents into folds. The threshold is the largest one
at which every held-out fold of every partition refuses at most `max_false_refusals` of its
answerable items (one partition's threshold moved by 0.05 with the dealing alone, and a budget
held only on average let single folds refuse up to 0.069); the join ratio (how close in probability a second candidate must be to join the answer) is the one with
the best out-of-fold answer accuracy, averaged over the partitions, as the reported figures are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
from ragqa.eval.errors import EvalError
from ragqa.eval.goldset import UNANSWERABLE, GoldItem, Ref, load_gold
from ragqa.eval.metrics import answer_contains
from ragqa.eval.term_assoc import FOLDS as ASSOC_FOLDS
from ragqa.eval.term_assoc import Rules, gold_index_pair, learn, pairs_of
from ragqa.eval.term_assoc import fold_of as assoc_fold
from ragqa.eval.textnorm import normalize
from ragqa.index.embedders import Embedder, make_embedder
from ragqa.index.expansion import Expansions, load_expansions
from ragqa.index.keyword import configure_jieba
from ragqa.index.search import Hit, Searcher
from ragqa.index.store import LoadedIndex, load_index, read_manifest
from ragqa.ingest.model import Document
from ragqa.service.abstain import DOCUMENT_FEATURES, QUESTION_FEATURES, Abstainer, document_evidence, fit_logistic, question_features
from ragqa.service.candidates import FEATURES, FEATURES_VERSION, candidates, featurize
from ragqa.service.errors import ModelError
from ragqa.service.extractive import EXPANSIONS, MAX_ANSWER_CHARS, MAX_SEGMENTS, MODEL_DIR, load_ranker
from ragqa.service.necessity import FILE as NECESSITY_FILE
from ragqa.service.necessity import Necessity, NecessityError, load_necessity
from ragqa.service.question import QuestionProfile, profile_question, split_question
from ragqa.service.rerank import FUSE_K, POOL, rerank
from ragqa.service.settings import Settings
from ragqa.service.trees import RANKING_OBJECTIVES

# A ranker learns each question's order of candidates, which is what the answer is taken from;
# a binary classifier of the same trees put a right piece first for fewer questions (out of fold on
# the 3,657 training questions, session 21: 0.730 -> 0.750 of answerable ones). Its scores become
# probabilities by a `Calibration`.
PARAMS = {
    "objective": "lambdarank",
    "lambdarank_truncation_level": 10,
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
    "deterministic": True,  # the same trees from the same rows on every run (with the next line)
    "force_col_wise": True,
}
ROUNDS = 200
FOLDS = 5
PARTITIONS = 3  # ways of dealing the documents into folds; the threshold and figures are over all of them
JOIN_RATIOS = (0.3, 0.5, 0.7, 0.85, 1.01)


@dataclass(frozen=True)
class Rows:
    """The candidates of one gold item: features, labels, normalized texts, CV group, and for
    the abstainer each candidate's document and the `document_evidence` of each of them."""

    item: GoldItem
    features: np.ndarray
    labels: np.ndarray
    texts: tuple[str, ...]
    group: str
    docs: tuple[str, ...]
    evidence: Mapping[str, np.ndarray]
    elsewhere: bool = False  # asked of an index that holds none of its documents (`_asked_elsewhere`)

    def document(self, probs: np.ndarray) -> np.ndarray:
        """The `document_evidence` of the document of the candidate `probs` ranks first."""
        if len(probs) == 0:
            return np.zeros(len(DOCUMENT_FEATURES))
        return self.evidence[self.docs[int(np.argsort(-probs, kind="stable")[0])]]


def _overlaps(doc: str, start: int, end: int, refs: Sequence[Ref]) -> bool:
    return any(r.doc == doc and start <= r.end_line and r.start_line <= end for r in refs)


@dataclass(frozen=True)
class Pooled:
    """One gold item's retrieval, `POOL` passages deep, and its question profiles (one per part)."""

    item: GoldItem
    hits: list[Hit]
    whole: QuestionProfile  # the question as the candidates are featurized for training
    profiles: list[QuestionProfile]  # its parts, as `Answerer.reorder` ranks passages
    group: str
    documents: Mapping[str, Document]  # its index's
    elsewhere: bool = False  # asked of an index that holds none of its documents (`_asked_elsewhere`)


@dataclass(frozen=True)
class ExpansionPlan:
    """The query expansion training retrieves with (index/expansion.py): the table as served, and
    how it was learned, so that the set it was learned from is retrieved out of fold."""

    table: Expansions
    learned_from: frozenset[tuple[str, str]]  # (gold set, index), as resolved paths
    rules: Rules
    sha256: str

    @classmethod
    def read(cls, path: Path) -> ExpansionPlan | None:
        table = load_expansions(path)  # checks the format
        if table is None:
            return None
        raw = path.read_bytes()
        meta = json.loads(raw)
        sources = frozenset((_resolved(s["gold"]), _resolved(s["index"])) for s in meta.get("learned_from", []))
        return cls(table, sources, Rules(**meta["rules"]), hashlib.sha256(raw).hexdigest())


def _resolved(path: str | Path) -> str:
    return os.path.normpath(os.path.abspath(path))  # an index's link is not followed: it names the index, not one build


def _searcher_of(gold: Sequence[GoldItem], gold_path: str, index: LoadedIndex, embedder: Embedder, settings: Settings,
                 plan: ExpansionPlan | None) -> Callable[[GoldItem], Searcher]:
    """The searcher each item is retrieved with: the served table, except for the set the table
    was learned from, whose items are retrieved with a table learned without their document's
    (term_assoc's folds), as the served table meets documents it never learned from."""
    if plan is None or (_resolved(gold_path), _resolved(index.path)) not in plan.learned_from:
        searcher = Searcher(index, embedder, settings.fusion(), expansions=plan.table if plan else None)
        return lambda _: searcher
    pairs = pairs_of(gold, dict(index.documents.items()))
    tables = [learn([p for p in pairs if assoc_fold(p.doc) != k], index.keyword, plan.rules) for k in range(ASSOC_FOLDS)]
    searchers = [Searcher(index, embedder, settings.fusion(), expansions=t) for t in tables]
    return lambda item: searchers[assoc_fold(_group(item))]


def collect(gold_path: str, index_dir: Path, settings: Settings, top_k: int, elsewhere: float | None = None,
            expansions: ExpansionPlan | None = None, necessity: Necessity | None = None) -> list[Pooled]:
    """Every item of `gold_path` retrieved from `index_dir`, max(top_k, POOL) passages deep.
    With a share `elsewhere` the set's questions are about documents this index does not hold:
    that share of them (chosen by id) is asked of it as unanswerable (`_asked_elsewhere`)."""
    configure_jieba(settings.cache_dir / "jieba")
    embedder = make_embedder(str(read_manifest(index_dir).get("embedder")), settings.embed_threads)
    index = load_index(index_dir, embedder.name)
    if elsewhere is not None:
        gold = load_gold(gold_path, lambda d: _ANY_LENGTH)
    else:
        gold = load_gold(gold_path, lambda d: len(index.documents[d].lines) if d in index.documents else None)
    if gold.problems:
        first = gold.problems[0]
        raise EvalError(f"{gold_path}: line {first.line_no}: {first.reason} ({len(gold.problems)} bad lines)")
    items = gold.items if elsewhere is None else _chosen([i for i in gold.items if not any(r.doc in index.documents for r in i.refs)], elsewhere)
    searcher = _searcher_of(gold.items, gold_path, index, embedder, settings, expansions)
    pooled = [
        Pooled(
            item,
            searcher(item).search(item.question, max(top_k, POOL)),
            profile_question(item.question, index.keyword, necessity=necessity),
            [profile_question(part, index.keyword, necessity=necessity) for part in split_question(item.question)],
            _group(item),
            index.documents,
        )
        for item in items
    ]
    return pooled if elsewhere is None else _asked_elsewhere(pooled)


_ANY_LENGTH = 1 << 30  # refs of questions asked elsewhere are dropped, not checked against the index


def _chosen(items: Sequence[GoldItem], share: float) -> list[GoldItem]:
    """`share` of `items`, by a hash of the id: the same ones on every run."""
    return [i for i in items if int(hashlib.sha1(i.id.encode()).hexdigest(), 16) % 1000 < share * 1000]


def _asked_elsewhere(pooled: Sequence[Pooled]) -> list[Pooled]:
    """Questions retrieved from an index that holds none of their documents, as unanswerable:
    what the gold sets lack, questions off the documents' topic (another city's figures, another
    law's articles), which the abstainer otherwise only meets on topic. A question whose answer
    the retrieved passages hold anyway (the same fact in another document) is left out."""
    out = []
    for p in pooled:
        item = p.item
        if item.answers and answer_contains("\n".join(h.chunk.text for h in p.hits), item.answers, item.must_all):
            continue
        # the note names the item's own document, its cross-validation group (`_group`)
        note = f"[{item.refs[0].doc}] {item.note}" if item.refs else item.note
        out.append(replace(p, item=replace(item, answers=(), refs=(), type=UNANSWERABLE, note=note), elsewhere=True))
    return out


def labelled(p: Pooled, hits: list[Hit]) -> Rows:
    """The featurized, labelled candidates of `hits` (the passages the answerer reads) for `p`."""
    cands = candidates(hits)
    texts = tuple(normalize(c.sentence.text) for c in cands)
    golds = [normalize(a) for a in p.item.answers]
    labels = np.array(
        [float(any(g in t for g in golds) and _overlaps(c.hit.chunk.doc_id, c.sentence.start_line, c.sentence.end_line, p.item.refs)) for c, t in zip(cands, texts, strict=False)],
        dtype=np.float32,
    )
    docs = tuple(c.hit.chunk.doc_id for c in cands)
    evidence = {d: document_evidence(p.whole, d, p.documents) for d in set(docs)}
    return Rows(p.item, featurize(p.whole, cands, {d: float(e[0]) for d, e in evidence.items()}), labels, texts, p.group, docs, evidence,
                p.elsewhere)


_NOTED_DOC = re.compile(r"^\[([^\]]+)\]")


def _group(item: GoldItem) -> str:
    """The document an item is about: its first ref's, or for an unanswerable item the one its
    note names first ("[law/x.txt] …"); otherwise the item stands alone."""
    if item.refs:
        return str(item.refs[0].doc)
    noted = _NOTED_DOC.match(item.note)
    return noted.group(1) if noted else f"item:{item.id}"


def writer_groups(items: Sequence[GoldItem]) -> list[str]:
    """Each item's cross-validation group when writers are held out too: the connected component
    of documents and question writers' sets (an item's set is its id up to the last "-", "c35a"
    of "c35a-012") that the item's document and set belong to, named by its first member in
    sorted order. A fold then holds out a writer's wording as well as the documents, as an
    unseen set does (`_writer`)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links = [(f"doc:{_group(item)}", f"set:{_writer(item.id)}") for item in items]
    for doc, writer in sorted(links):
        a, b = root(doc), root(writer)
        if a != b:
            parent[max(a, b)] = min(a, b)  # the smaller name roots the component: the same on every run
    return [root(doc) for doc, _ in links]


def _writer(item_id: str) -> str:
    """The question writer's set of an id: up to the last "-" ("c35a" of "c35a-012"), or without
    its trailing digits ("ga" of "ga002")."""
    return (item_id.rsplit("-", 1)[0] if "-" in item_id else re.sub(r"\d+$", "", item_id) or item_id).lower()


def _fold_of(group: str, partition: int = 0) -> int:
    """The fold of a document in one of `PARTITIONS` ways of dealing the documents into folds."""
    salt = f"{partition}:" if partition else ""
    return int(hashlib.sha1((salt + group).encode()).hexdigest(), 16) % FOLDS


def fit(rows: list[Rows]) -> Any:
    """A LightGBM booster on `rows`, each item's candidates one query group (imported here:
    serving evaluates the saved trees with numpy)."""
    import lightgbm

    kept = [r for r in rows if len(r.features)]
    data = lightgbm.Dataset(np.vstack([r.features for r in kept]), np.concatenate([r.labels for r in kept]), feature_name=list(FEATURES))
    if PARAMS["objective"] in RANKING_OBJECTIVES:
        data.set_group([len(r.features) for r in kept])
    return lightgbm.train(PARAMS, data, ROUNDS)


@dataclass(frozen=True)
class Calibration:
    """P(candidate holds the answer) = 1 / (1 + exp(-(scale * score + offset))) of a ranker's score."""

    scale: float
    offset: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.scale * scores + self.offset, -30, 30)))

    @classmethod
    def fitted(cls, rows: Sequence[Rows], scores: Sequence[np.ndarray]) -> Calibration:
        """Logistic regression of the candidates' labels on their out-of-fold `scores`."""
        kept = [(r, s) for r, s in zip(rows, scores, strict=True) if len(s)]
        fitted = fit_logistic(np.concatenate([s for _, s in kept])[:, None], np.concatenate([r.labels for r, _ in kept]))
        scale = float(fitted.coef[0] / fitted.scale[0])
        return cls(scale, float(fitted.bias - scale * fitted.mean[0]))


def calibration(rows: Sequence[Rows], scores: Sequence[np.ndarray]) -> Calibration | None:
    """The calibration of a ranker's out-of-fold `scores`; none for a binary model, whose scores
    are probabilities already."""
    return Calibration.fitted(rows, scores) if PARAMS["objective"] in RANKING_OBJECTIVES else None


def out_of_fold(rows: list[Rows], partition: int = 0) -> list[np.ndarray]:
    """Each item's candidate scores (a binary model's probabilities) from a model that did not
    see its document."""
    probs: list[np.ndarray] = [np.zeros(0)] * len(rows)
    folds = [_fold_of(r.group, partition) for r in rows]
    for k in range(FOLDS):
        model = fit([r for r, f in zip(rows, folds, strict=False) if f != k])
        for i, (r, f) in enumerate(zip(rows, folds, strict=False)):
            if f == k and len(r.features):
                probs[i] = np.asarray(model.predict(r.features), dtype=float)
    return probs


def _scorer(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    return lambda features: np.asarray(model.predict(features), dtype=float)


def reranked(pooled: list[Pooled], top_k: int, partition: int = 0) -> list[Rows]:
    """The rows the served answerer sees: each item's top `top_k` passages after `rerank`, the
    answer-aware order, computed by a model fitted without the item's document (the shipped
    model never saw the documents it serves either). The fold models are fitted on the
    retrieval order's rows."""
    plain = [labelled(p, p.hits[:top_k]) for p in pooled]
    folds = [_fold_of(p.group, partition) for p in pooled]
    out: list[Rows] = list(plain)
    for k in range(FOLDS):
        model = fit([r for r, f in zip(plain, folds, strict=False) if f != k])
        for i, (p, f) in enumerate(zip(pooled, folds, strict=False)):
            if f == k:
                out[i] = labelled(p, rerank(p.profiles, p.hits, _scorer(model), p.documents)[:top_k])
    return out


@dataclass(frozen=True)
class Outcome:
    answer_accuracy: float
    refusal_recall: float
    false_refusals: float
    # refusal recall on the gold sets' unanswerable questions alone, without those asked of an
    # index that holds none of their documents (`--elsewhere`), which are easier to refuse and
    # which no unseen set asks: the figure to choose an abstainer change by
    refusal_recall_on_topic: float


def simulate(rows: list[Rows], probs: list[np.ndarray], refuse: list[bool], join_ratio: float) -> Outcome:
    """What the answerer would score: refuse where `refuse` says so, else the best candidate plus
    those within `join_ratio` of it."""
    correct = refused_ans = refused_unans = n_ans = n_unans = on_topic = refused_on_topic = 0
    for r, p, no in zip(rows, probs, refuse, strict=False):
        answerable = r.item.answerable
        own_unanswerable = not answerable and not r.elsewhere
        n_ans += answerable
        n_unans += not answerable
        on_topic += own_unanswerable
        if len(p) == 0 or no:
            refused_ans += answerable
            refused_unans += not answerable
            refused_on_topic += own_unanswerable
            continue
        order = np.argsort(-p, kind="stable")
        chosen, length = [r.texts[order[0]]], len(r.texts[order[0]])
        for i in order[1:]:
            if len(chosen) >= MAX_SEGMENTS or p[i] < join_ratio * p[order[0]]:
                break
            if length + len(r.texts[i]) <= MAX_ANSWER_CHARS:
                chosen.append(r.texts[i])
                length += len(r.texts[i])
        if answerable and answer_contains("".join(chosen), [normalize(a) for a in r.item.answers], r.item.must_all):
            correct += 1
    return Outcome(correct / max(n_ans, 1), refused_unans / max(n_unans, 1), refused_ans / max(n_ans, 1), refused_on_topic / max(on_topic, 1))


def abstainer_out_of_fold(rows: list[Rows], probs: list[np.ndarray], partition: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(question features, answerable labels, out-of-fold P(answerable)) per item."""
    x = np.vstack([question_features(p, r.features, r.document(p)) for r, p in zip(rows, probs, strict=False)])
    y = np.array([float(r.item.answerable) for r in rows])
    folds = np.array([_fold_of(r.group, partition) for r in rows])
    oof = np.zeros(len(rows))
    for k in range(FOLDS):
        model = fit_logistic(x[folds != k], y[folds != k])
        oof[folds == k] = [model.probability(v) for v in x[folds == k]]
    return x, y, oof


@dataclass(frozen=True)
class CrossValidation:
    """One dealing of the documents into folds: each item's rows, out-of-fold candidate
    probabilities, abstainer features and label, out-of-fold P(answerable), and fold."""

    rows: list[Rows]
    scores: list[np.ndarray]  # the model's own, before calibration
    probs: list[np.ndarray]
    x: np.ndarray
    y: np.ndarray
    oof: np.ndarray
    folds: np.ndarray

    @classmethod
    def run(cls, pooled: list[Pooled], top_k: int, partition: int) -> CrossValidation:
        rows = reranked(pooled, top_k, partition)
        scores = out_of_fold(rows, partition)
        fitted = calibration(rows, scores)
        probs = scores if fitted is None else [fitted(s) for s in scores]
        x, y, oof = abstainer_out_of_fold(rows, probs, partition)
        return cls(rows, scores, probs, x, y, oof, np.array([_fold_of(r.group, partition) for r in rows]))


def choose_threshold(scores: np.ndarray, answerable: np.ndarray, folds: np.ndarray, max_false_refusals: float,
                     refused: np.ndarray | None = None) -> float:
    """The largest threshold at which no held-out fold (`folds`: one id per fold of each partition)
    refuses more than `max_false_refusals` of its answerable items. Held to the budget only on
    average, single folds refused up to 0.069 of theirs: a set of unseen documents is one fold.
    Items `refused` already (by a kept abstainer) count against the budget of their fold."""
    already = np.zeros(len(scores), dtype=bool) if refused is None else refused
    limits = []
    for fold in np.unique(folds):
        mine = (answerable > 0) & (folds == fold)
        ranked = np.sort(scores[mine & ~already])
        allowed = max(0, int(max_false_refusals * int(mine.sum())) - int((mine & already).sum()))
        if allowed < len(ranked):
            limits.append(float(ranked[allowed]) - 1e-9)
    return min(limits, default=0.0)


@dataclass(frozen=True)
class KeptRanker:
    """A saved model's candidate ranker with its calibration and join ratio, kept as they are
    while only the abstainer and its threshold are fitted anew (`ragqa train --ranker`): the
    candidate ranker retrained on more sets has scored worse on the next unseen set six times."""

    trees: bytes
    meta: Mapping[str, Any]
    folder: Path
    abstainer: Abstainer
    necessity: Necessity | None

    @classmethod
    def read(cls, folder: Path, top_k: int) -> KeptRanker:
        try:
            loaded = load_ranker(folder)  # checks the feature version and reads the trees
        except ModelError as exc:
            raise EvalError(f"--ranker {folder}: {exc}") from None
        meta = loaded.meta
        if meta.get("top_k") != top_k or meta.get("rerank") != {"pool": POOL, "fuse_k": FUSE_K}:
            raise EvalError(f"--ranker {folder}: trained for top {meta.get('top_k')} passages and reranking {meta.get('rerank')}, "
                            f"not top {top_k} and {{'pool': {POOL}, 'fuse_k': {FUSE_K}}}")
        if meta.get("params") != PARAMS or meta.get("rounds") != ROUNDS:
            # the abstainer learns from fold rankers fitted with this code's settings: they must be the kept trees'
            raise EvalError(f"--ranker {folder}: its trees were fitted with other settings than this code's (params, rounds); retrain it whole")
        return cls((folder / "answerer.txt").read_bytes(), meta, folder, loaded.abstainer, loaded.necessity)

    def abstainer_refuses(self, x: np.ndarray) -> np.ndarray:
        return np.array([self.abstainer.probability(v) < self.abstainer.threshold for v in x], dtype=bool)

    def provenance(self) -> dict[str, object]:
        """Where the trees come from: the model that fitted them, through any models that kept them since."""
        if isinstance(self.meta.get("ranker"), Mapping):
            return {**self.meta["ranker"], "via": [*self.meta["ranker"].get("via", []), str(self.folder)]}
        return {"from": str(self.folder), "sha256": hashlib.sha256(self.trees).hexdigest(),
                **{k: self.meta[k] for k in ("trained_on", "items", "out_of_fold") if k in self.meta}}


def train(pairs: list[tuple[str, Path]], out: Path, settings: Settings, top_k: int, max_false_refusals: float,
          groups: str = "documents", elsewhere: Sequence[tuple[str, Path]] = (), elsewhere_share: float = 0.25,
          ranker: Path | None = None, keep_abstainer: bool = False, expansions: Path | None = None,
          necessity: Path | None = None) -> dict[str, object]:
    """Collect, cross-validate, choose, fit on everything and save; returns the saved metadata.
    With `necessity` (a model of `python -m ragqa.eval.term_necessity`), question terms are weighed
    by it and it is saved beside the ranker; a kept ranker (`ranker`) brings its own.
    With `ranker`, that model's candidate ranker is kept and only the abstainer is fitted; with
    `keep_abstainer` too, that model's abstainer is kept as well and the fitted one is saved
    beside it as the off-topic abstainer (a question either one finds unlikely is refused)."""
    started = time.perf_counter()
    kept = KeptRanker.read(ranker, top_k) if ranker is not None else None
    if keep_abstainer and (kept is None or not elsewhere):
        raise EvalError("keeping an abstainer needs the model it comes from (--ranker) and off-topic examples (--elsewhere)")
    if kept and kept.meta.get("offtopic_abstainer"):
        print(f"train: the off-topic abstainer of {ranker} is {'replaced' if keep_abstainer else 'dropped'}", file=sys.stderr)
    if kept is not None and necessity is not None:
        raise EvalError("a kept ranker (--ranker) brings the necessity model it was trained with; --necessity is for a new ranker")
    weighing = _read_necessity(necessity) if necessity is not None else kept.necessity if kept else None
    if weighing is not None:
        print(f"train: question terms weighed by the necessity model {weighing.sha256[:12]}", file=sys.stderr)
    plan = ExpansionPlan.read(expansions) if expansions is not None else None
    if plan is not None:
        print(f"train: retrieving with the query expansion of {expansions} (its own set out of fold)", file=sys.stderr)
    pooled: list[Pooled] = []
    asked: list[tuple[tuple[str, Path], float | None]] = [(pair, None) for pair in pairs] + [(pair, elsewhere_share) for pair in elsewhere]
    for (gold_path, index_dir), share in asked:
        got = collect(gold_path, index_dir, settings, top_k, share, plan, weighing)
        print(f"train: {gold_path}: {len(got)} items retrieved{' (asked elsewhere: unanswerable)' if share is not None else ''}", file=sys.stderr)
        pooled += got
    if groups == "writers":
        pooled = [replace(p, group=g) for p, g in zip(pooled, writer_groups([p.item for p in pooled]), strict=True)]
    print(f"train: {len({p.group for p in pooled})} cross-validation groups ({groups})", file=sys.stderr)
    runs: list[CrossValidation] = []
    for partition in range(PARTITIONS):
        runs.append(CrossValidation.run(pooled, top_k, partition))
        print(f"train: cross-validation {partition + 1}/{PARTITIONS} done ({time.perf_counter() - started:.0f}s)", file=sys.stderr)
    rows, x, y = runs[0].rows, runs[0].x, runs[0].y
    # the served model's calibration: of every partition's out-of-fold scores, as the served model
    # scores documents it was not trained on
    served = calibration([r for run in runs for r in run.rows], [s for run in runs for s in run.scores])
    print(f"train: {sum(len(r.labels) for r in rows)} candidates in the answer-aware top {top_k}", file=sys.stderr)
    reachable = sum(bool(r.labels.any()) for r in rows if r.item.answerable)
    n_ans = sum(r.item.answerable for r in rows)
    print(f"train: {reachable}/{n_ans} answerable items have a labelled candidate in the top {top_k}", file=sys.stderr)
    # One threshold for every fold of every partition: with one partition it moved by 0.05 when
    # only the dealing of documents into folds changed.
    folds = np.concatenate([partition * FOLDS + run.folds for partition, run in enumerate(runs)])
    # a kept abstainer refuses beside the one fitted here: the budget is the two's together
    first = [kept.abstainer_refuses(r.x) if kept and keep_abstainer else np.zeros(len(r.oof), dtype=bool) for r in runs]
    threshold = choose_threshold(np.concatenate([r.oof for r in runs]), np.concatenate([r.y for r in runs]), folds, max_false_refusals,
                                 np.concatenate(first))  # fmt: skip
    refusals = [[bool(a < threshold or no) for a, no in zip(r.oof, f, strict=True)] for r, f in zip(runs, first, strict=True)]

    def mean_outcome(ratio: float) -> Outcome:
        got = [simulate(r.rows, r.probs, no, ratio) for r, no in zip(runs, refusals, strict=True)]
        return Outcome(*(float(np.mean([getattr(o, f.name) for o in got])) for f in fields(Outcome)))

    ratio = float(kept.meta["join_ratio"]) if kept else max(JOIN_RATIOS, key=lambda j: mean_outcome(j).answer_accuracy)
    cv = mean_outcome(ratio)
    print(f"train: out-of-fold answer accuracy {cv.answer_accuracy:.3f}, refusal recall {cv.refusal_recall:.3f} "
          f"({cv.refusal_recall_on_topic:.3f} on the gold sets' own unanswerable questions), "
          f"false refusals {cv.false_refusals:.3f} at threshold {threshold:.3f}, join ratio {ratio} "
          f"(mean of {PARTITIONS} partitions into folds)", file=sys.stderr)
    fitted = fit_logistic(x, y)
    abstainer = Abstainer(fitted.mean, fitted.scale, fitted.coef, fitted.bias, threshold)
    out.mkdir(parents=True, exist_ok=True)
    if weighing is not None:
        if weighing.path.resolve() != (out / NECESSITY_FILE).resolve():
            (out / NECESSITY_FILE).write_bytes(weighing.path.read_bytes())
    elif (out / NECESSITY_FILE).exists():
        (out / NECESSITY_FILE).unlink()  # the ranker saved here weighs by IDF alone
    if kept:
        (out / "answerer.txt").write_bytes(kept.trees)
        gain: Mapping[str, float] = kept.meta.get("gain", {})
        calibrated = kept.meta.get("calibration")
    else:
        model = fit(rows)
        model.save_model(str(out / "answerer.txt"))
        importance = dict(zip(FEATURES, (float(x) for x in model.feature_importance("gain")), strict=False))
        gain = {k: round(v, 1) for k, v in sorted(importance.items(), key=lambda kv: -kv[1])}
        calibrated = {"scale": served.scale, "offset": served.offset} if served else None
    meta: dict[str, object] = {
        "features_version": FEATURES_VERSION,
        "features": list(FEATURES),
        "join_ratio": ratio,
        "abstainer": kept.meta["abstainer"] if kept and keep_abstainer else abstainer.to_json(),
        **({"offtopic_abstainer": abstainer.to_json()} if keep_abstainer else {}),
        "top_k": top_k,
        "rerank": {"pool": POOL, "fuse_k": FUSE_K},
        "params": PARAMS,  # a kept ranker's are these (KeptRanker.read)
        "rounds": ROUNDS,
        **({"calibration": calibrated} if calibrated else {}),
        **({"ranker": kept.provenance()} if kept else {}),
        "trained_on": [{"gold": g, "sha256": hashlib.sha256(Path(g).read_bytes()).hexdigest()} for g, _ in pairs],
        "asked_elsewhere": [{"gold": g, "sha256": hashlib.sha256(Path(g).read_bytes()).hexdigest(), "index": str(i), "share": elsewhere_share}
                            for g, i in elsewhere],
        "items": len(rows),
        "partitions": PARTITIONS,
        "cv_groups": groups,
        "out_of_fold": {"answer_accuracy": round(cv.answer_accuracy, 4), "refusal_recall": round(cv.refusal_recall, 4),
                        "refusal_recall_on_topic": round(cv.refusal_recall_on_topic, 4),
                        "false_refusals": round(cv.false_refusals, 4), "answerable_reachable": reachable, "answerable": n_ans},
        "question_features": list(QUESTION_FEATURES),
        "retrieved_with_expansions": plan.sha256 if plan is not None else None,
        **({"necessity": {"sha256": weighing.sha256}} if weighing is not None else {}),
        "gain": gain,
    }
    (out / "answerer.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"train: saved {out}/answerer.txt and answerer.json in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    return meta


DESCRIPTION = """\
Train the extractive answer ranker on gold sets and save it with its refusal threshold.
Each --gold pairs a gold set with the index its documents are in. Only train splits belong
here: never the test split.

examples:
  ragqa train --gold eval/gold/dev.jsonl=.ragqa/index --gold eval/gold/train.jsonl=.ragqa/corpora
  # keep the shipped candidate ranker, refit only the abstainer on the sets `make train` uses, with off-topic examples
  ragqa train --ranker service/models --out /tmp/model --gold eval/gold/dev.jsonl=.ragqa/index \
    --gold eval/gold/holdout.jsonl=.ragqa/index --gold eval/gold/blind.jsonl=.ragqa/index \
    --gold eval/gold/train.jsonl=.ragqa/corpora --elsewhere eval/gold/train.jsonl=.ragqa/index
"""


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"'{text}' should be a share above 0 and at most 1, such as 0.25")
    return value


def _read_necessity(path: Path) -> Necessity:
    try:
        return load_necessity(path)
    except NecessityError as exc:
        raise EvalError(f"--necessity: {exc}") from None


def _expansions(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"no expansion table at {text}; learn one with 'python -m ragqa.eval.term_assoc --out {text}'")
    return path


def configure_parser(p: argparse.ArgumentParser) -> None:
    p.description = DESCRIPTION
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--gold", type=gold_index_pair, action="append", required=True, metavar="GOLD.jsonl=INDEX_DIR")
    p.add_argument("--out", type=Path, default=MODEL_DIR, help=f"model folder (default {MODEL_DIR})")
    p.add_argument("--top-k", type=int, default=5, help="passages per question, as at answer time (default 5)")
    p.add_argument("--groups", choices=("documents", "writers"), default="documents",
                   help="what a cross-validation fold holds out: whole documents (default), or documents together with "
                        "the question writers' sets (ids up to the last '-') that asked about them")
    p.add_argument("--elsewhere", type=gold_index_pair, action="append", default=[], metavar="GOLD.jsonl=INDEX_DIR",
                   help="also ask a share of GOLD's questions of INDEX_DIR, which holds none of their documents, as "
                        "unanswerable: off-topic examples the gold sets lack (repeatable)")
    p.add_argument("--elsewhere-share", type=_share, default=0.25, help="share of each --elsewhere set asked, above 0 and at most 1 (default 0.25)")
    p.add_argument("--ranker", type=Path, metavar="MODEL_DIR",
                   help="keep the candidate ranker (trees, calibration, join ratio) of the model in MODEL_DIR and fit only "
                        "the abstainer and its threshold; cross-validation still scores every item with rankers fitted without its document")
    p.add_argument("--keep-abstainer", action="store_true",
                   help="with --ranker and --elsewhere: keep that model's abstainer too and save the one fitted here beside it as "
                        "an off-topic abstainer; a question either one finds unlikely is refused")
    p.add_argument("--max-false-refusals", type=float, default=0.05, help="false-refusal budget of the threshold, held on every cross-validation fold (default 0.05)")
    p.add_argument("--expansions", type=_expansions, default=None, metavar="TABLE.json",
                   help=f"retrieve with this query-expansion table, as the service does (for instance {EXPANSIONS}); the set it was learned "
                        "from is retrieved with tables learned without each item's document. Default: plain retrieval, as the shipped "
                        "model was trained (retrained on expanded retrieval it answered worse on unseen sets: README)")
    p.add_argument("--necessity", type=Path, default=None, metavar="MODEL.txt",
                   help="weigh each question term by this term-necessity model (learned by 'python -m ragqa.eval.term_necessity') "
                        "and save it beside the ranker; with --ranker, that model's own is used. Default: IDF weights alone")


def run(args: argparse.Namespace) -> int:
    if args.keep_abstainer and (args.ranker is None or not args.elsewhere):
        raise EvalError("--keep-abstainer keeps the abstainer of --ranker MODEL_DIR and fits an off-topic one: give --ranker and --elsewhere")
    for gold, index in args.gold + args.elsewhere:
        if not Path(gold).is_file():
            raise EvalError(f"no gold set at {gold}")
        if not (index / "manifest.json").is_file():
            raise EvalError(f"no index at {index}; build it with 'ragqa ingest DOCS --index {index}'")
    train(args.gold, args.out, Settings(), args.top_k, args.max_false_refusals, args.groups, args.elsewhere, args.elsewhere_share, args.ranker,
          args.keep_abstainer, args.expansions, args.necessity)
    return 0
