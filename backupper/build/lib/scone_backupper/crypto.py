"""Optional client-side encryption of stored objects: streaming AES-256-GCM in framed chunks.

Why framed: snapshots are streamed, never held whole, so the cipher must work chunk by chunk.
Each 1 MiB plaintext chunk is sealed on its own with a nonce (random 8-byte prefix + counter) and
authenticated together with the header and a "last chunk" flag, so reordering, truncation and
tampering are all detected on restore. The key is the user's; only its fingerprint is stored.

Stored layout: MAGIC(8) | chunk_size u32 BE | nonce prefix(8) | frames, each ciphertext+tag(16).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterable, Iterator
from typing import Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import EncryptionError

MAGIC = b"SCBKENC1"
CHUNK_SIZE = 1024 * 1024
TAG_SIZE = 16
HEADER_SIZE = len(MAGIC) + 4 + 8
ALGORITHM: Literal["AES-256-GCM-STREAM-v1"] = "AES-256-GCM-STREAM-v1"


def key_id(key: bytes) -> str:
    """A fingerprint that names the key without revealing it."""
    return hashlib.sha256(b"scone-backupper key id\x00" + key).hexdigest()[:16]


def encrypted_size(plain_size: int, chunk_size: int = CHUNK_SIZE) -> int:
    """Stored size for a plaintext of `plain_size` bytes (known before encrypting)."""
    frames = plain_size // chunk_size + 1  # the last frame is partial or empty, always present
    return HEADER_SIZE + plain_size + frames * TAG_SIZE


def _rechunk(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    buffer = bytearray()
    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= size:
            yield bytes(buffer[:size])
            del buffer[:size]
    yield bytes(buffer)


def encrypt_stream(
    plain: Iterable[bytes], key: bytes, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield the stored bytes for a plaintext stream."""
    aead = AESGCM(key)
    prefix = os.urandom(8)
    header = MAGIC + struct.pack(">I", chunk_size) + prefix
    yield header
    pending: bytes | None = None
    counter = 0
    for chunk in _rechunk(plain, chunk_size):
        if pending is not None:
            yield aead.encrypt(prefix + struct.pack(">I", counter), pending, header + b"\x00")
            counter += 1
        pending = chunk
    # _rechunk always yields a last chunk (partial or empty), sealed with the "last" flag.
    assert pending is not None
    yield aead.encrypt(prefix + struct.pack(">I", counter), pending, header + b"\x01")


def decrypt_stream(stored: Iterable[bytes], key: bytes) -> Iterator[bytes]:
    """Yield the plaintext of a stored stream; raise EncryptionError on any tampering or bad key."""
    aead = AESGCM(key)
    buffer = bytearray()
    source = iter(stored)
    exhausted = False

    def fill(n: int) -> None:
        nonlocal exhausted
        while len(buffer) < n and not exhausted:
            try:
                buffer.extend(next(source))
            except StopIteration:
                exhausted = True

    fill(HEADER_SIZE)
    if len(buffer) < HEADER_SIZE or bytes(buffer[: len(MAGIC)]) != MAGIC:
        raise EncryptionError("stored object is not in the scone-backupper encrypted format")
    header = bytes(buffer[:HEADER_SIZE])
    del buffer[:HEADER_SIZE]
    (chunk_size,) = struct.unpack(">I", header[len(MAGIC) : len(MAGIC) + 4])
    prefix = header[len(MAGIC) + 4 :]
    frame = chunk_size + TAG_SIZE
    counter = 0
    while True:
        fill(frame + 1)  # one byte more tells whether this frame is the last one
        last = len(buffer) <= frame
        body = bytes(buffer[: min(frame, len(buffer))])
        del buffer[: len(body)]
        nonce = prefix + struct.pack(">I", counter)
        try:
            plain = aead.decrypt(nonce, body, header + (b"\x01" if last else b"\x00"))
        except InvalidTag:
            raise EncryptionError(
                "decryption failed: wrong ENCRYPTION_KEY, or the stored object was altered or "
                "truncated"
            ) from None
        yield plain
        counter += 1
        if last:
            return
