"""Verified, bounded-memory streaming transfers of one object (upload and ranged download).

Why by hand rather than boto3's TransferManager: every part must be checked against what we sent
(CRC32 checksum, or Content-MD5/ETag) before the set can be committed, the whole-object SHA-256
must be computed on the fly, and memory must stay at (concurrency + 1) parts whatever the
snapshot size. Why CRC32 per part and SHA-256 per object: see checksums.py.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .buffers import Buffer, PartBuffers, rechunk
from .checksums import (
    StoreChecksum,
    b64,
    check_part_etag,
    composite_crc32,
    crc32_bytes,
    same_checksum,
    same_md5_etag,
)
from .download import Downloader
from .errors import VerificationError
from .hashing import OrderedHasher, Release
from .jsonlog import log_event
from .s3client import Retrier, TransientMismatch, error_code, require_s3_answer

log = logging.getLogger("scone_backupper.transfer")
MAX_PARTS = 10000
MIB = 1024 * 1024


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
    md5: bytes | None  # None: sent without Content-MD5 (the store verified its CRC32)
    crc32: bytes  # 4 bytes, big-endian, as S3 encodes it


@dataclass
class PendingObject:
    """An object sent by `Uploader.send` but not yet created in the store."""

    key: str
    size: int
    sha256: str  # hex, of the whole object's bytes
    checksum: StoreChecksum | None = None  # what the store reports for the object once created
    body: bytes = b""  # a small object, sent whole by `finish`
    upload_id: str | None = None  # a multipart upload, completed by `finish`
    parts: list[_Part] = field(default_factory=list)
    md5_etag: str | None = None


def choose_part_size(total_size: int, part_size: int) -> int:
    """The configured part size, grown in whole MiB so that no upload needs over 10,000 parts."""
    needed = -(-total_size // MAX_PARTS)
    if needed <= part_size:
        return part_size
    return -(-needed // MIB) * MIB


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
        data_client: Any | None = None,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        # Sends the bodies; it may skip SigV4's payload hash because each body carries a signed
        # x-amz-checksum-crc32 (parts) or -sha256 (single PUT) header that the store checks (see
        # s3client.make_client).
        self.data_client = data_client if data_client is not None else client
        self.bucket = bucket
        self.retrier = retrier
        self.part_size = part_size
        self.concurrency = concurrency
        self.on_bytes = on_bytes
        # Fill the next parts from here (`buffers.take`); a part's buffer returns once sent.
        self.buffers = PartBuffers(part_size)
        # How parts are checked: None until the first part's answer tells. "crc32": the store
        # echoes the CRC32 checksum it verified, so Content-MD5 is dropped; "md5": it does not,
        # so every part also carries Content-MD5 and its ETag is compared.
        self.part_check: str | None = None

    def upload(self, key: str, chunks: Iterable[Buffer], size: int) -> StoredObject:
        """Upload exactly `size` bytes from `chunks` to `key` and verify them in the store."""
        return self.finish(self.send(key, chunks, size))

    def send(self, key: str, chunks: Iterable[Buffer], size: int) -> PendingObject:
        """Send every byte of `key` and check every part, but create no object yet.

        A multipart upload stays open (invisible: no object, no listing) and a small object stays
        in memory (at most one part) until `finish`; `discard` drops either without a trace.
        """
        part_size = choose_part_size(size, self.part_size)
        if size <= part_size:
            body = b"".join(chunks)
            if len(body) != size:
                raise VerificationError(f"{key}: source gave {len(body)} bytes, expected {size}")
            sha = hashlib.sha256(body).digest()
            return PendingObject(
                key, size, sha.hex(), body=body, checksum=StoreChecksum("SHA256", b64(sha))
            )
        return self._send_parts(key, chunks, size, part_size)

    def finish(self, pending: PendingObject) -> StoredObject:
        """Create the object from what `send` sent and verify it in the store."""
        key, size = pending.key, pending.size
        md5_etag = pending.md5_etag
        if pending.upload_id is None:
            body = pending.body
            md5 = hashlib.md5(body, usedforsecurity=False).digest()
            md5_etag = md5.hex()

            def put() -> None:
                response = self.data_client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentMD5=b64(md5),
                    ChecksumSHA256=b64(bytes.fromhex(pending.sha256)),
                )
                check_part_etag(response.get("ETag"), md5, f"put {key}")

            self.retrier.call(f"upload of {key}", put)
            if self.on_bytes:
                self.on_bytes(size)
        else:
            try:
                self._complete(key, pending.upload_id, pending.parts)
            except BaseException:
                self.abort(key, pending.upload_id)
                raise
        self._verify_stored(
            key, size, md5_etag=md5_etag, checksum=pending.checksum, whole_sha=pending.sha256
        )
        return StoredObject(key=key, size=size, sha256=pending.sha256)

    def discard(self, pending: PendingObject) -> None:
        """Drop what `send` sent: abort its multipart upload (nothing else was stored)."""
        if pending.upload_id is not None:
            self.abort(pending.key, pending.upload_id)

    def _send_parts(
        self, key: str, chunks: Iterable[Buffer], size: int, part_size: int
    ) -> PendingObject:
        created = self.retrier.call(
            f"start of multipart upload {key}",
            lambda: self.client.create_multipart_upload(
                Bucket=self.bucket, Key=key, ChecksumAlgorithm="CRC32", ChecksumType="COMPOSITE"
            ),
        )
        upload_id = str(
            require_s3_answer(created, ("UploadId",), f"start of multipart upload {key}")[
                "UploadId"
            ]
        )
        whole = OrderedHasher()
        total = 0
        parts: list[_Part] = []
        in_flight: deque[Future[_Part]] = deque()
        # A part buffer stays taken until both its upload and the whole-object hash let go of it;
        # then it goes back to the pool for a later part.
        slots = threading.Semaphore(self.concurrency)
        try:
            with ThreadPoolExecutor(
                max_workers=self.concurrency, thread_name_prefix="upload"
            ) as pool:
                pieces = rechunk(chunks, part_size)
                number = 0
                while True:
                    # Bound memory: wait for a free slot before reading (and holding) another
                    # part, so at most `concurrency` parts exist, in flight or being read.
                    while not slots.acquire(timeout=0.2):
                        self._collect_done(in_flight, parts)
                    data = next(pieces, None)
                    if data is None:
                        slots.release()
                        break
                    number += 1
                    total += len(data)
                    holds = Release(2, self._releaser(data, slots))
                    whole.feed(data, holds.done)
                    future = pool.submit(self._upload_part, key, upload_id, number, data, holds)
                    in_flight.append(future)
                    self._collect_done(in_flight, parts)
                while in_flight:
                    parts.append(in_flight.popleft().result())
            if total != size:
                raise VerificationError(f"{key}: source gave {total} bytes, expected {size}")
        except BaseException:
            whole.close()
            self.abort(key, upload_id)
            raise
        parts.sort(key=lambda p: p.number)
        md5_etag = None
        if all(p.md5 is not None for p in parts):
            md5s = b"".join(p.md5 or b"" for p in parts)
            md5_etag = hashlib.md5(md5s, usedforsecurity=False).hexdigest() + f"-{len(parts)}"
        return PendingObject(
            key,
            size,
            whole.hexdigest(),
            checksum=StoreChecksum("CRC32", composite_crc32([p.crc32 for p in parts])),
            upload_id=upload_id,
            parts=parts,
            md5_etag=md5_etag,
        )

    def _releaser(self, data: Buffer, slots: threading.Semaphore) -> Callable[[], None]:
        def release() -> None:
            self.buffers.give(data)
            slots.release()

        return release

    @staticmethod
    def _collect_done(in_flight: deque[Future[_Part]], parts: list[_Part]) -> None:
        while in_flight and in_flight[0].done():
            parts.append(in_flight.popleft().result())

    def _upload_part(
        self, key: str, upload_id: str, number: int, data: Buffer, holds: Release
    ) -> _Part:
        try:
            crc = crc32_bytes(data)
            crc_b64 = b64(crc)
            md5: bytes | None = None

            def send() -> str:
                nonlocal md5
                extra: dict[str, str] = {}
                if self.part_check != "crc32":
                    md5 = md5 or hashlib.md5(data, usedforsecurity=False).digest()
                    extra["ContentMD5"] = b64(md5)
                # No ChecksumAlgorithm here: with its x-amz-sdk-checksum-algorithm header some
                # stores (moto) echo the sent CRC32 back unchecked, which would pass for a check.
                response = self.data_client.upload_part(
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=data,
                    ChecksumCRC32=crc_b64,
                    **extra,
                )
                require_s3_answer(response, ("ETag",), f"upload of part {number} of {key}")
                returned_crc = response.get("ChecksumCRC32")
                if returned_crc and returned_crc != crc_b64:
                    raise TransientMismatch(
                        f"part {number} of {key}: store reports CRC32 {returned_crc}, "
                        f"sent {crc_b64}"
                    )
                if md5 is not None:
                    check_part_etag(response.get("ETag"), md5, f"part {number} of {key}")
                if self.part_check is None:
                    self.part_check = "crc32" if returned_crc else "md5"
                    log_event(log, logging.DEBUG, "part check chosen", check=self.part_check)
                if md5 is None and not returned_crc:
                    # Sent on the promise of an echoed checksum that did not come: send it again
                    # with Content-MD5, which this store does check.
                    self.part_check = "md5"
                    raise TransientMismatch(f"part {number} of {key}: store echoed no checksum")
                return str(response["ETag"])

            etag = self.retrier.call(f"upload of part {number} of {key}", send)
            if self.on_bytes:
                self.on_bytes(len(data))
            return _Part(number=number, etag=etag, md5=md5, crc32=crc)
        finally:
            holds.done()

    def _complete(self, key: str, upload_id: str, parts: list[_Part]) -> None:
        listing = {
            "Parts": [
                {"PartNumber": p.number, "ETag": p.etag, "ChecksumCRC32": b64(p.crc32)}
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
        self,
        key: str,
        size: int,
        *,
        md5_etag: str | None,
        checksum: StoreChecksum | None,
        whole_sha: str,
    ) -> None:
        """The stored object must have our size and our checksum or ETag (else: read it back)."""
        head = self.retrier.call(
            f"check of {key}",
            lambda: self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"),
        )
        if int(head["ContentLength"]) != size:
            raise VerificationError(
                f"{key}: store holds {head['ContentLength']} bytes, {size} were sent"
            )
        checked = False
        if checksum is not None:
            returned = str(head.get(f"Checksum{checksum.algorithm}") or "")
            same = same_checksum(returned, checksum.value)
            if same is False:
                raise VerificationError(
                    f"{key}: store reports {checksum.algorithm} checksum {returned}, "
                    f"{checksum.value} was sent"
                )
            checked = same is True
        if md5_etag is not None:
            same_etag = same_md5_etag(head.get("ETag"), md5_etag)
            if same_etag is False:
                raise VerificationError(f"{key}: stored ETag differs from what was sent")
            checked = checked or same_etag is True
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
