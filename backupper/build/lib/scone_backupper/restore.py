"""`verify` and `restore`: read a complete set back and check every byte against its manifest.

Why restore writes to hidden partial files and renames only after both files verified: the target
directory is handed to `kubectl provision cas --cas-database-recovery`, which must never see a
half-written or unverified `cas.db`. Existing files are never overwritten.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from . import crypto
from .credentials import S3Credentials
from .errors import EncryptionError, RestoreTargetError, VerificationError
from .manifest import Manifest, ManifestFile
from .progress import Progress
from .snapshot import SNAPSHOT_FILES
from .transfer import Downloader


def _key_for(manifest: Manifest, credentials: S3Credentials) -> bytes | None:
    if manifest.encryption is None:
        return None
    if credentials.encryption_key is None:
        raise EncryptionError(
            f"set {manifest.set_id} is encrypted (key id {manifest.encryption.key_id}) but the S3 "
            "Secret has no ENCRYPTION_KEY"
        )
    key = credentials.encryption_key.get_secret_value()
    if crypto.key_id(key) != manifest.encryption.key_id:
        raise EncryptionError(
            f"set {manifest.set_id} was encrypted with key id {manifest.encryption.key_id}, but "
            f"ENCRYPTION_KEY has key id {crypto.key_id(key)}"
        )
    return key


def _plain_stream(
    downloader: Downloader, item: ManifestFile, key: bytes | None, progress: Progress
) -> Iterator[bytes]:
    """Yield the plain bytes of one file, checking stored and plain size and SHA-256 at the end."""
    stored_digest = hashlib.sha256()
    stored_count = 0

    def stored() -> Iterator[bytes]:
        nonlocal stored_count
        for chunk in downloader.stream(item.key, item.stored_size):
            stored_digest.update(chunk)
            stored_count += len(chunk)
            progress.add(len(chunk))
            yield chunk

    plain_digest = hashlib.sha256()
    plain_count = 0
    source = crypto.decrypt_stream(stored(), key) if key is not None else stored()
    try:
        for chunk in source:
            plain_digest.update(chunk)
            plain_count += len(chunk)
            yield chunk
    except EncryptionError as exc:
        # The key id matched (checked in _key_for), so a failed tag means altered bytes.
        raise VerificationError(f"{item.key}: {exc}") from None
    if stored_count != item.stored_size or stored_digest.hexdigest() != item.stored_sha256:
        raise VerificationError(
            f"{item.key}: stored object does not match the manifest "
            f"({stored_count} bytes, SHA-256 {stored_digest.hexdigest()[:12]}…)"
        )
    if plain_count != item.size or plain_digest.hexdigest() != item.sha256:
        raise VerificationError(f"{item.name} of set {item.key}: content does not match manifest")


def verify_set(downloader: Downloader, manifest: Manifest, credentials: S3Credentials) -> int:
    """Download every file of the set and check every checksum; returns plain bytes checked."""
    key = _key_for(manifest, credentials)
    progress = Progress(f"verify {manifest.set_id}", sum(f.stored_size for f in manifest.files))
    try:
        for item in manifest.files:
            for _ in _plain_stream(downloader, item, key, progress):
                pass
    finally:
        progress.finish()
    return manifest.total_size


def restore_set(
    downloader: Downloader, manifest: Manifest, credentials: S3Credentials, target: Path
) -> list[Path]:
    """Write the set's files into `target` (the layout --cas-database-recovery expects)."""
    key = _key_for(manifest, credentials)
    names = sorted(f.name for f in manifest.files)
    if names != sorted(SNAPSHOT_FILES):
        raise VerificationError(f"set {manifest.set_id} does not hold exactly {SNAPSHOT_FILES}")
    if target.exists() and not target.is_dir():
        raise RestoreTargetError(f"restore target {target} exists and is not a directory")
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = [n for n in names if (target / n).exists()]
    if existing:
        raise RestoreTargetError(
            f"restore target {target} already holds {', '.join(existing)}; restore never "
            "overwrites data: choose an empty or new --target directory"
        )
    partials: list[tuple[Path, Path]] = []
    progress = Progress(f"restore {manifest.set_id}", sum(f.stored_size for f in manifest.files))
    try:
        for item in manifest.files:
            final = target / item.name
            partial = target / f".{item.name}.partial"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            partials.append((partial, final))
            with os.fdopen(fd, "wb") as handle:
                for chunk in _plain_stream(downloader, item, key, progress):
                    handle.write(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        for partial, final in partials:
            if final.exists():
                raise RestoreTargetError(f"{final} appeared during the restore; not overwritten")
            os.replace(partial, final)
        dir_fd = os.open(target, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except BaseException:
        for partial, _ in partials:
            partial.unlink(missing_ok=True)
        raise
    finally:
        progress.finish()
    return [final for _, final in partials]
