"""Keeping every pre-upgrade CAS backup, with a checksum, instead of upstream's single ``.bak``.

Why: ``kubectl provision cas N --local-backup`` copies the last snapshot to
``./cas-database-snapshots/<N>-<NS>-last-snapshot-db`` and moves the previous copy to ``.bak``, so the
third backup destroys the first. Before an upgrade we want a backup that is never overwritten and
whose integrity can be checked later: it is copied into its own new directory under
``provisioning.backupDir`` together with a ``SHA256SUMS`` file, and the digest of that file is what
the stack records as ``backupSha256``.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

SNAPSHOT_FILES = ("cas.db", "cas.key-store")


class BackupError(RuntimeError):
    """The backup is missing, incomplete or could not be kept; an upgrade must not proceed."""


@dataclass(frozen=True)
class KeptBackup:
    path: Path
    sha256: str


def snapshot_source(work_dir: Path, cas_name: str, namespace: str) -> Path:
    """Where upstream's ``--local-backup`` writes, relative to the plugin's cwd (§1.8)."""
    return work_dir / "cas-database-snapshots" / f"{cas_name}-{namespace}-last-snapshot-db"


def check_snapshot_dir(directory: Path) -> None:
    """A usable snapshot holds exactly the two files recovery expects, both non-empty."""
    if not directory.is_dir():
        raise BackupError(f"snapshot directory '{directory}' does not exist")
    missing = [
        name for name in SNAPSHOT_FILES if not (directory / name).is_file() or (directory / name).stat().st_size == 0
    ]
    if missing:
        raise BackupError(
            f"snapshot directory '{directory}' lacks non-empty {', '.join(missing)} "
            "(a CAS snapshot holds cas.db and cas.key-store)"
        )


def digest_dir(directory: Path) -> tuple[str, str]:
    """(``SHA256SUMS`` text over the snapshot files, SHA-256 of that text)."""
    lines = []
    for name in SNAPSHOT_FILES:
        lines.append(f"{hashlib.sha256((directory / name).read_bytes()).hexdigest()}  {name}\n")
    text = "".join(lines)
    return text, hashlib.sha256(text.encode()).hexdigest()


def keep_backup(source: Path, backup_root: Path, cas_name: str, namespace: str, version: str) -> KeptBackup:
    """Copy ``source`` into a fresh ``<backup_root>/<name>-<ns>/<UTC time>-<version>`` and checksum it."""
    check_snapshot_dir(source)
    parent = backup_root / f"{cas_name}-{namespace}"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        target = parent / f"{stamp}-{version}"
        suffix = 1
        while target.exists():  # never overwrite an earlier backup
            suffix += 1
            target = parent / f"{stamp}-{version}-{suffix}"
        staging = parent / f".{target.name}.partial"
        shutil.copytree(source, staging)
        sums, sha = digest_dir(staging)
        (staging / "SHA256SUMS").write_text(sums)
        staging.rename(target)
    except OSError as exc:
        raise BackupError(f"could not keep the backup under provisioning.backupDir '{backup_root}': {exc}") from exc
    return KeptBackup(target, sha)
