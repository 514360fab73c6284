"""The Milvus backend against a Milvus server that goes away and comes back.

milvus-lite's gRPC server (`python -m milvus_lite server`) stands in for a Milvus deployment: the
index is built on it over http://127.0.0.1:PORT, the server is killed while the service runs,
and started again on the same data. While it is gone `/v1/ask` is a 503 that says what to check
and `/healthz` reports it; once it is back both answer again without restarting ragqa. Also: a
collection built by another embedder stops loading with one line that says so.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from ragqa.index.build import ingest_paths
from ragqa.index.embedders import HashEmbedder
from ragqa.index.errors import IndexUnavailable
from ragqa.index.store import load_index
from ragqa.index.vectors import MilvusStore, StoreConfig
from ragqa.service.app import create_app
from ragqa.service.pipeline import Pipeline

from .conftest import SAMPLES, settings_for

QUESTION = "缙云县中医药产业发展由哪个部门负责？"


class MilvusServer:
    """A milvus-lite gRPC server on a free loopback port, keeping its data in `data`."""

    def __init__(self, data: Path) -> None:
        self.data = data
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the milvus-lite server did not start in 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[MilvusServer]:
    running = MilvusServer(tmp_path / "milvus-data")
    running.start()
    yield running
    running.stop()


def _until(check: object, seconds: float = 20.0) -> object:
    """Calls `check()` until it returns something true (a reconnecting client takes a moment)."""
    deadline = time.monotonic() + seconds
    while True:
        got = check()  # type: ignore[operator]
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


def test_milvus_going_away_is_a_503_with_a_reason_and_the_service_recovers_when_it_returns(server: MilvusServer, tmp_path: Path) -> None:
    index = tmp_path / "index"
    config = StoreConfig("milvus", server.uri)
    ingest_paths([SAMPLES], index, HashEmbedder(32), vectors=config)
    settings = settings_for(index)
    pipe = Pipeline(settings, load_index(index, "hash:32", config), HashEmbedder(32))
    with TestClient(create_app(settings, pipe)) as client:
        first = client.post("/v1/ask", json={"question": QUESTION})
        assert first.status_code == 200 and not first.json()["refused"]
        assert client.get("/healthz").json()["status"] == "ok"

        server.stop()
        gone = client.post("/v1/ask", json={"question": QUESTION})
        assert gone.status_code == 503
        error = gone.json()["error"]
        assert error["code"] == "index_unavailable" and "RAGQA_MILVUS_URI" in error["message"] and "Milvus is running" in error["message"]
        health = client.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "unavailable"
        assert server.uri not in health.json()["vectors"]  # where Milvus runs is for the admin key only

        server.start()  # the same data: the collection is there, not loaded
        assert _until(lambda: client.get("/healthz").status_code == 200)
        again = client.post("/v1/ask", json={"question": QUESTION})
        assert again.status_code == 200 and again.json()["answer"] == first.json()["answer"]


def test_a_collection_of_another_embedder_stops_loading_with_one_line(server: MilvusServer, tmp_path: Path) -> None:
    index = tmp_path / "index"
    config = StoreConfig("milvus", server.uri)
    ingest_paths([SAMPLES], index, HashEmbedder(32), vectors=config)
    saved = json.loads((index / "milvus.json").read_text())
    with pytest.raises(IndexUnavailable, match="holds vectors of the embedder hash:32, not other:32; re-ingest") as caught:
        MilvusStore(server.uri, saved["collection"], 32, create=False, embedder="other:32")
    assert "\n" not in str(caught.value)
    manifest = json.loads((index / "manifest.json").read_text())
    manifest["embedder"] = "other:32"  # an index folder whose manifest disagrees with its collection
    (index / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexUnavailable, match="not other:32"):
        MilvusStore.load(index, config)


def test_an_unreachable_milvus_server_stops_loading_with_one_line(tmp_path: Path) -> None:
    gone = MilvusServer(tmp_path / "never-started")
    with pytest.raises(IndexUnavailable, match="RAGQA_MILVUS_URI") as caught:
        MilvusStore(gone.uri, "ragqa_nowhere", 8)
    assert "\n" not in str(caught.value) and gone.uri in str(caught.value)
