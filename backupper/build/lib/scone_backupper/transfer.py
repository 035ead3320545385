"""Verified, bounded-memory streaming transfers of one object (upload and ranged download).

Why by hand rather than boto3's TransferManager: every part must be checked against what we sent
(Content-MD5/ETag and SHA-256) before the set can be committed, the whole-object SHA-256 must be
computed on the fly, and memory must stay at (concurrency + 1) parts whatever the snapshot size.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .errors import StoreError, VerificationError
from .jsonlog import log_event
from .s3client import Retrier, TransientMismatch, error_code

log = logging.getLogger("scone_backupper.transfer")
MAX_PARTS = 10000
MIB = 1024 * 1024
_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})(?:-(\d+))?"?$')


@dataclass(frozen=True)
class StoredObject:
    """What was uploaded: key, byte count and SHA-256 (hex) of the stored bytes."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class _Part:
    number: int
    etag: str
    md5: bytes
    sha256: bytes


def choose_part_size(total_size: int, part_size: int) -> int:
    """The configured part size, grown in whole MiB so that no upload needs over 10,000 parts."""
    needed = -(-total_size // MAX_PARTS)
    if needed <= part_size:
        return part_size
    return -(-needed // MIB) * MIB


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """Regroup a byte stream into pieces of exactly `size` bytes (the last may be shorter)."""
    pending: list[bytes] = []
    pending_len = 0
    for piece in chunks:
        if not pending and len(piece) == size:
            yield piece  # already a whole part: pass it on without copying
            continue
        rest = piece
        while rest:
            take = rest[: size - pending_len]
            rest = rest[len(take) :]
            pending.append(take)
            pending_len += len(take)
            if pending_len == size:
                yield b"".join(pending)
                pending, pending_len = [], 0
    if pending_len:
        yield b"".join(pending)


def _check_etag(returned: str | None, md5: bytes, what: str) -> None:
    """An MD5-form ETag must equal our MD5; other forms (SSE-KMS) are checked by SHA-256 instead."""
    match = _MD5_ETAG.match(returned or "")
    if match and match.group(2) is None and match.group(1) != md5.hex():
        raise TransientMismatch(f"{what}: store ETag {match.group(1)} != sent MD5 {md5.hex()}")


class Uploader:
    """Uploads one object from a byte stream, verifying every part and the completed object."""

    def __init__(
        self,
        client: Any,
        bucket: str,
        retrier: Retrier,
        part_size: int,
        concurrency: int,
        *,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.retrier = retrier
        self.part_size = part_size
        self.concurrency = concurrency
        self.on_bytes = on_bytes

    def upload(self, key: str, chunks: Iterable[bytes], size: int) -> StoredObject:
        """Upload exactly `size` bytes from `chunks` to `key` and verify them in the store."""
        part_size = choose_part_size(size, self.part_size)
        if size <= part_size:
            return self._upload_single(key, chunks, size)
        return self._upload_multipart(key, chunks, size, part_size)

    def _upload_single(self, key: str, chunks: Iterable[bytes], size: int) -> StoredObject:
        body = b"".join(chunks)
        if len(body) != size:
            raise VerificationError(f"{key}: source gave {len(body)} bytes, expected {size}")
        md5 = hashlib.md5(body, usedforsecurity=False).digest()
        sha = hashlib.sha256(body).digest()

        def put() -> None:
            response = self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentMD5=_b64(md5),
                ChecksumSHA256=_b64(sha),
            )
            _check_etag(response.get("ETag"), md5, f"put {key}")

        self.retrier.call(f"upload of {key}", put)
        if self.on_bytes:
            self.on_bytes(size)
        self._verify_stored(key, size, md5_etag=md5.hex(), sha_b64=_b64(sha), whole_sha=sha.hex())
        return StoredObject(key=key, size=size, sha256=sha.hex())

    def _upload_multipart(
        self, key: str, chunks: Iterable[bytes], size: int, part_size: int
    ) -> StoredObject:
        created = self.retrier.call(
            f"start of multipart upload {key}",
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="SHA256"
            ),
        )
        upload_id = str(created["UploadId"])
        whole = hashlib.sha256()
        total = 0
        parts: list[_Part] = []
        in_flight: deque[Future[_Part]] = deque()
        slots = threading.Semaphore(self.concurrency)
        try:
            with ThreadPoolExecutor(
                max_workers=self.concurrency, thread_name_prefix="upload"
            ) as pool:
                for number, data in enumerate(_rechunk(chunks, part_size), start=1):
                    whole.update(data)
                    total += len(data)
                    # Bound memory: wait for a free slot before queueing (and holding) another part.
                    while not slots.acquire(timeout=0.2):
                        self._collect_done(in_flight, parts)
                    future = pool.submit(self._upload_part, key, upload_id, number, data, slots)
                    in_flight.append(future)
                    self._collect_done(in_flight, parts)
                while in_flight:
                    parts.append(in_flight.popleft().result())
            if total != size:
                raise VerificationError(f"{key}: source gave {total} bytes, expected {size}")
            parts.sort(key=lambda p: p.number)
            self._complete(key, upload_id, parts)
        except BaseException:
            self.abort(key, upload_id)
            raise
        md5_etag = (
            hashlib.md5(b"".join(p.md5 for p in parts), usedforsecurity=False).hexdigest()
            + f"-{len(parts)}"
        )
        composite = _b64(hashlib.sha256(b"".join(p.sha256 for p in parts)).digest())
        self._verify_stored(
            key, size, md5_etag=md5_etag, sha_b64=composite, whole_sha=whole.hexdigest()
        )
        return StoredObject(key=key, size=size, sha256=whole.hexdigest())

    @staticmethod
    def _collect_done(in_flight: deque[Future[_Part]], parts: list[_Part]) -> None:
        while in_flight and in_flight[0].done():
            parts.append(in_flight.popleft().result())

    def _upload_part(
        self, key: str, upload_id: str, number: int, data: bytes, slots: threading.Semaphore
    ) -> _Part:
        try:
            md5 = hashlib.md5(data, usedforsecurity=False).digest()
            sha = hashlib.sha256(data).digest()

            def send() -> str:
                response = self.client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ContentMD5=_b64(md5),
                    ChecksumSHA256=_b64(sha),
                )
                _check_etag(response.get("ETag"), md5, f"part {number} of {key}")
                returned_sha = response.get("ChecksumSHA256")
                if returned_sha and returned_sha != _b64(sha):
                    raise TransientMismatch(f"part {number} of {key}: SHA-256 differs")
                return str(response["ETag"])

            etag = self.retrier.call(f"upload of part {number} of {key}", send)
            if self.on_bytes:
                self.on_bytes(len(data))
            return _Part(number=number, etag=etag, md5=md5, sha256=sha)
        finally:
            slots.release()

    def _complete(self, key: str, upload_id: str, parts: list[_Part]) -> None:
        listing = {
            "Parts": [
                {"PartNumber": p.number, "ETag": p.etag, "ChecksumSHA256": _b64(p.sha256)}
                for p in parts
            ]
        }

        def complete() -> None:
            try:
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload=listing
                )
            except ClientError as exc:
                # A retried completion whose first attempt did succeed: the object check decides.
                if error_code(exc) == "NoSuchUpload" and self._exists(key):
                    return
                raise

        self.retrier.call(f"completion of multipart upload {key}", complete)

    def _exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError:
            return False

    def abort(self, key: str, upload_id: str) -> None:
        """Abort a multipart upload so that no orphaned parts stay behind (best effort)."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            log_event(log, logging.INFO, "aborted multipart upload", key=key)
        except Exception as exc:  # noqa: BLE001 - the next run aborts orphans anyway
            log_event(
                log,
                logging.WARNING,
                "could not abort multipart upload; the next run will",
                key=key,
                error=error_code(exc),
            )

    def _verify_stored(
        self, key: str, size: int, *, md5_etag: str, sha_b64: str, whole_sha: str
    ) -> None:
        """The stored object must have our size and our ETag or SHA-256 (else: read it back)."""
        head = self.retrier.call(
            f"check of {key}",
            lambda: self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"),
        )
        if int(head["ContentLength"]) != size:
            raise VerificationError(
                f"{key}: store holds {head['ContentLength']} bytes, {size} were sent"
            )
        checked = False
        returned_sha = str(head.get("ChecksumSHA256") or "")
        if returned_sha:
            if returned_sha.split("-", maxsplit=1)[0] != sha_b64:
                raise VerificationError(
                    f"{key}: stored SHA-256 checksum differs from what was sent"
                )
            checked = True
        match = _MD5_ETAG.match(str(head.get("ETag") or ""))
        if match:
            if f"{match.group(1)}" + (f"-{match.group(2)}" if match.group(2) else "") != md5_etag:
                raise VerificationError(f"{key}: stored ETag differs from what was sent")
            checked = True
        if not checked:
            # e.g. SSE-KMS ETags or a store without checksums: verify by reading the bytes back.
            self._verify_by_reading_back(key, size, whole_sha)

    def _verify_by_reading_back(self, key: str, size: int, whole_sha: str) -> None:
        digest = hashlib.sha256()
        downloader = Downloader(self.client, self.bucket, self.retrier, self.part_size, 1)
        for chunk in downloader.stream(key, size):
            digest.update(chunk)
        if digest.hexdigest() != whole_sha:
            raise VerificationError(f"{key}: bytes read back differ from what was sent")
        log_event(log, logging.INFO, "upload verified by reading it back", key=key)


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
