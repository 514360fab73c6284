"""Uploads survive crashes and restarts: the document store, the start-up check, jobs, and a
`kill -9` at each step of an upload (real `ragqa serve` processes on loopback)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.store import embed_text, load_index, read_manifest, reconstruct_vectors
from ragqa.ingest.docstore import DocumentStore
from ragqa.ingest.durable import CRASH_POINTS
from ragqa.service.pipeline import Pipeline
from ragqa.service.settings import get_settings

from . import serving

KEY = "k-durable"
AUTH = {"Authorization": f"Bearer {KEY}"}
DOCS = {
    "规定甲.txt": "第一条 本市设立海棠数据中心，负责政务数据归集。\n第二条 海棠数据中心每年公布目录。\n",
    "规定乙.txt": "第一条 本市设立银杏档案馆，负责档案保管。\n第二条 银杏档案馆开放查阅。\n",
}
UPLOAD_A = ("通知丙.txt", "关于设立松柏服务站的通知\n松柏服务站每周二接待群众来访。\n")
UPLOAD_B = ("通知丁.txt", "关于设立梧桐实验室的通知\n梧桐实验室负责新材料研究。\n")
PHRASES = {"规定甲.txt": "海棠数据中心", "规定乙.txt": "银杏档案馆", UPLOAD_A[0]: "松柏服务站", UPLOAD_B[0]: "梧桐实验室"}


def _corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in DOCS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    return corpus


def _index(tmp_path: Path) -> Path:
    """An index built the way older versions did: no document store beside it yet."""
    index = tmp_path / "index"
    ingest_paths([_corpus(tmp_path)], index, HashEmbedder(32))
    return index


def _serve(index: Path, log: Path, **env: str) -> serving.Service:
    return serving.start(index, [], {"RAGQA_ADMIN_KEY": KEY, **env}, log)


def _upload(url: str, name: str, text: str, timeout: float = 60.0) -> httpx.Response:
    return httpx.post(f"{url}/v1/documents", files={"files": (name, text.encode(), "text/plain")}, headers=AUTH, timeout=timeout)


def _listed(url: str) -> set[str]:
    return {d["doc"] for d in httpx.get(f"{url}/v1/documents", timeout=10).json()["documents"]}


def _searchable(url: str) -> set[str]:
    """The documents whose own phrase retrieves them first."""
    found = set()
    for doc, phrase in PHRASES.items():
        passages = httpx.post(f"{url}/v1/search", json={"query": phrase, "top_k": 1}, timeout=10).json()["passages"]
        if passages and passages[0]["doc"] == doc and phrase in passages[0]["text"]:
            found.add(doc)
    return found


def test_the_store_keeps_originals_and_a_lost_index_is_rebuilt_from_it(tmp_path: Path) -> None:
    index = _index(tmp_path)
    service = _serve(index, tmp_path / "1.log")
    try:
        assert _upload(service.url, *UPLOAD_A).status_code == 200
    finally:
        serving.stop(service)
    store = DocumentStore(index.parent / "index.data")
    entries = store.entries()
    assert set(entries) == set(DOCS) | {UPLOAD_A[0]}
    assert entries[UPLOAD_A[0]].origin == "upload" and entries["规定甲.txt"].origin == "index"
    assert (store.files / entries[UPLOAD_A[0]].file).read_text(encoding="utf-8") == UPLOAD_A[1]
    # Lose the index entirely: the next start rebuilds it from the store.
    os.unlink(index)
    service = _serve(index, tmp_path / "2.log")
    try:
        assert _listed(service.url) == _searchable(service.url) == set(DOCS) | {UPLOAD_A[0]}
    finally:
        serving.stop(service)
    assert "rebuilding it from the store" in (tmp_path / "2.log").read_text()


def test_the_seed_is_used_on_the_first_start_only_and_ingest_keeps_uploads(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path)
    index = tmp_path / "live"
    env = serving.service_env([], {"RAGQA_ADMIN_KEY": KEY, "RAGQA_EMBEDDER": "hash:32"})
    port = serving.free_port()
    cmd = [sys.executable, "-m", "ragqa.service.cli", "serve", "--index", str(index), "--port", str(port), "--seed", str(corpus)]
    log = tmp_path / "seed.log"

    def run() -> serving.Service:
        with log.open("ab") as out:
            process = subprocess.Popen(cmd, cwd=serving.REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        service = serving.Service(f"http://127.0.0.1:{port}", process, log)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200:
                    return service
            except httpx.TransportError:
                time.sleep(0.2)
        serving.stop(service)
        pytest.fail(log.read_text())

    service = run()
    try:
        assert _listed(service.url) == set(DOCS)
        assert _upload(service.url, *UPLOAD_A).status_code == 200
        assert httpx.delete(f"{service.url}/v1/documents/规定乙.txt", headers=AUTH, timeout=60).status_code == 200
    finally:
        serving.stop(service)
    (corpus / "规定戊.txt").write_text("第一条 新增的种子文件。\n", encoding="utf-8")  # the seed changes: ignored now
    service = run()
    try:
        assert _listed(service.url) == {"规定甲.txt", UPLOAD_A[0]}
    finally:
        serving.stop(service)
    ingest = [sys.executable, "-m", "ragqa.service.cli", "ingest", str(corpus), "--index", str(index)]
    done = subprocess.run(ingest, cwd=serving.REPO, env=env, capture_output=True, text=True, timeout=300, check=True)
    assert f"kept 1 document(s) uploaded through the API: {UPLOAD_A[0]}" in done.stderr
    assert set(read_manifest(index)["corpus"]) == set(DOCS) | {"规定戊.txt", UPLOAD_A[0]}  # type: ignore[arg-type]
    subprocess.run([*ingest, "--drop-uploads"], cwd=serving.REPO, env=env, capture_output=True, timeout=300, check=True)
    assert set(read_manifest(index)["corpus"]) == set(DOCS) | {"规定戊.txt"}  # type: ignore[arg-type]


def test_leftovers_of_a_killed_build_and_upload_are_removed_at_start(tmp_path: Path) -> None:
    index = _index(tmp_path)
    builds = tmp_path / ".index.builds"
    stale = builds / "20200101T000000-999999-deadbeef"
    stale.mkdir()
    (stale / "text.sqlite").write_text("half")
    (tmp_path / ".index.link-999999").symlink_to(stale)
    incoming = tmp_path / "index.data" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "partial.txt").write_bytes(b"half an upload")
    live = index.resolve()
    service = _serve(index, tmp_path / "s.log")
    try:
        assert _listed(service.url) == set(DOCS)
    finally:
        serving.stop(service)
    assert not stale.exists() and not (tmp_path / ".index.link-999999").is_symlink()
    assert not incoming.exists() and live.exists()


def test_an_upload_finishes_as_a_job_when_its_client_does_not_wait(tmp_path: Path) -> None:
    service = _serve(_index(tmp_path), tmp_path / "j.log")
    try:
        url = service.url
        response = httpx.post(f"{url}/v1/documents?wait=false", files={"files": (UPLOAD_A[0], UPLOAD_A[1].encode(), "text/plain")},
                              headers=AUTH, timeout=30)
        assert response.status_code == 202, response.text
        job = response.json()["job"]
        assert job["state"] == "running" and job["documents"] == [UPLOAD_A[0]]
        assert httpx.get(f"{url}/v1/jobs/{job['id']}", timeout=10).status_code == 401
        deadline = time.monotonic() + 60
        while (state := httpx.get(f"{url}/v1/jobs/{job['id']}", headers=AUTH, timeout=10).json())["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert state["state"] == "done" and state["result"]["added"] == [UPLOAD_A[0]]
        assert UPLOAD_A[0] in _listed(url) and UPLOAD_A[0] in _searchable(url)
        bad = _upload(url, "坏.bin", "x")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "unreadable_document"
        jobs = httpx.get(f"{url}/v1/jobs", headers=AUTH, timeout=10).json()["jobs"]
        assert [j["state"] for j in jobs[:2]] == ["failed", "done"] and jobs[0]["error"]["code"] == "unreadable_document"
        assert httpx.get(f"{url}/v1/jobs/nope", headers=AUTH, timeout=10).status_code == 404
    finally:
        serving.stop(service)


def test_an_upload_whose_client_hangs_up_is_committed_and_shown_done(tmp_path: Path) -> None:
    service = _serve(_index(tmp_path), tmp_path / "h.log")
    try:
        request = httpx.Request("POST", f"{service.url}/v1/documents", headers=AUTH,
                                files={"files": (UPLOAD_B[0], UPLOAD_B[1].encode(), "text/plain")})
        head = ["POST /v1/documents HTTP/1.1", f"Host: {request.url.host}"]
        head += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
        with socket.create_connection((request.url.host, request.url.port or 80)) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + request.read())
        # the client is gone before any answer: the job must still finish
        deadline = time.monotonic() + 60
        while UPLOAD_B[0] not in _listed(service.url):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        # the new index is served first; the job says done once it has finished its bookkeeping
        while (jobs := httpx.get(f"{service.url}/v1/jobs", headers=AUTH, timeout=10).json()["jobs"])[0]["state"] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert jobs[0]["documents"] == [UPLOAD_B[0]] and jobs[0]["state"] == "done"
    finally:
        serving.stop(service)


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_9_during_an_upload_loses_nothing_acknowledged(tmp_path: Path, point: str) -> None:
    index = _index(tmp_path)
    service = _serve(index, tmp_path / "before.log")
    try:
        assert _upload(service.url, *UPLOAD_A).status_code == 200  # acknowledged
    finally:
        serving.stop(service)
    service = _serve(index, tmp_path / "crash.log", RAGQA_CRASH_AT=point)
    with pytest.raises(httpx.TransportError):
        _upload(service.url, *UPLOAD_B)
    assert service.process.wait(timeout=30) == -9
    service = _serve(index, tmp_path / "after.log")
    try:
        listed = _listed(service.url)
        assert listed == _searchable(service.url), "the document list must match what is searchable"
        assert set(DOCS) | {UPLOAD_A[0]} <= listed, "an acknowledged upload was lost"
        committed = point != "read"  # from "stored" on, the original was durable before the kill
        assert (UPLOAD_B[0] in listed) == committed
    finally:
        serving.stop(service)
    store = DocumentStore(index.parent / "index.data")
    assert read_manifest(index)["corpus"] == store.identities()
    assert not store.incoming.exists() or not any(store.incoming.iterdir())
    builds = sorted((tmp_path / ".index.builds").iterdir())
    assert builds == [index.resolve()], "a half-built index folder was left behind"
    assert json.loads((store.root / "catalog.json").read_text())["format"] == 1


class _CountingEmbedder(HashEmbedder):
    """The real hashing embedder, counting the texts it is asked to embed."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim)
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> Any:
        self.texts += texts
        return super().encode(texts)


