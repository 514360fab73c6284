"""The vector store contract (index/vectors.py): one test class that FAISS and Milvus (milvus-lite
in a file under the test's folder) both pass, and the Milvus backend end to end: the sample index
built on it answers through the pipeline, uploads and deletes keep the shared collection in step,
and a reader's restricted search ranks exactly as on FAISS.

The rows are six unit vectors in four dimensions whose cosines with the query e0 can be read off:
1.0, 0.8, 0.6, 0.28, 0.0, -0.6, in id order.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import faiss
import numpy as np
import pytest
from fastapi.testclient import TestClient
from ragqa.index.build import ingest_paths
from ragqa.index.dense import FaissStore
from ragqa.index.embedders import HashEmbedder
from ragqa.index.errors import IndexUnavailable
from ragqa.index.search import FusionConfig, Searcher
from ragqa.index.store import load_index
from ragqa.index.vectors import HNSW_ABOVE, MilvusStore, StoreConfig, VectorStore, measure_recall, stable_ids, store_config, tune_recall
from ragqa.ingest.errors import ConfigError
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline
from ragqa.service.retrieval import Retrieval

from .conftest import SAMPLES, settings_for
from .test_access import QUESTIONS, READERS, VISIBLE, _access, access_corpus

BIG = 2**62  # an id as large as a stable (hashed) one
QUOTED = 'c "引号" \\ 文件.txt'  # a document name a filter expression must quote
IDS = np.array([10, 11, 12, 13, 14, BIG], dtype=np.int64)
VECTORS = np.array(
    [[1, 0, 0, 0], [0.8, 0.6, 0, 0], [0.6, 0, 0.8, 0], [0.28, 0.96, 0, 0], [0, 0, 0, 1], [-0.6, 0, 0, 0.8]], dtype=np.float32
)
DOCS = ["a", "a", "b", "b", QUOTED, QUOTED]
KINDS = ["clause", "row", "clause", "row", "clause", "row"]
E0 = np.array([[1, 0, 0, 0]], dtype=np.float32)
_names = itertools.count()


def found(store: VectorStore, query: np.ndarray = E0, k: int = 10, **filters: frozenset[str]) -> list[int]:
    """The ids a search returns for the first query row, best first (-1 padding dropped)."""
    _, ids = store.search(query, k, **filters)
    return [int(i) for i in ids[0] if i >= 0]


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One milvus-lite file for the module's contract tests (one in-process server), a collection
    each; RAGQA_TEST_MILVUS_URI=http://host:19530 runs the contract against a Milvus server instead."""
    return os.environ.get("RAGQA_TEST_MILVUS_URI") or str(tmp_path_factory.mktemp("milvus") / "contract.db")


@pytest.fixture(params=["faiss", "milvus"])
def make(request: pytest.FixtureRequest, milvus_uri: str) -> Iterator[Callable[..., VectorStore]]:
    made: list[MilvusStore] = []

    def make_store(dim: int = 4, hnsw_above: int = HNSW_ABOVE) -> VectorStore:
        if request.param == "faiss":
            return FaissStore(dim, hnsw_above)
        made.append(MilvusStore(milvus_uri, f"ragqa_contract_{os.getpid()}_{next(_names)}", dim, os.environ.get("RAGQA_TEST_MILVUS_TOKEN", ""), hnsw_above))
        return made[-1]

    yield make_store
    for store in made:
        store.drop()


def reopen(store: VectorStore, folder: Path) -> VectorStore:
    store.save(folder)
    if isinstance(store, MilvusStore):
        return MilvusStore.load(folder, StoreConfig("milvus", "", os.environ.get("RAGQA_TEST_MILVUS_TOKEN", "")))
    return FaissStore.load(folder)


