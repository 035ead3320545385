"""The stack's backup sets, read with the backupper's own library and the cluster's S3 Secret.

Why the Secret and not local credentials: the sets must be the ones the in-cluster backupper
writes, with the bucket, endpoint and key it uses now. The Secret is read at run time into a
private directory (0700, files 0600) that exists only while the backupper library loads it; no
value is printed, logged or put on a command line.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import shutil
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scone_backupper.backup import StoreContext, open_store
from scone_backupper.errors import BackupperError
from scone_backupper.jsonlog import redact
from scone_backupper.manifest import Manifest
from scone_backupper.settings import BackupperSettings
from scone_backupper.store import SetListing

from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import Kubectl
from scone_ops.stack_target import BACKUPPER_SECRET, StackTarget

logging.getLogger("scone_backupper").addHandler(logging.NullHandler())
logging.getLogger("scone_backupper").propagate = False


@dataclass(frozen=True)
class Freshness:
    """Whether the newest complete set is younger than the backup interval."""

    newest: Manifest | None
    age_seconds: float | None
    interval_seconds: int

    @property
    def ok(self) -> bool:
        return self.age_seconds is not None and self.age_seconds < self.interval_seconds

    def problem(self) -> str | None:
        """Why the backups do not cover the CAS now (None when they do)."""
        if self.newest is None:
            return "there is no complete backup set of this CAS"
        if not self.ok:
            return (f"the newest complete backup set {self.newest.set_id} is {self.age_seconds:.0f} s old,"
                    f" older than the backup interval ({self.interval_seconds} s)")
        return None


def freshness(complete: list[Manifest], interval_seconds: int, now: dt.datetime) -> Freshness:
    """Pure: judge the newest complete set (the listing is newest first)."""
    newest = complete[0] if complete else None
    age = (now - newest.created_at).total_seconds() if newest else None
    return Freshness(newest, age, interval_seconds)


def write_credentials(secret: Mapping[str, object], directory: Path) -> None:
    """Write a Secret's data as one file per key (what a mounted Secret looks like), mode 0600."""
    data = secret.get("data") or {}
    assert isinstance(data, dict)
    for key, value in data.items():
        path = directory / str(key)
        path.touch(mode=0o600)
        path.write_bytes(base64.b64decode(str(value)))


@contextmanager
def credentials_dir(kubectl: Kubectl, target: StackTarget) -> Iterator[Path]:
    """The backupper's S3 Secret as files in a private temporary directory, removed afterwards."""
    secret = kubectl.get_or_none("secret", BACKUPPER_SECRET, "-n", target.namespace)
    if secret is None:
        raise OpsError(ExitCode.BACKUP, f"Secret {BACKUPPER_SECRET} does not exist in {target.namespace}",
                       "`pulumi up` copies it from scone:backup.s3Creds; or, knowingly, pass --skip-backup-check")
    directory = Path(tempfile.mkdtemp(prefix="scone-ops-s3-"))
    try:
        write_credentials(secret, directory)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def backupper_settings(target: StackTarget, creds: Path) -> BackupperSettings:
    """The backupper settings the stack's Deployment runs with, for reading the bucket."""
    return BackupperSettings(cas_name=target.cas_name, cas_namespace=target.namespace, cas_version=target.version,
                             interval_seconds=target.backup.interval_seconds,
                             retention_days=target.backup.retention_days, min_keep=target.backup.min_keep,
                             prefix=target.backup.prefix, credentials_dir=creds, metrics_port=0,
                             max_attempts=3, retry_max_seconds=2.0)


@contextmanager
def backup_store(kubectl: Kubectl, target: StackTarget) -> Iterator[StoreContext]:
    """The backupper's store for this stack; its errors become OpsError(BACKUP), redacted."""
    with credentials_dir(kubectl, target) as creds:
        try:
            ctx = open_store(backupper_settings(target, creds), threading.Event())
        except BackupperError as exc:
            raise OpsError(ExitCode.BACKUP, f"cannot open the backup store: {redact(str(exc))}",
                           f"check the Secret {BACKUPPER_SECRET} in {target.namespace}") from None
    yield ctx


def list_sets(kubectl: Kubectl, target: StackTarget) -> SetListing:
    """Every set prefix of this CAS, classified by the backupper's own rules."""
    with backup_store(kubectl, target) as ctx:
        try:
            return ctx.store.list_sets(target.cas_name)
        except BackupperError as exc:
            raise OpsError(ExitCode.BACKUP, f"cannot list backup sets: {redact(str(exc))}",
                           "check the bucket and its endpoint (`scone-ops backup list`)") from None


def set_row(manifest: Manifest) -> dict[str, object]:
    """One set for tables and JSON."""
    return {"set_id": manifest.set_id, "created_at": manifest.created_at.isoformat(),
            "size": manifest.total_size, "cas_version": manifest.cas_version,
            "encrypted": manifest.encryption is not None}