def test_an_upload_embeds_only_its_own_chunks_and_search_is_unchanged(tmp_path: Path) -> None:
    index = _index(tmp_path)
    embedder = _CountingEmbedder(32)
    settings = get_settings(index_dir=index, cache_dir=serving.REPO / ".ragqa" / "cache")
    pipe = Pipeline(settings, load_index(index), embedder)
    before = {doc: pipe.search(phrase, 1)[0].score for doc, phrase in PHRASES.items() if doc in DOCS}
    staged = tmp_path / "index.data" / "incoming"
    staged.mkdir(parents=True)
    (staged / "x.txt").write_text(UPLOAD_A[1], encoding="utf-8")
    embedder.texts.clear()  # (the searches above embedded their queries)
    assert pipe.add_documents([(UPLOAD_A[0], staged / "x.txt")]).added == [UPLOAD_A[0]]
    new_chunks = [c for c in pipe.index.chunks if c.doc_id == UPLOAD_A[0]]
    assert 0 < len(embedder.texts) == len(new_chunks) < len(pipe.index.chunks)
    after = {doc: pipe.search(phrase, 1)[0].score for doc, phrase in PHRASES.items() if doc in DOCS}
    assert after == pytest.approx(before)  # reused vectors score as freshly embedded ones did
    rebuilt = Pipeline(settings, load_index(index), HashEmbedder(32))
    fresh = HashEmbedder(32).encode([embed_text(c) for c in rebuilt.index.chunks])
    assert np.allclose(reconstruct_vectors(rebuilt.index), fresh, atol=1e-6)
