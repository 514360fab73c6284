"""An upload costs its own document: the live index's chunks, records, vectors and BM25 tokens
of unchanged documents are reused, and the result equals an index built from scratch."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from ragqa.index import build as build_module
from ragqa.index import keyword as keyword_module
from ragqa.index import store as store_module
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.store import load_index
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
