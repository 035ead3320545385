"""Reading one object back as an ordered byte stream with parallel ranged GETs (bounded memory).

Why ordered: `verify`, an encrypted restore (the frames decrypt in order) and an upload checked by
reading it back all consume the bytes in sequence; at most `concurrency` ranges are held at once.
An unencrypted restore into a file takes the faster path of `filedownload`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .errors import StoreError
from .s3client import Retrier, TransientMismatch


class Downloader:
    """Reads one object as an ordered byte stream using parallel ranged GETs (bounded memory)."""

    def __init__(
        self, client: Any, bucket: str, retrier: Retrier, part_size: int, concurrency: int
    ):
        self.client = client
        self.bucket = bucket
        self.retrier = retrier
        self.part_size = part_size
        self.concurrency = concurrency

    def _range(self, key: str, start: int, end: int) -> bytes:
        def get() -> bytes:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end}"
            )
            data = response["Body"].read()
            if len(data) != end - start + 1:
                raise TransientMismatch(
                    f"{key} bytes {start}-{end}: got {len(data)} bytes, expected {end - start + 1}"
                )
            return bytes(data)

        return self.retrier.call(f"download of {key} bytes {start}-{end}", get)

    def stream(self, key: str, size: int) -> Iterator[bytes]:
        """Yield the object's bytes in order; at most `concurrency` ranges are held at once."""
        if size == 0:
            return
        ranges = [
            (start, min(start + self.part_size, size) - 1)
            for start in range(0, size, self.part_size)
        ]
        pending: deque[Future[bytes]] = deque()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="dl") as pool:
            iterator = iter(ranges)
            try:
                for start, end in iterator:
                    pending.append(pool.submit(self._range, key, start, end))
                    if len(pending) >= self.concurrency:
                        yield pending.popleft().result()
                while pending:
                    yield pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()

    def read_small(self, key: str) -> bytes:
        """Read a small object (a manifest) whole."""

        def get() -> bytes:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

        try:
            return self.retrier.call(f"download of {key}", get)
        except StoreError:
            raise
