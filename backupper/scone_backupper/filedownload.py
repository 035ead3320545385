"""Restore's download path: parallel ranged GETs written straight into the target file.

Why not the ordered byte stream (`Downloader.stream`): that holds every range in flight whole in
memory (concurrency x range size) and funnels all bytes through one consumer thread. Here each
worker reads its range from the socket in small pieces and `pwrite`s them at their offset, so
memory is workers x READ_SIZE whatever the range size, many ranges can be in flight, and no byte
is copied on its way from the socket to the file more than once. The whole-file SHA-256 is then
computed from the file itself, in order, as the ranges complete: it checks the very bytes that
will be renamed into place (not a copy of them in memory), and a range rewritten by a retry is
hashed only after its final attempt.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, BinaryIO

from .errors import InterruptedRun, RestoreTargetError
from .s3client import Retrier, TransientMismatch

READ_SIZE = 512 * 1024  # below glibc's mmap threshold: reused heap blocks, no page faults
HASH_READ_SIZE = 4 * 1024 * 1024


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    """Write all of `data` at `offset`; a failed write (a full disk) is the target's fault, so it
    is raised as such and never retried as if the store had failed."""
    view = memoryview(data)
    try:
        while view:
            written = os.pwrite(fd, view, offset)
            view = view[written:]
            offset += written
    except OSError as exc:
        raise RestoreTargetError(
            f"cannot write the restored file at byte {offset} ({exc.strerror or exc}); "
            "free space in the --target file system or choose another --target"
        ) from None


def write_all(handle: BinaryIO, data: bytes) -> None:
    """`handle.write(data)`, a failed write raised as the target's fault (see `_pwrite_all`)."""
    try:
        handle.write(data)
    except OSError as exc:
        raise RestoreTargetError(
            f"cannot write the restored file ({exc.strerror or exc}); free space in the "
            "--target file system or choose another --target"
        ) from None


def _hash_range(fd: int, digest: Any, buffer: memoryview, start: int, end: int) -> None:
    """Feed bytes start..end (inclusive) of the file to `digest`."""
    position = start
    while position <= end:
        count = os.preadv(fd, [buffer[: min(len(buffer), end + 1 - position)]], position)
        if count <= 0:
            raise OSError(f"restored file ended at byte {position} while it was being hashed")
        digest.update(buffer[:count])
        position += count


class FileDownload:
    """Downloads one object into an open file (read-write) and returns the file's SHA-256."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        retrier: Retrier,
        *,
        range_size: int,
        workers: int,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.retrier = retrier
        self.range_size = range_size
        self.workers = workers
        self.on_bytes = on_bytes

    def run(self, key: str, size: int, fd: int) -> str:
        """Write the object's `size` bytes at offset 0 of `fd`; the SHA-256 (hex) of the file."""
        digest = hashlib.sha256()
        if size == 0:
            return digest.hexdigest()
        ranges = [
            (start, min(start + self.range_size, size) - 1)
            for start in range(0, size, self.range_size)
        ]
        abandon = threading.Event()
        buffer = memoryview(bytearray(HASH_READ_SIZE))
        futures: list[Future[None]] = []
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="dl") as pool:
            try:
                futures = [pool.submit(self._fetch, key, fd, s, e, abandon) for s, e in ranges]
                for (start, end), future in zip(ranges, futures, strict=True):
                    future.result()
                    _hash_range(fd, digest, buffer, start, end)
            except BaseException:
                abandon.set()
                for future in futures:
                    future.cancel()
                raise
        return digest.hexdigest()

    def _fetch(self, key: str, fd: int, start: int, end: int, abandon: threading.Event) -> None:
        expected = end - start + 1
        what = f"download of {key} bytes {start}-{end}"

        def get() -> None:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}"
            )
            body = response["Body"]
            try:
                length = int(response.get("ContentLength", -1))
                if length != expected:
                    raise TransientMismatch(
                        f"{what}: answer of {length} bytes, expected {expected}"
                    )
                offset = start
                while offset <= end:
                    if abandon.is_set():
                        raise InterruptedRun(f"{what}: abandoned (another range failed)")
                    chunk = body.read(min(READ_SIZE, end + 1 - offset))
                    if not chunk:
                        raise TransientMismatch(
                            f"{what}: got {offset - start} bytes, expected {expected}"
                        )
                    _pwrite_all(fd, chunk, offset)
                    offset += len(chunk)
            finally:
                body.close()

        self.retrier.call(what, get)
        if self.on_bytes is not None:
            self.on_bytes(expected)
