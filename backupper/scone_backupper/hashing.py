"""SHA-256 of a whole stream on a thread of its own, fed in order, so hashing overlaps I/O.

Why: the whole-object hash must see the bytes in order, which used to pin it to the thread that
reads the snapshot (or writes the restore); `hashlib` releases the GIL on large buffers, so on its
own thread it runs beside the reading and the part uploads instead of after them.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Callable

_Item = tuple[bytes | bytearray | memoryview, Callable[[], None] | None] | None


class OrderedHasher:
    """Hashes the buffers given to `feed` in the order given; `hexdigest` waits for the rest."""

    def __init__(self, max_pending: int | None = None) -> None:
        # With `max_pending`, `feed` waits while that many buffers are still unhashed (the caller
        # then needs no `done` callbacks to bound its memory).
        self._pending = threading.Semaphore(max_pending) if max_pending else None
        self._digest = hashlib.sha256()
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sha256", daemon=True)
        self._thread.start()
        self._closed = False

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            data, done = item
            self._digest.update(data)
            if done is not None:
                done()
            if self._pending is not None:
                self._pending.release()

    def feed(
        self, data: bytes | bytearray | memoryview, done: Callable[[], None] | None = None
    ) -> None:
        """Queue `data` (not copied: do not change it until `done` is called)."""
        if self._pending is not None:
            self._pending.acquire()
        self._queue.put((data, done))

    def close(self) -> None:
        """Stop the thread after the queued buffers (idempotent)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join()

    def hexdigest(self) -> str:
        """The SHA-256 of everything fed, once it has all been hashed."""
        self.close()
        return self._digest.hexdigest()


class Release:
    """Calls `release` once `count` holders have each called `done` (a part buffer is free only
    when both its upload and the whole-object hash are finished with it)."""

    def __init__(self, count: int, release: Callable[[], None]) -> None:
        self._count = count
        self._release = release
        self._lock = threading.Lock()

    def done(self) -> None:
        with self._lock:
            self._count -= 1
            last = self._count == 0
        if last:
            self._release()
