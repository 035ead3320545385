"""The restore drill: prove that the newest backup set can be restored, then throw the copy away.

Why: a backup nobody ever restored is a hope, not a backup. `verify` proves the bytes in the
bucket match their manifest; the drill goes one step further and does what a recovery does —
`restore` into a directory — then checks that directory is what
`kubectl provision cas --cas-database-recovery DIR` takes: exactly `cas.db` and `cas.key-store`,
both regular, non-empty files. It works in a private temporary directory (0700, under `TMPDIR`)
that is removed whatever happens, so a drill never leaves a copy of the CAS database behind.

Which set: the newest *committed* set (one with a manifest). If that set is damaged (an object
deleted or truncated by hand, a manifest that does not parse), the drill fails naming what is
wrong instead of quietly drilling an older set: the newest backup is the one a recovery would use.
Prefixes without a manifest are unfinished runs and are ignored, as everywhere else.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .backup import open_store
from .download import Downloader
from .errors import NotFoundError, VerificationError
from .jsonlog import log_event
from .manifest import Manifest
from .restore import restore_set
from .settings import BackupperSettings
from .snapshot import SNAPSHOT_FILES
from .store import SetListing
from .transfer import MIB

log = logging.getLogger("scone_backupper.drill")

SCRATCH_PREFIX = "scone-backupper-drill-"


@dataclass(frozen=True)
class DrillReport:
    """A passed drill: which set, how many plain bytes, which files, how long it took."""

    set_id: str
    size: int
    files: tuple[str, ...]
    duration_seconds: float


def newest_committed_set(listing: SetListing, cas_name: str, where: str) -> Manifest:
    """The newest complete set, unless a newer committed set is damaged (then fail, naming it)."""
    newest = listing.newest
    newer_damaged = sorted(
        (s for s in listing.damaged if newest is None or s > newest.set_id), reverse=True
    )
    if newer_damaged:
        set_id = newer_damaged[0]
        raise VerificationError(
            f"the newest backup set {set_id} of CAS {cas_name!r} cannot be restored: "
            f"{listing.damaged[set_id]} (run `scone-backupper list --all`; take a new backup)"
        )
    if newest is None:
        raise NotFoundError(f"no complete backup set for CAS {cas_name!r} under {where}")
    return newest


def missing_snapshot_files(manifest: Manifest) -> list[str]:
    """Recovery files the set's manifest does not list."""
    listed = {item.name for item in manifest.files}
    return [name for name in SNAPSHOT_FILES if name not in listed]


def recovery_layout_problems(directory: Path) -> list[str]:
    """What keeps `directory` from being a --cas-database-recovery directory (empty if nothing)."""
    present = {entry.name: entry for entry in os.scandir(directory)}
    problems = [f"{name} is missing" for name in SNAPSHOT_FILES if name not in present]
    for name, entry in sorted(present.items()):
        if name not in SNAPSHOT_FILES:
            problems.append(f"{name} is not part of a CAS recovery directory")
            continue
        info = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode):
            problems.append(f"{name} is not a regular file")
        elif info.st_size == 0:
            problems.append(f"{name} is empty")
    return problems


def _remove_scratch(scratch: Path) -> None:
    shutil.rmtree(scratch, ignore_errors=True)
    if scratch.exists():
        log_event(
            log,
            logging.ERROR,
            "drill scratch directory could not be removed; delete it by hand",
            path=str(scratch),
        )


def run_drill(settings: BackupperSettings, stop: threading.Event) -> DrillReport:
    """Restore the newest set into a private temporary directory, check it, remove it."""
    start = time.monotonic()
    ctx = open_store(settings, stop)
    where = f"s3://{ctx.store.bucket}/{ctx.store.set_root}"
    manifest = newest_committed_set(
        ctx.store.list_sets(settings.cas_name), settings.cas_name, where
    )
    missing = missing_snapshot_files(manifest)
    if missing:
        raise VerificationError(
            f"set {manifest.set_id} has no {', '.join(missing)}: it cannot be used with "
            "--cas-database-recovery"
        )
    downloader = Downloader(
        ctx.client,
        ctx.store.bucket,
        ctx.retrier,
        settings.part_size_mib * MIB,
        settings.concurrency,
    )
    scratch = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    try:
        target = scratch / "recovery"
        restore_set(downloader, manifest, ctx.credentials, target)
        problems = recovery_layout_problems(target)
        if problems:
            raise VerificationError(
                f"set {manifest.set_id} restored, but not as a recovery directory: "
                + "; ".join(problems)
            )
        files = tuple(sorted(p.name for p in target.iterdir()))
    finally:
        _remove_scratch(scratch)
    return DrillReport(
        set_id=manifest.set_id,
        size=manifest.total_size,
        files=files,
        duration_seconds=time.monotonic() - start,
    )
