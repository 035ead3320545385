"""Part buffers reused from part to part instead of allocated fresh for each.

Why: a fresh 8 MiB buffer is fresh memory, and the kernel faults in and zeroes each of its 2,048
pages on first touch; on a virtual machine that cost about as much CPU per byte as hashing it
(measured here: touching 1 GiB of new memory took 4.7 s). At most (concurrency + 1) part buffers
exist at once anyway (the uploader's slots bound them), so keeping the released ones for the next
parts costs no more memory than the bound already allows, and the peak stays where it was.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator

Buffer = bytes | bytearray | memoryview


class PartBuffers:
    """Hands out buffers of `size` bytes, reusing those given back."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._free: list[bytearray] = []
        self._keep = True
        self._lock = threading.Lock()

    def take(self, size: int) -> bytearray:
        """A buffer of exactly `size` bytes (contents undefined); only full-size ones are reused.

        A short one is a file's last part: no full-size part follows it until the next file, so
        the spare buffers are let go now (and those still in flight when they come back), and the
        peak never holds them beside the last part.
        """
        with self._lock:
            if size == self.size:
                self._keep = True
                if self._free:
                    return self._free.pop()
            else:
                self._keep = False
                self._free.clear()
        return bytearray(size)

    def give(self, buffer: object) -> None:
        """Take back a buffer nobody uses any more (only full-size bytearrays are kept)."""
        if isinstance(buffer, bytearray) and len(buffer) == self.size:
            with self._lock:
                if self._keep:
                    self._free.append(buffer)


def rechunk(chunks: Iterable[Buffer], size: int) -> Iterator[Buffer]:
    """Regroup a byte stream into pieces of exactly `size` bytes (the last may be shorter).

    A piece that already is a whole part (or the short rest) is passed on as it is: copying it
    would hold a part twice and cost a pass over its bytes.
    """
    pending: list[Buffer] = []
    pending_len = 0
    for piece in chunks:
        if not pending and len(piece) == size:
            yield piece
            continue
        rest = piece
        while rest:
            room = size - pending_len
            take = rest if len(rest) <= room else rest[:room]
            rest = rest[len(take) :]
            pending.append(take)
            pending_len += len(take)
            if pending_len == size:
                yield b"".join(pending)
                pending, pending_len = [], 0
    if pending_len:
        yield pending[0] if len(pending) == 1 else b"".join(pending)