class TestVectorStoreContract:
    @pytest.fixture
    def full(self, make: Callable[..., VectorStore]) -> VectorStore:
        store = make()
        store.add(IDS, VECTORS, DOCS, KINDS)
        return store

    def test_a_search_ranks_every_row_by_cosine(self, full: VectorStore) -> None:
        scores, ids = full.search(E0, 6)
        assert ids[0].tolist() == IDS.tolist() and full.count() == 6
        assert scores[0].tolist() == pytest.approx([1.0, 0.8, 0.6, 0.28, 0.0, -0.6], abs=1e-5)
        assert found(full, np.vstack([E0, VECTORS[4:5]]), 1) == [10]  # one row of results per query
        assert full.search(np.vstack([E0, VECTORS[4:5]]), 1)[1][1].tolist() == [14]

    def test_k_larger_than_the_store_gives_every_row_then_nothing(self, full: VectorStore) -> None:
        _, ids = full.search(E0, 50)
        assert found(full, k=50) == IDS.tolist() and (ids[0][6:] == -1).all()

    def test_an_empty_store_finds_nothing_and_holds_nothing(self, make: Callable[..., VectorStore], tmp_path: Path) -> None:
        store = make()
        assert store.count() == 0 and found(store) == [] and found(store, docs=frozenset({"a"})) == []
        assert store.contains(IDS).tolist() == [False] * 6
        store.retain(IDS)
        store.delete_document("a")
        assert reopen(store, tmp_path).count() == 0

    def test_filters_rank_only_the_allowed_rows_before_taking_the_top_k(self, full: VectorStore) -> None:
        assert found(full, docs=frozenset({"b", QUOTED})) == [12, 13, 14, BIG]
        assert found(full, kinds=frozenset({"row"})) == [11, 13, BIG]
        assert found(full, docs=frozenset({"a", "b"}), kinds=frozenset({"row"})) == [11, 13]
        assert found(full, k=1, docs=frozenset({QUOTED})) == [14]  # the best of that document, not the best overall
        assert found(full, docs=frozenset()) == found(full, docs=frozenset({"no such document"})) == []
        assert found(full, kinds=frozenset()) == []

    def test_deleting_a_document_removes_only_its_rows(self, full: VectorStore) -> None:
        full.delete_document(QUOTED)
        assert full.count() == 4 and found(full) == [10, 11, 12, 13]
        full.delete_document("no such document")
        assert full.count() == 4 and found(full, docs=frozenset({QUOTED})) == []

    def test_adding_an_id_again_replaces_its_row(self, full: VectorStore) -> None:
        full.add(np.array([10]), np.array([[0, 0, 0, 1]], dtype=np.float32), [QUOTED], ["row"])
        assert full.count() == 6
        assert found(full) == [11, 12, 13, 10, 14, BIG] or found(full) == [11, 12, 13, 14, 10, BIG]  # 10 and 14 tie at 0
        assert found(full, docs=frozenset({"a"})) == [11] and 10 in found(full, kinds=frozenset({"row"}), docs=frozenset({QUOTED}))
        assert full.vectors(np.array([10])).tolist() == [[0, 0, 0, 1]]

    def test_contains_and_retain_work_by_id(self, full: VectorStore) -> None:
        assert full.contains(np.array([10, 99, BIG])).tolist() == [True, False, True]
        full.retain(np.array([11, 14, 99]))
        assert full.count() == 2 and found(full) == [11, 14]

    def test_a_saved_store_loads_with_the_same_rows(self, full: VectorStore, tmp_path: Path) -> None:
        again = reopen(full, tmp_path)
        assert again.count() == 6 and again.dim == 4 and again.kind == full.kind
        assert found(again) == IDS.tolist() and found(again, docs=frozenset({QUOTED})) == [14, BIG]
        assert np.allclose(again.vectors(IDS[::-1]), VECTORS[::-1], atol=1e-6)
        with pytest.raises(IndexUnavailable):
            again.vectors(np.array([99]))

    def test_malformed_rows_are_refused(self, make: Callable[..., VectorStore]) -> None:
        store = make()
        with pytest.raises(ValueError, match="dimensions"):
            store.add(np.array([1]), np.ones((1, 5), np.float32), ["a"], ["clause"])
        with pytest.raises(ValueError, match="unique"):
            store.add(np.array([1, 1]), VECTORS[:2], ["a", "a"], ["clause", "clause"])
        with pytest.raises(ValueError, match=">= 0"):
            store.add(np.array([-1]), VECTORS[:1], ["a"], ["clause"])
        with pytest.raises(ValueError, match="one each"):
            store.add(np.array([1, 2]), VECTORS[:2], ["a"], ["clause", "clause"])
        with pytest.raises(ValueError, match="one each"):
            store.add(np.array([1]), VECTORS[:2], ["a"], ["clause"])
        assert store.count() == 0

    def test_past_the_threshold_search_is_approximate_with_measured_recall(self, make: Callable[..., VectorStore]) -> None:
        rng = np.random.default_rng(7)
        vectors = rng.normal(size=(300, 16)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = np.arange(1000, 1300, dtype=np.int64)
        store = make(16, hnsw_above=100)
        store.add(ids[:50], vectors[:50], ["a"] * 50, ["clause"] * 50)
        assert store.exact and tune_recall(store, vectors[:50], ids[:50]) == 1.0
        store.add(ids[50:], vectors[50:], ["a"] * 250, ["clause"] * 250)
        assert not store.exact and "hnsw" in store.kind
        assert tune_recall(store, vectors, ids) >= 0.95
        assert found(store, vectors[5:6], 1) == [1005]


def test_recall_counts_a_tie_with_the_kth_best_as_found() -> None:
    vectors = np.vstack([VECTORS, VECTORS]).astype(np.float32)  # every vector twice: exact top-k has ties
    store = FaissStore(4)
    store.add(np.arange(12), vectors, ["a"] * 12, ["clause"] * 12)
    assert measure_recall(store, vectors, np.arange(12), k=3) == 1.0
    assert measure_recall(store, vectors, np.arange(12)[::-1].copy(), k=3) < 1.0  # ids that do not match the vectors


def test_faiss_hnsw_holds_8bit_codes_and_ranks_by_the_float32_vectors_on_disk(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(400, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(5000, 5400, dtype=np.int64)
    store = FaissStore(32, hnsw_above=100)
    store.add(ids, vectors, ["a"] * 200 + ["b"] * 200, ["clause"] * 400)
    assert store.kind == "hnsw32-sq8" and tune_recall(store, vectors, ids) >= 0.95
    store.save(tmp_path)
    assert (tmp_path / "dense.vectors.f32").read_bytes() == vectors.tobytes()
    held = faiss.read_index(str(tmp_path / "dense.faiss"))
    assert isinstance(held, faiss.IndexHNSWSQ) and faiss.downcast_index(held.storage).sq.qtype == faiss.ScalarQuantizer.QT_8bit  # a byte a dimension
    loaded = FaissStore.load(tmp_path)
    assert loaded.kind == "hnsw32-sq8" and np.array_equal(loaded.vectors(ids[[7, 399, 0]]), vectors[[7, 399, 0]])
    scores, found = loaded.search(vectors[:3], 10, docs=frozenset({"b"}))
    rows = found - 5000
    assert (rows >= 200).all() and np.allclose(scores, np.einsum("qd,qkd->qk", vectors[:3], vectors[rows]), atol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()
    (tmp_path / "dense.vectors.f32").write_bytes(vectors[:10].tobytes())
    with pytest.raises(ValueError, match="float32"):
        FaissStore.load(tmp_path)


def test_a_question_is_searched_on_one_openmp_thread_with_the_same_ranking_and_the_setting_restored() -> None:
    """A batch of up to four queries runs on one OpenMP thread (index/dense.py `_one_omp_thread`):
    exact and HNSW searches return what a batch too large for it returns, and the calling thread's
    own setting is what it was before."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(300, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(300, dtype=np.int64)
    for hnsw_above in (HNSW_ABOVE, 100):
        store = FaissStore(16, hnsw_above=hnsw_above)
        store.add(ids, vectors, ["a"] * 300, ["clause"] * 300)
        before = faiss.omp_get_max_threads()
        one_by_one = [store.search(vectors[i : i + 1], 8)[1][0] for i in range(12)]
        assert faiss.omp_get_max_threads() == before
        batched = store.search(vectors[:12], 8)[1]  # twelve queries: FAISS keeps its threads
        assert np.array_equal(np.vstack(one_by_one), batched)


def test_stable_ids_are_the_same_in_every_build_and_distinct_within_one() -> None:
    keys = [("a.txt", "clause", "第一条"), ("a.txt", "clause", "第一条"), ("b.txt", "clause", "第一条"), ("a.txt", "row", "第一条")]
    ids = stable_ids(keys)
    assert len(set(ids.tolist())) == 4 and (ids >= 0).all()
    assert stable_ids(keys).tolist() == ids.tolist() and stable_ids(keys[2:]).tolist() == ids[2:].tolist()


def test_store_settings_come_from_the_settings_object_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGQA_STORE", "milvus")
    monkeypatch.setenv("RAGQA_MILVUS_URI", "http://milvus:19530")
    assert store_config() == StoreConfig("milvus", "http://milvus:19530")

    class Fields:
        store, milvus_uri, milvus_token = "faiss", "", ""

    assert store_config(Fields()) == StoreConfig()
    with pytest.raises(ConfigError, match="RAGQA_STORE"):
        StoreConfig("qdrant")
    with pytest.raises(ConfigError, match="RAGQA_MILVUS_URI"):
        StoreConfig("milvus", "milvus:19530")


# ---------------------------------------------------------------- the Milvus backend end to end


@pytest.fixture(scope="module")
def milvus_sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, StoreConfig]:
    """The sample corpus indexed on milvus-lite with the hash embedder (the database beside the index)."""
    index = tmp_path_factory.mktemp("milvus-sample") / "index"
    config = StoreConfig("milvus")
    ingest_paths([SAMPLES], index, HashEmbedder(64), vectors=config)
    return index, config


def test_a_milvus_index_keeps_all_but_the_vectors_in_its_folder(milvus_sample: tuple[Path, StoreConfig]) -> None:
    index, config = milvus_sample
    names = {p.name for p in index.iterdir()}
    assert {"manifest.json", "text.sqlite", "keyword", "milvus.json", "vector_ids.npy"} <= names
    assert "dense.faiss" not in names
    manifest = json.loads((index / "manifest.json").read_text())
    assert (manifest["store"], manifest["dense"], manifest["dense_recall@10"]) == ("milvus", "milvus-flat", 1.0)
    saved = json.loads((index / "milvus.json").read_text())
    assert saved["uri"] == str(index.parent / "index.milvus.db") and saved["collection"].startswith("ragqa_")
    loaded = load_index(index, "hash:64", config)
    assert loaded.dense.count() == len(loaded.chunks) == manifest["chunks"]


def test_the_sample_index_on_milvus_answers_through_the_pipeline_as_on_faiss(milvus_sample: tuple[Path, StoreConfig], hash_index: Path) -> None:
    index, config = milvus_sample
    milvus = Pipeline(settings_for(index), load_index(index, "hash:64", config), HashEmbedder(64))
    faiss = Pipeline(settings_for(hash_index), load_index(hash_index), HashEmbedder(64))
    answer = milvus.ask("缙云县中医药产业发展由哪个部门负责？")
    assert not answer.refused and answer.citations[0].doc == "002_c48d23b415dc882a.txt"
    for question in ("东阳2023年GDP要增长多少", "专项债", "缙云县中医药产业发展由哪个部门负责？", "新建供水管网"):
        assert milvus.search(question, 10) == faiss.search(question, 10), question
        assert milvus.ask(question).answer == faiss.ask(question).answer


def test_uploads_and_deletes_keep_the_index_on_milvus_and_the_collection_in_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLES, corpus)
    index = tmp_path / "index"
    monkeypatch.delenv("RAGQA_STORE", raising=False)  # an upload keeps the index's store, whatever RAGQA_STORE says
    ingest_paths([corpus], index, HashEmbedder(32), vectors=StoreConfig("milvus"))
    pipe = Pipeline(settings_for(index), load_index(index), HashEmbedder(32))
    collection = json.loads((index / "milvus.json").read_text())["collection"]
    staged = tmp_path / "index.data" / "incoming"
    staged.mkdir(parents=True)
    (staged / "u.txt").write_text("某县城乡供水工作方案\n一、新建供水管网120公里。\n责任单位：县水务局\n", encoding="utf-8")
    pipe.add_documents([("供水方案.txt", staged / "u.txt")])
    assert pipe.index.manifest["store"] == "milvus"
    assert json.loads((index / "milvus.json").read_text())["collection"] == collection
    assert pipe.index.dense.count() == len(pipe.index.chunks)
    assert pipe.search("新建供水管网多少公里", 1)[0].doc == "供水方案.txt"
    pipe.delete_document("001_c639e19f48d489c6.txt")
    assert pipe.index.dense.count() == len(pipe.index.chunks)
    assert pipe.index.dense.contains(load_index(index).row_ids()).all()
    assert all(p.doc != "001_c639e19f48d489c6.txt" for p in pipe.search("东阳", 20))


class Counting(HashEmbedder):
    """The hash embedder, counting the texts it embeds."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.texts = 0

    def encode(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return super().encode(texts)


def test_a_rebuild_on_milvus_embeds_only_chunks_the_collection_lacks(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLES, corpus)
    embedder, config = Counting(32), StoreConfig("milvus")
    first = ingest_paths([corpus], tmp_path / "index", embedder, vectors=config)
    assert embedder.texts > 0
    embedder.texts = 0
    ingest_paths([corpus], tmp_path / "index", embedder, vectors=config)
    assert embedder.texts == 0  # the same corpus again: every row is already there
    doc = corpus / "003_9350541e24857315.txt"
    doc.write_text(doc.read_text(encoding="utf-8") + "\n附则：本规划自印发之日起施行。\n", encoding="utf-8")
    again = ingest_paths([corpus], tmp_path / "index", embedder, vectors=config)
    assert 0 < embedder.texts <= 2 and again.chunks >= first.chunks
    index = load_index(tmp_path / "index", store=config)
    assert index.dense.count() == len(index.chunks)  # the edited document's old rows are gone


def test_switching_an_index_from_milvus_lite_to_faiss_drops_its_collection(tmp_path: Path) -> None:
    ingest_paths([SAMPLES], tmp_path / "index", HashEmbedder(16), vectors=StoreConfig("milvus"))
    saved = json.loads((tmp_path / "index" / "milvus.json").read_text())
    ingest_paths([SAMPLES], tmp_path / "index", HashEmbedder(16), vectors=StoreConfig("faiss"))
    assert load_index(tmp_path / "index").manifest["store"] == "faiss"
    with pytest.raises(IndexUnavailable, match="no collection"):
        MilvusStore(saved["uri"], saved["collection"], 16, create=False)


def test_an_unreachable_milvus_says_what_to_check() -> None:
    with pytest.raises(IndexUnavailable, match="RAGQA_MILVUS_URI"):
        MilvusStore("http://127.0.0.1:9", "ragqa_nowhere", 4)


def test_a_lost_collection_is_a_503_and_then_says_to_reingest(tmp_path: Path) -> None:
    ingest_paths([SAMPLES], tmp_path / "index", HashEmbedder(16), vectors=StoreConfig("milvus"))
    settings = settings_for(tmp_path / "index")
    pipe = Pipeline(settings, load_index(tmp_path / "index", store=StoreConfig("milvus")), HashEmbedder(16))
    assert isinstance(pipe.index.dense, MilvusStore)
    pipe.index.dense.drop()
    with TestClient(create_app(settings, pipe)) as client:
        response = client.post("/v1/search", json={"query": "专项债", "top_k": 3})
    assert response.status_code == 503 and response.json()["error"]["code"] == "index_unavailable"
    assert "RAGQA_MILVUS_URI" in response.json()["error"]["message"]
    with pytest.raises(IndexUnavailable, match="re-ingest"):
        load_index(tmp_path / "index", store=StoreConfig("milvus"))


@pytest.fixture(scope="module")
def access_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Retrieval]]:
    """The access-control corpus indexed on FAISS and on Milvus."""
    folder = tmp_path_factory.mktemp("access-milvus")
    corpus = access_corpus(folder / "corpus")
    out = {}
    for kind in ("faiss", "milvus"):
        ingest_paths([corpus], folder / kind, HashEmbedder(64), vectors=StoreConfig(kind))
        out[kind] = Retrieval(load_index(folder / kind, store=StoreConfig(kind)), HashEmbedder(64), FusionConfig())
    yield out


@pytest.mark.parametrize("reader", list(READERS))
def test_a_readers_restricted_search_on_milvus_ranks_as_on_faiss(access_pair: dict[str, Retrieval], reader: str) -> None:
    views = {kind: retrieval.current.restricted(_access(reader)) for kind, retrieval in access_pair.items()}
    dense_only = {
        kind: Searcher(r.current.index, HashEmbedder(64), FusionConfig(0.0, 1.0)).restricted(frozenset(VISIBLE[reader]))
        for kind, r in access_pair.items()
    }
    for question in QUESTIONS:
        got = {kind: [(h.chunk.doc_id, h.chunk.start_line, h.keyword_rank, h.dense_rank) for h in view.search(question, 10)]
               for kind, view in views.items()}  # fmt: skip
        assert got["milvus"] == got["faiss"], (reader, question)
        assert {doc for doc, *_ in got["milvus"]} <= VISIBLE[reader]
        dense = {kind: [(h.chunk.doc_id, h.chunk.start_line, round(h.dense_score, 4)) for h in s.search(question, 20)] for kind, s in dense_only.items()}
        assert dense["milvus"] == dense["faiss"] and dense["milvus"], (reader, question)


def test_faiss_hnsw_past_the_4bit_threshold_holds_half_a_byte_a_dimension(tmp_path: Path) -> None:
    """Above `sq4_above` rows the codes are 4-bit; the wider exact rerank keeps recall@10 at the
    target, and a saved store reads back as 4-bit (the rerank width follows the codes)."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(600, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(600, dtype=np.int64)
    store = FaissStore(32, hnsw_above=100, sq4_above=500)
    store.add(ids, vectors, ["a"] * 600, ["clause"] * 600)
    assert store.kind == "hnsw32-sq4" and tune_recall(store, vectors, ids) >= 0.95
    store.save(tmp_path)
    held = faiss.read_index(str(tmp_path / "dense.faiss"))
    assert faiss.downcast_index(held.storage).sq.qtype == faiss.ScalarQuantizer.QT_4bit
    loaded = FaissStore.load(tmp_path)
    scores, found = loaded.search(vectors[:5], 10)
    assert loaded.kind == "hnsw32-sq4" and (found[:, 0] == ids[:5]).all()  # each vector finds itself first, by exact cosine
    assert np.allclose(scores, np.einsum("qd,qkd->qk", vectors[:5], vectors[found]), atol=1e-6)
    at_threshold = FaissStore(32, hnsw_above=100, sq4_above=600)
    at_threshold.add(ids, vectors, ["a"] * 600, ["clause"] * 600)
    assert at_threshold.kind == "hnsw32-sq8"  # 600 rows are not above 600
