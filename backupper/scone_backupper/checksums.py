"""The checksums a store keeps and reports, computed and compared as S3 defines them.

Why CRC32 per part (not SHA-256): the part checksum guards the bytes between us and the store,
which CRC32 does as S3 and awscli do (every burst error up to 32 bits, any other damage but for
a 2^-32 chance) at a third of SHA-256's CPU cost per byte. The end-to-end proof stays SHA-256:
the manifest records the whole object's SHA-256, which every restore and `verify` checks.
"""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass

from .buffers import Buffer
from .s3client import TransientMismatch

_MD5_ETAG = re.compile(r'^"?([0-9a-f]{32})(?:-(\d+))?"?$')


@dataclass(frozen=True)
class StoreChecksum:
    """The checksum the store keeps for an object and reports on HEAD (`ChecksumMode=ENABLED`).

    A single PUT carries the object's SHA-256 (already computed for the manifest); a multipart
    upload is COMPOSITE CRC32: base64 of the CRC32 of the parts' CRC32s, then `-<part count>`.
    """

    algorithm: str  # "SHA256" or "CRC32": the response field is f"Checksum{algorithm}"
    value: str


def b64(digest: bytes) -> str:
    """Base64, as S3 checksum headers and Content-MD5 carry digests."""
    return base64.b64encode(digest).decode("ascii")


def crc32_bytes(data: Buffer) -> bytes:
    """CRC32 (IEEE, zlib's; it releases the GIL on large buffers) as S3 encodes it: 4 bytes,
    big-endian."""
    return zlib.crc32(data).to_bytes(4, "big")


def composite_crc32(part_crcs: list[bytes]) -> str:
    """The COMPOSITE CRC32 of a multipart object: `<base64 CRC32 of the part CRCs>-<count>`."""
    return f"{b64(crc32_bytes(b''.join(part_crcs)))}-{len(part_crcs)}"


def same_checksum(returned: str, expected: str) -> bool | None:
    """Whether the store's object checksum is ours: True, False, or None when it cannot tell.

    `expected` is `<value>` (single PUT) or `<value>-<parts>` (COMPOSITE). A store may report a
    composite without its `-<parts>` suffix. A different value without a suffix, where a
    composite was expected, may be a FULL_OBJECT checksum (a store that ignored the requested
    type): a value of another kind, which proves nothing either way, so the object is then
    checked otherwise (its ETag, or read back).
    """
    if not returned:
        return None
    value, _, count = returned.partition("-")
    want, _, want_count = expected.partition("-")
    if count and want_count:
        return returned == expected
    if value == want:
        return True
    if want_count and not count:
        return None
    return False


def check_part_etag(returned: str | None, md5: bytes, what: str) -> None:
    """An MD5-form ETag must equal our MD5; other forms (SSE-KMS) are checked otherwise."""
    match = _MD5_ETAG.match(returned or "")
    if match and match.group(2) is None and match.group(1) != md5.hex():
        raise TransientMismatch(f"{what}: store ETag {match.group(1)} != sent MD5 {md5.hex()}")


def same_md5_etag(returned: str | None, expected: str) -> bool | None:
    """Whether an object's ETag is the MD5 (or multipart MD5-of-MD5s) we expect; None when the
    ETag is of another form (SSE-KMS, other stores) and proves nothing."""
    match = _MD5_ETAG.match(returned or "")
    if not match:
        return None
    return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "") == expected
