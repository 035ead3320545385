"""Progress on stderr for `restore` and `verify`, only when stderr is a terminal.

Why only then: in the cluster stderr is the JSON log stream, and carriage-return progress lines
would corrupt it; at a terminal an operator restoring a CAS wants to see it move.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


class Progress:
    """Counts bytes and redraws one status line at most a few times per second."""

    def __init__(self, label: str, total: int, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._start = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        """Account for `count` more bytes."""
        with self._lock:
            self.done += count
            now = time.monotonic()
            if self.enabled and (now - self._last >= 0.2 or self.done >= self.total):
                self._last = now
                rate = self.done / max(now - self._start, 1e-6) / (1024 * 1024)
                percent = 100.0 * self.done / self.total
                self.stream.write(f"\r{self.label}: {percent:5.1f}%  {rate:8.1f} MiB/s")
                self.stream.flush()

    def finish(self) -> None:
        """End the status line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
