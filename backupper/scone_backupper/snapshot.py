"""Checks that a tar stream is a complete CAS snapshot: exactly `cas.db` and `cas.key-store`.

Why so strict: `kubectl provision cas --cas-database-recovery DIR` expects exactly these two files.
A snapshot missing one, with an empty one, or with a link instead of a file
cannot be recovered from, so it must never become a backup set.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator

from .errors import SnapshotIncompleteError
from .tarstream import TarMember, TarReader

SNAPSHOT_FILES: tuple[str, ...] = ("cas.db", "cas.key-store")


def _member_name(member: TarMember) -> str:
    name = posixpath.normpath(member.name.lstrip("/"))
    return "." if name in ("", ".") else name


def iter_snapshot_members(tar: TarReader) -> Iterator[tuple[str, int]]:
    """Yield (name, size) for each snapshot file, in stream order, refusing anything odd.

    After each item the reader is positioned at that file's data (`tar.read_into`); the data not
    read is skipped when the next item is requested (tar stream semantics).
    """
    seen: set[str] = set()
    while (member := tar.next()) is not None:
        name = _member_name(member)
        if member.kind == "dir":
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
        if member.kind in ("symlink", "hardlink"):
            raise SnapshotIncompleteError(
                f"snapshot entry {name!r} is a link, not a file; make the source command "
                "dereference links (e.g. `tar -h`)"
            )
        if member.kind != "file":
            raise SnapshotIncompleteError(f"snapshot entry {name!r} is not a regular file")
        if name in seen:
            raise SnapshotIncompleteError(f"snapshot contains {name!r} twice")
        if member.size == 0:
            raise SnapshotIncompleteError(
                f"snapshot file {name!r} is empty; CAS has not completed this snapshot"
            )
        seen.add(name)
        yield name, member.size
    missing = [name for name in SNAPSHOT_FILES if name not in seen]
    if missing:
        raise SnapshotIncompleteError(
            f"snapshot is incomplete: {' and '.join(missing)} missing; a CAS snapshot holds "
            f"{' and '.join(SNAPSHOT_FILES)}, both non-empty (check --snapshot-dir / SNAPSHOT_DIR)"
        )
