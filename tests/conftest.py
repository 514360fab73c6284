"""Shared fixtures: the shipped sample corpus, indexes built from it, a tiny fixture corpus.

Indexes are real (real chunker, FAISS, BM25). Unit tests use the deterministic hash embedder;
quality floors use the default USE embedder, built once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder, UseEmbedder
from ragqa.index.keyword import configure_jieba
from ragqa.service.pipeline import Pipeline
from ragqa.service.settings import Settings, get_settings

from . import serving

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples" / "corpus"
DEV_GOLD = ROOT / "eval" / "gold" / "dev.jsonl"

TINY_DOCS = {
    "规定.txt": "某市数据管理规定\n\n第一条 为了规范数据管理，制定本规定。\n\n第二条 按照第一条的要求，各部门应当报送数据。\n"
    "\n第三条 市大数据局负责全市数据管理工作。\n",
    "計劃.md": "# 某縣2024年工作計劃\n\n一、主要目標\n\n（一）經濟目標\n\n1.地區生產總值增長6%以上。\n\n2.新增規上企業50家。\n"
    "\n二、保障措施\n\n（一）加強領導\n\n責任單位：縣發改局\n",
    "table.txt": "任务清单\n序号\t任务\t牵头单位\t配合单位\n1\t建设产业园\t市经信局\t市财政局\n\t二期工程\t\t市住建局\n2\t人才引进\t市人社局\t市科技局\n",
}


@pytest.fixture(scope="session", autouse=True)
def _jieba_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    configure_jieba(ROOT / ".ragqa" / "cache" / "jieba")


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    for name, text in TINY_DOCS.items():
        (root / name).write_text(text, encoding="utf-8")
    (root / "gbk.txt").write_bytes("第一条 本文件使用GBK编码保存。\n".encode("gbk"))
    (root / "binary.txt").write_bytes(b"\x00\x01\x02\xff" * 50)
    return root


@pytest.fixture(scope="session")
def hash_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("hash") / "index"
    ingest_paths([SAMPLES], target, HashEmbedder(64))
    return target


@pytest.fixture(scope="session")
def use_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("use") / "index"
    ingest_paths([SAMPLES], target, UseEmbedder())
    return target


def settings_for(index: Path, **overrides: object) -> Settings:
    return get_settings(index_dir=index, cache_dir=ROOT / ".ragqa" / "cache", **overrides)


@pytest.fixture(scope="session")
def use_pipeline(use_index: Path) -> Iterator[Pipeline]:
    yield Pipeline.from_settings(settings_for(use_index))


@pytest.fixture(scope="session")
def start_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[serving.StartService]:
    """start_service(index, cors_origins, extra_env=None) -> a running `ragqa serve`, one process
    per distinct call, all stopped at the end of the session."""
    running: dict[tuple[Path, tuple[str, ...], tuple[tuple[str, str], ...]], serving.Service] = {}
    logs = tmp_path_factory.mktemp("service-logs")

    def start(index: Path, cors_origins: list[str], extra_env: dict[str, str] | None = None) -> serving.Service:
        key = (index, tuple(cors_origins), tuple(sorted((extra_env or {}).items())))
        if key not in running:
            running[key] = serving.start(index, cors_origins, extra_env or {}, logs / f"serve-{len(running)}.log")
        return running[key]

    yield start
    for service in running.values():
        serving.stop(service)
