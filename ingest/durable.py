"""Writes that survive a crash or a power cut, and the crash points that test them.

A file is durable once its bytes and the folder entry that names it are on disk: write to a
temporary name in the same folder, fsync it, rename it over the final name, fsync the folder.
`crash_point(name)` kills the process at a named step when `RAGQA_CRASH_AT` names it. It exists
for the crash tests (tests/test_durability.py), which restart the service after each kill and
check that nothing acknowledged was lost; unset, it does nothing.
"""

from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

CRASH_POINTS = ("read", "stored", "embed", "write", "swap", "after_swap")


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (new, renamed or removed names) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically and durably (temp file, fsync, rename, fsync folder)."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def crash_point(name: str) -> None:
    """SIGKILL this process at step `name` when RAGQA_CRASH_AT names it (crash tests only)."""
    if os.environ.get("RAGQA_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
