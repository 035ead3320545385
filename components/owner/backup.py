"""Keeping every pre-upgrade CAS backup, with a checksum, instead of upstream's single ``.bak``.

Why: ``kubectl provision cas N --local-backup`` copies the last snapshot to
``./cas-database-snapshots/<N>-<NS>-last-snapshot-db`` and moves the previous copy to ``.bak``, so the
third backup destroys the first. Before an upgrade we want a backup that is never overwritten and
whose integrity can be checked later: it is copied into its own new directory under
``provisioning.backupDir`` together with a ``SHA256SUMS`` file, and the digest of that file is what
the stack records as ``backupSha256``. Before every ``--local-backup`` run, the copies an earlier run
left in the plugin's work directory are moved into the same history (``clear_work_snapshots``), so the
backup kept is always the one this run wrote.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from components.provider_errors import UserFacingError

SNAPSHOT_FILES = ("cas.db", "cas.key-store")


class BackupError(UserFacingError):
    """The backup is missing, incomplete or could not be kept; an upgrade must not proceed."""


@dataclass(frozen=True)
class KeptBackup:
    path: Path
    sha256: str


def snapshot_source(work_dir: Path, cas_name: str, namespace: str) -> Path:
    """Where upstream's ``--local-backup`` writes, relative to the plugin's working directory, not to TARGET_DIR."""
    return work_dir / "cas-database-snapshots" / f"{cas_name}-{namespace}-last-snapshot-db"


def _unique(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3`` ... whichever does not exist yet (nothing is ever overwritten)."""
    candidate, suffix = path, 1
    while candidate.exists():
        suffix += 1
        candidate = path.with_name(f"{path.name}-{suffix}")
    return candidate


def clear_work_snapshots(work_dir: Path, backup_root: Path, cas_name: str, namespace: str) -> list[Path]:
    """Move upstream's ``<n>-<ns>-last-snapshot-db`` and its ``.bak`` out of ``work_dir`` before a backup run.

    Why: the pre-upgrade backup is whatever ``--local-backup`` leaves at that path. Whatever an earlier
    run left there (a copy of an earlier backup, a half-copied directory after a killed run, upstream's
    ``.bak``) must not be mistaken for this run's snapshot, and must not get in the way of upstream
    moving its previous copy to ``.bak``. They are kept, never deleted: moved under
    ``<backup_root>/<n>-<ns>/earlier-work-snapshots/<UTC time>/``. Returns where they went.
    """
    source = snapshot_source(work_dir, cas_name, namespace)
    leftovers = [path for path in (source, source.with_name(source.name + ".bak")) if path.exists()]
    if not leftovers:
        return []
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    history = _unique(backup_root / f"{cas_name}-{namespace}" / "earlier-work-snapshots" / stamp)
    moved = []
    try:
        history.mkdir(parents=True)
        for path in leftovers:
            target = history / path.name
            shutil.move(str(path), str(target))
            moved.append(target)
    except OSError as exc:
        raise BackupError(
            f"could not move the earlier snapshot copies {', '.join(map(str, leftovers))} out of the plugin's work "
            f"directory into {history}: {exc}"
        ) from exc
    return moved


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
        target = _unique(parent / f"{stamp}-{version}")  # never overwrite an earlier backup
        staging = parent / f".{target.name}.partial"
        shutil.copytree(source, staging)
        sums, sha = digest_dir(staging)
        (staging / "SHA256SUMS").write_text(sums)
        staging.rename(target)
    except OSError as exc:
        raise BackupError(f"could not keep the backup under provisioning.backupDir '{backup_root}': {exc}") from exc
    return KeptBackup(target, sha)
