"""Serve a blocking generator as a streamed response, and close it when the client leaves.

Starlette runs a plain generator in the thread pool but never closes it when the client goes
away, so an LLM stream behind it would keep generating. `relay` pulls items in the thread pool
and, when the response ends for any reason, closes the generator: `GeneratorExit` runs its
`finally` blocks, which close the upstream HTTP response. A pull still waiting for upstream
data is let finish first (a generator cannot be closed while it runs), on a daemon thread, so
the event loop never waits for it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")
_END = object()


class _Pull:
    def __init__(self, gen: Iterator[T]) -> None:
        self.gen = gen
        self.lock = threading.Lock()
        self.closed = False

    def next(self) -> object:
        with self.lock:
            if self.closed:
                return _END
            return next(self.gen, _END)

    def close(self) -> None:
        with self.lock:
            self.closed = True
            close = getattr(self.gen, "close", None)
            if close is not None:
                close()


async def relay(gen: Iterator[T]) -> AsyncIterator[T]:
    """The items of `gen`, pulled in the thread pool; `gen` is closed however the stream ends."""
    pull = _Pull(gen)
    try:
        while (item := await run_in_threadpool(pull.next)) is not _END:
            yield item  # type: ignore[misc]
    finally:
        threading.Thread(target=pull.close, name="ragqa-stream-close", daemon=True).start()
