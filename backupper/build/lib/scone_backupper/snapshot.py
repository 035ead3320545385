"""Checks that a tar stream is a complete CAS snapshot: exactly `cas.db` and `cas.key-store`.

Why so strict: `kubectl provision cas --cas-database-recovery DIR` expects exactly these two files
(scone-upstream §1.8). A snapshot missing one, with an empty one, or with a link instead of a file
cannot be recovered from, so it must never become a backup set.
"""

from __future__ import annotations

import hashlib
import posixpath
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from .errors import SnapshotIncompleteError

SNAPSHOT_FILES: tuple[str, ...] = ("cas.db", "cas.key-store")
READ_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a snapshot: its name, size and SHA-256 (hex) of its plain bytes."""

    name: str
    size: int
    sha256: str


def _member_name(member: tarfile.TarInfo) -> str:
    name = posixpath.normpath(member.name.lstrip("/"))
    return "." if name in ("", ".") else name


def iter_snapshot_members(tar: tarfile.TarFile) -> Iterator[tuple[str, int, IO[bytes]]]:
    """Yield (name, size, reader) for each snapshot file, in stream order, refusing anything odd.

    The reader is only valid until the next item is requested (tar stream semantics).
    """
    seen: set[str] = set()
    for member in tar:
        name = _member_name(member)
        if member.isdir():
            if name == ".":
                continue
            raise SnapshotIncompleteError(
                f"snapshot contains an unexpected directory {name!r}; a CAS snapshot holds only "
                f"{' and '.join(SNAPSHOT_FILES)}"
            )
        if name not in SNAPSHOT_FILES:
            raise SnapshotIncompleteError(
                f"snapshot contains an unexpected entry {name!r}; a CAS snapshot holds only "
                f"{' and '.join(SNAPSHOT_FILES)} (check --snapshot-dir / SNAPSHOT_DIR)"
            )
        if member.issym() or member.islnk():
            raise SnapshotIncompleteError(
                f"snapshot entry {name!r} is a link, not a file; make the source command "
                "dereference links (e.g. `tar -h`)"
            )
        if not member.isfile():
            raise SnapshotIncompleteError(f"snapshot entry {name!r} is not a regular file")
        if name in seen:
            raise SnapshotIncompleteError(f"snapshot contains {name!r} twice")
        if member.size == 0:
            raise SnapshotIncompleteError(
                f"snapshot file {name!r} is empty; CAS has not completed this snapshot"
            )
        seen.add(name)
        reader = tar.extractfile(member)
        if reader is None:  # pragma: no cover - isfile() members always have a reader
            raise SnapshotIncompleteError(f"snapshot entry {name!r} cannot be read")
        yield name, member.size, reader
    missing = [name for name in SNAPSHOT_FILES if name not in seen]
    if missing:
        raise SnapshotIncompleteError(
            f"snapshot is incomplete: {' and '.join(missing)} missing; a CAS snapshot holds "
            f"{' and '.join(SNAPSHOT_FILES)}, both non-empty (check --snapshot-dir / SNAPSHOT_DIR)"
        )


def fingerprint_snapshot(
    tar: tarfile.TarFile, on_bytes: Callable[[int], None] | None = None
) -> dict[str, SnapshotFile]:
    """Read the whole snapshot once, checking it and hashing each file; nothing is stored."""
    files: dict[str, SnapshotFile] = {}
    for name, size, reader in iter_snapshot_members(tar):
        digest = hashlib.sha256()
        total = 0
        while chunk := reader.read(READ_CHUNK):
            digest.update(chunk)
            total += len(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
        if total != size:
            raise SnapshotIncompleteError(
                f"snapshot file {name!r} is truncated: {total} of {size} bytes in the tar stream"
            )
        files[name] = SnapshotFile(name=name, size=size, sha256=digest.hexdigest())
    return files
