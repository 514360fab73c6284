"""An upload costs its own document: the live index's chunks, records, vectors and BM25 term
counts of unchanged documents are reused (copied, not recomputed), and the result equals an index
built from scratch, after any sequence of uploads, replacements and deletes."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ragqa.index import build as build_module
from ragqa.index import keyword as keyword_module
from ragqa.index import store as store_module
from ragqa.index import update as update_module
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.store import LoadedIndex, load_index, read_manifest, reconstruct_vectors
from ragqa.service import documents as documents_module
from ragqa.service.pipeline import Pipeline

from .conftest import SAMPLES, settings_for

UPLOAD = "某县2024年城乡供水工作方案\n一、工作目标\n（一）新建供水管网120公里。\n责任单位：县水务局、县财政局\n（二）改造老旧小区二次供水设施30处。\n责任单位：县住建局\n"


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[Any]:
    calls: list[Any] = []
    real = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def test_an_upload_chunks_tokenises_and_extracts_only_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest_paths([SAMPLES], tmp_path / "index", HashEmbedder(32))
    pipe = Pipeline(settings_for(tmp_path / "index"), load_index(tmp_path / "index"), HashEmbedder(32))
    chunked = _counting(monkeypatch, build_module, "chunk_document")
    tokenised = _counting(monkeypatch, keyword_module, "tokenize")
    extracted = _counting(monkeypatch, store_module, "extract_records")
    for name, calls in (("chunk_document", chunked), ("tokenize", tokenised), ("extract_records", extracted)):
        real = getattr(update_module, name)
        monkeypatch.setattr(update_module, name, lambda *a, _real=real, _calls=calls, **k: _calls.append(a[0]) or _real(*a, **k))
    staged = tmp_path / "index.data" / "incoming"
    staged.mkdir(parents=True)
    (staged / "u.txt").write_text(UPLOAD, encoding="utf-8")
    assert pipe.add_documents([("供水方案.txt", staged / "u.txt")]).added == ["供水方案.txt"]
    new_chunks = [c for c in pipe.index.chunks if c.doc_id == "供水方案.txt"]
    assert [d.doc_id for d in chunked] == [d.doc_id for d in extracted] == ["供水方案.txt"]
    assert 0 < len(tokenised) == len(new_chunks) < len(pipe.index.chunks)

    monkeypatch.undo()
    fresh_corpus = tmp_path / "fresh"
    shutil.copytree(SAMPLES, fresh_corpus)
    (fresh_corpus / "供水方案.txt").write_text(UPLOAD, encoding="utf-8")
    ingest_paths([fresh_corpus], tmp_path / "fresh-index", HashEmbedder(32))
    fresh = load_index(tmp_path / "fresh-index")
    assert list(pipe.index.chunks) == list(fresh.chunks)
    assert list(pipe.index.records) == list(fresh.records)
    for query in ("新建供水管网多少公里", "地区生产总值增长", "县住建局"):
        assert list(pipe.index.keyword.scores(query)) == pytest.approx(list(fresh.keyword.scores(query)))


def _same_index(got: LoadedIndex, want: LoadedIndex) -> None:
    """Two indexes hold the same documents, chunks, records, vectors and BM25 scores."""
    assert list(got.documents.heads) == list(want.documents.heads)
    assert [got.documents[d] for d in got.documents] == [want.documents[d] for d in want.documents]
    assert list(got.chunks) == list(want.chunks)
    assert list(got.records) == list(want.records)
    assert np.array_equal(reconstruct_vectors(got), reconstruct_vectors(want))
    assert got.keyword.df == want.keyword.df
    for query in ("新建供水管网多少公里", "地区生产总值增长", "县住建局", "责任单位", "二次供水"):
        assert np.array_equal(got.keyword.scores(query), want.keyword.scores(query)), query
    assert read_manifest(got.path)["corpus"] == read_manifest(want.path)["corpus"]


def test_any_sequence_of_uploads_and_deletes_equals_a_fresh_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Random adds, replacements and deletes through the pipeline, each checked against a build
    from scratch of the documents that remain; the updates never run the full build."""
    rng = np.random.default_rng(7)
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(SAMPLES.glob("*.txt"))}
    extra = {f"新增{i}.txt": UPLOAD.replace("120", str(100 + i)).replace("县水务局", f"第{i}水务所") for i in range(4)}
    first = dict(list(texts.items())[:3])
    corpus = tmp_path / "start"
    corpus.mkdir()
    for name, text in first.items():
        (corpus / name).write_text(text, encoding="utf-8")
    ingest_paths([corpus], tmp_path / "index", HashEmbedder(32))
    pipe = Pipeline(settings_for(tmp_path / "index"), load_index(tmp_path / "index"), HashEmbedder(32))
    full_builds: list[int] = []
    real_build = build_module.build_index
    pool = {**texts, **extra}
    current = dict(first)
    staged = tmp_path / "index.data" / "incoming"
    staged.mkdir(parents=True)

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        full_builds.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(documents_module, "build_index", counting_build)
    actions: list[str] = []
    for step in range(10):
        action = str(rng.choice(["add", "replace", "delete"])) if len(current) > 1 else "add"
        actions.append(action)
        if action == "delete":
            name = str(rng.choice(sorted(current)))
            pipe.delete_document(name)
            del current[name]
        else:
            name = str(rng.choice(sorted(set(pool) - set(current)) if action == "add" else sorted(current)))
            text = pool[name] if action == "add" else pool[name] + f"\n（{step}）补充条款：本方案自印发之日起施行。\n"
            (staged / f"{step}.txt").write_text(text, encoding="utf-8")
            assert pipe.add_documents([(name, staged / f"{step}.txt")]).added == [name]
            current[name] = text
        fresh_corpus = tmp_path / f"fresh{step}"
        fresh_corpus.mkdir()
        for doc, text in current.items():
            (fresh_corpus / doc).write_text(text, encoding="utf-8")
        ingest_paths([fresh_corpus], tmp_path / f"fresh{step}-index", HashEmbedder(32))
        _same_index(pipe.index, load_index(tmp_path / f"fresh{step}-index"))
    assert full_builds == []
    assert {"add", "replace", "delete"} <= set(actions)
