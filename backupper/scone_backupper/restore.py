"""`verify` and `restore`: read a complete set back and check every byte against its manifest.

Why restore writes to hidden partial files and renames only after both files verified: the target
directory is handed to `kubectl provision cas --cas-database-recovery`, which must never see a
half-written or unverified `cas.db`. Existing files are never overwritten.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from . import crypto
from .credentials import S3Credentials
from .download import Downloader
from .errors import EncryptionError, RestoreTargetError, VerificationError
from .filedownload import FileDownload, write_all
from .hashing import OrderedHasher
from .jsonlog import log_event
from .manifest import Manifest, ManifestFile
from .progress import Progress
from .s3client import FILE_DOWNLOAD_WORKERS
from .snapshot import SNAPSHOT_FILES

log = logging.getLogger("scone_backupper.restore")


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
    """Yield the plain bytes of one file, checking stored and plain size and SHA-256 at the end.

    Unencrypted, the stored bytes are the plain bytes: they are hashed once, on a thread of their
    own (beside the downloads and the writes), and checked against both manifest hashes.
    """
    stored_digest = OrderedHasher(max_pending=2)
    stored_count = 0

    def stored() -> Iterator[bytes]:
        nonlocal stored_count
        for chunk in downloader.stream(item.key, item.stored_size):
            stored_digest.feed(chunk)
            stored_count += len(chunk)
            progress.add(len(chunk))
            yield chunk

    plain_digest = hashlib.sha256() if key is not None else None
    try:
        if key is None:
            yield from stored()
        else:
            assert plain_digest is not None
            plain_count = 0
            try:
                for chunk in crypto.decrypt_stream(stored(), key):
                    plain_digest.update(chunk)
                    plain_count += len(chunk)
                    yield chunk
            except EncryptionError as exc:
                # The key id matched (checked in _key_for), so a failed tag means altered bytes.
                raise VerificationError(f"{item.key}: {exc}") from None
    finally:
        stored_sha = stored_digest.hexdigest()
    if stored_count != item.stored_size or stored_sha != item.stored_sha256:
        raise VerificationError(
            f"{item.key}: stored object does not match the manifest "
            f"({stored_count} bytes, SHA-256 {stored_sha[:12]}…)"
        )
    if plain_digest is None:
        plain_count, plain_sha = stored_count, stored_sha
    else:
        plain_sha = plain_digest.hexdigest()
    if plain_count != item.size or plain_sha != item.sha256:
        raise VerificationError(f"{item.name} of set {item.key}: content does not match manifest")


def _write_file(
    downloader: Downloader, item: ManifestFile, key: bytes | None, fd: int, progress: Progress
) -> None:
    """Fill the partial file `fd` with the verified plain bytes of `item` and make them durable."""
    if key is None:
        _download_plain(downloader, item, fd, progress)
    else:
        with os.fdopen(os.dup(fd), "wb") as handle:
            for chunk in _plain_stream(downloader, item, key, progress):
                write_all(handle, chunk)
    os.fsync(fd)


def _download_plain(
    downloader: Downloader, item: ManifestFile, fd: int, progress: Progress
) -> None:
    """Unencrypted: ranges go straight into the partial file, which is then hashed in place and
    checked against both manifest hashes (stored and plain bytes are the same bytes)."""
    sha = FileDownload(
        downloader.client,
        downloader.bucket,
        downloader.retrier,
        range_size=downloader.part_size,
        workers=max(downloader.concurrency, FILE_DOWNLOAD_WORKERS),
        on_bytes=progress.add,
    ).run(item.key, item.stored_size, fd)
    written = os.fstat(fd).st_size
    if written != item.stored_size or sha != item.stored_sha256:
        raise VerificationError(
            f"{item.key}: stored object does not match the manifest "
            f"({written} bytes, SHA-256 {sha[:12]}…)"
        )
    if item.size != item.stored_size or sha != item.sha256:
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
    handles: list[int] = []
    progress = Progress(f"restore {manifest.set_id}", sum(f.stored_size for f in manifest.files))
    try:
        for item in manifest.files:
            final = target / item.name
            partial = target / f".{item.name}.partial"
            fd = _open_partial(partial)
            handles.append(fd)
            partials.append((partial, final))
            _write_file(downloader, item, key, fd, progress)
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
        for fd in handles:
            os.close(fd)  # releases the locks, only after the renames
        progress.finish()
    return [final for _, final in partials]


def _open_partial(partial: Path) -> int:
    """Open (create or take over) a hidden partial file, locked against a concurrent restore.

    A restore killed with SIGKILL leaves its partial file behind; it holds nothing of value (the
    real file is only ever created by the rename after verification), so the next restore reuses
    it. The lock (released by the kernel when its holder dies) tells a stale file from one that
    another restore into the same directory is writing right now.
    """
    try:
        fd = os.open(partial, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise RestoreTargetError(
            f"cannot write the partial file {partial} ({exc.strerror or exc}); remove it or "
            "choose another --target"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RestoreTargetError(
            f"another restore is writing {partial} right now; wait for it to finish or choose "
            "another --target"
        ) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise RestoreTargetError(f"{partial} is not a regular file; remove it and retry")
    if info.st_size:
        log_event(
            log,
            logging.WARNING,
            "replacing a stale partial file left by an interrupted restore",
            path=str(partial),
            size=info.st_size,
        )
    os.ftruncate(fd, 0)
    os.fchmod(fd, 0o600)
    return fd
