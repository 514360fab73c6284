"""`ragqa serve` and `ragqa ingest` as real subprocesses on free loopback ports, for tests that
talk to the service the way a browser or an OpenAI client does."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 180.0
INGEST_TIMEOUT_S = 900.0


@dataclass
class Service:
    """A running `ragqa serve` subprocess."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path


StartService = Callable[..., Service]
"""start_service(index, cors_origins, extra_env=None) -> Service (the `start_service` fixture)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(cors_origins: list[str], extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without its RAGQA_* settings, plus these."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("RAGQA_")}
    env["RAGQA_CORS_ORIGINS"] = json.dumps(cors_origins)
    env["RAGQA_LLM_BACKEND"] = "extractive"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def ingest(corpus: Path, index: Path) -> Path:
    """`ragqa ingest CORPUS --index INDEX`, failing the test with its output if it fails."""
    cmd = [sys.executable, "-m", "ragqa.service.cli", "ingest", str(corpus), "--index", str(index)]
    done = subprocess.run(
        cmd, cwd=REPO, env=service_env([]), capture_output=True, text=True, timeout=INGEST_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return index


def start(index: Path, cors_origins: list[str], extra_env: dict[str, str], log: Path) -> Service:
    """`ragqa serve` on a free port, returned once /healthz answers 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "ragqa.service.cli", "serve", "--index", str(index)]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=REPO, env=service_env(cors_origins, extra_env), stdout=out, stderr=subprocess.STDOUT
        )
    service = Service(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"ragqa serve exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            if httpx.get(f"{service.url}/healthz", timeout=2.0).status_code == 200:
                return service
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            stop(service)
            pytest.fail(
                f"ragqa serve not healthy after {STARTUP_TIMEOUT_S:.0f}s:\n{log.read_text(errors='replace')[-4000:]}"
            )
        time.sleep(0.25)


def stop(service: Service) -> None:
    service.process.terminate()
    try:
        service.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        service.process.kill()
        service.process.wait(timeout=15)
