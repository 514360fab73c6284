"""A progress line on stderr: redrawn in place on a terminal, a line per 25% otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Callable as `progress(stage, done, total)`; call `close()` to end the line."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._last: tuple[str, int] = ("", -1)
        self._started = time.perf_counter()

    def __call__(self, stage: str, done: int, total: int) -> None:
        total = max(total, 1)
        if self.tty:
            width = 30
            filled = int(width * done / total)
            bar = "█" * filled + "·" * (width - filled)
            elapsed = time.perf_counter() - self._started
            self.stream.write(f"\r{stage:>6} {bar} {done}/{total} {elapsed:5.1f}s")
            if done >= total:
                self.stream.write("\n")
            self.stream.flush()
            return
        quarter = int(4 * done / total)
        if (stage, quarter) != self._last:
            self._last = (stage, quarter)
            self.stream.write(f"{stage}: {done}/{total}\n")
            self.stream.flush()

    def close(self) -> None:
        self.stream.flush()
