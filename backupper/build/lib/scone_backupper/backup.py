"""One backup run: check the snapshot, skip it if unchanged, else upload, verify and commit it.

Why two reads of the snapshot: the snapshot must be known complete — and compared with the newest
set — *before anything is uploaded*, yet it is never copied to local disk or held in memory. So
the first read only checks and hashes it; the second streams it to the store while hashing again,
and the two hashes must agree (otherwise CAS replaced the snapshot in between and the run is
retried rather than committing a set no check ever saw).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO

from . import crypto
from .credentials import S3Credentials, load_credentials
from .errors import (
    BackupperError,
    EncryptionError,
    InterruptedRun,
    RetentionError,
    SourceError,
)
from .jsonlog import log_event
from .manifest import EncryptionInfo, Manifest, ManifestFile, new_set_id
from .retention import plan_retention
from .s3client import Retrier, make_client
from .settings import BackupperSettings
from .snapshot import SnapshotFile, fingerprint_snapshot, iter_snapshot_members
from .source import build_source_argv, open_snapshot_stream
from .store import BackupStore
from .transfer import MIB, Uploader, choose_part_size

log = logging.getLogger("scone_backupper.backup")


@dataclass(frozen=True)
class RunOutcome:
    """How a successful run ended."""

    result: str  # "uploaded" or "skipped"
    set_id: str
    size: int
    retention_error: RetentionError | None = None


@dataclass(frozen=True)
class StoreContext:
    """Everything needed to talk to the store during one run, built from fresh credentials."""

    credentials: S3Credentials
    store: BackupStore
    retrier: Retrier
    client: object


def open_store(settings: BackupperSettings, stop: threading.Event) -> StoreContext:
    """Read the credentials Secret now and build the client and store for this run."""
    credentials = load_credentials(settings.credentials_dir)
    client = make_client(credentials, settings)
    retrier = Retrier(settings, stop)
    store = BackupStore(client, credentials.bucket, settings.set_root, retrier)
    return StoreContext(credentials=credentials, store=store, retrier=retrier, client=client)


def _plain_chunks(
    reader: IO[bytes],
    size: int,
    digest: hashlib._Hash | None,
    stop: threading.Event,
    read_size: int,
) -> Iterator[bytes]:
    """Read one tar member in `read_size` pieces (= the part size, so parts need no copying).

    `digest` (when given) sees every plain byte; without encryption the uploader already hashes
    the same bytes, so the caller passes None and takes the uploader's SHA-256 (one pass fewer).
    """
    remaining = size
    while remaining > 0:
        if stop.is_set():
            raise InterruptedRun("stopped while reading the snapshot")
        chunk = reader.read(min(read_size, remaining))
        if not chunk:
            raise SourceError(f"snapshot stream ended {remaining} bytes early")
        if digest is not None:
            digest.update(chunk)
        remaining -= len(chunk)
        yield chunk


def run_once(
    settings: BackupperSettings,
    stop: threading.Event,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> RunOutcome:
    """Perform one backup run; raises a BackupperError subclass on failure."""
    ctx = open_store(settings, stop)
    key = (
        ctx.credentials.encryption_key.get_secret_value()
        if ctx.credentials.encryption_key
        else None
    )
    if settings.require_encryption and key is None:
        raise EncryptionError(
            "client-side encryption is required (--require-encryption / "
            "BACKUP_REQUIRE_ENCRYPTION) but the S3 Secret has no ENCRYPTION_KEY; nothing uploaded"
        )
    key_id = crypto.key_id(key) if key else None
    store = ctx.store
    store.check_bucket()
    aborted = store.abort_orphan_uploads(dt.timedelta(seconds=settings.orphan_grace_seconds), now())
    argv = build_source_argv(settings)

    # Read 1: check and fingerprint; nothing is written anywhere.
    with open_snapshot_stream(argv, settings.source_timeout_seconds) as tar:
        fingerprint = fingerprint_snapshot(tar)
    size = sum(f.size for f in fingerprint.values())
    log_event(
        log,
        logging.INFO,
        "snapshot checked",
        files={n: {"size": f.size, "sha256": f.sha256} for n, f in fingerprint.items()},
        aborted_orphan_uploads=aborted,
    )

    listing = store.list_sets(settings.cas_name)
    identity = (frozenset((f.name, f.size, f.sha256) for f in fingerprint.values()), key_id)
    newest = listing.newest
    if newest is not None and newest.content_identity() == identity:
        log_event(
            log,
            logging.INFO,
            "snapshot unchanged since newest set; upload skipped",
            set_id=newest.set_id,
            size=size,
        )
        outcome = RunOutcome(result="skipped", set_id=newest.set_id, size=size)
    else:
        started = now()
        set_id = new_set_id(started)
        while set_id in listing.objects:  # never write into an existing prefix
            started += dt.timedelta(microseconds=1)
            set_id = new_set_id(started)
        manifest = _upload_set(
            settings,
            ctx,
            set_id=set_id,
            argv=argv,
            fingerprint=fingerprint,
            key=key,
            key_id=key_id,
            stop=stop,
            now=now,
        )
        log_event(
            log,
            logging.INFO,
            "backup set uploaded and committed",
            set_id=set_id,
            size=manifest.total_size,
            encrypted=key is not None,
        )
        outcome = RunOutcome(result="uploaded", set_id=set_id, size=manifest.total_size)
    return RunOutcome(
        result=outcome.result,
        set_id=outcome.set_id,
        size=outcome.size,
        retention_error=_apply_retention(settings, store, outcome.set_id, now),
    )


def _upload_set(
    settings: BackupperSettings,
    ctx: StoreContext,
    *,
    set_id: str,
    argv: list[str],
    fingerprint: dict[str, SnapshotFile],
    key: bytes | None,
    key_id: str | None,
    stop: threading.Event,
    now: Callable[[], dt.datetime],
) -> Manifest:
    uploader = Uploader(
        ctx.client,
        ctx.store.bucket,
        ctx.retrier,
        settings.part_size_mib * MIB,
        settings.concurrency,
    )
    files: list[ManifestFile] = []
    # Read 2: stream to the store; the objects stay invisible as a backup until the manifest.
    with open_snapshot_stream(argv, settings.source_timeout_seconds) as tar:
        for name, size, reader in iter_snapshot_members(tar):
            # Plain uploads store the bytes as read: the uploader's SHA-256 is the plain one.
            digest = hashlib.sha256() if key is not None else None
            part_size = choose_part_size(size, settings.part_size_mib * MIB)
            read_size = crypto.CHUNK_SIZE if key is not None else part_size
            chunks: Iterator[bytes] = _plain_chunks(reader, size, digest, stop, read_size)
            stored_size = size
            if key is not None:
                chunks = crypto.encrypt_stream(chunks, key)
                stored_size = crypto.encrypted_size(size)
            object_key = ctx.store.set_prefix(set_id) + name
            stored = uploader.upload(object_key, chunks, stored_size)
            plain_sha256 = digest.hexdigest() if digest is not None else stored.sha256
            expected = fingerprint.get(name)
            if expected is None or expected.sha256 != plain_sha256 or expected.size != size:
                raise SourceError(
                    "the snapshot changed between the check and the upload (CAS wrote a new one); "
                    "the partial set stays uncommitted and the run will be retried"
                )
            files.append(
                ManifestFile(
                    name=name,
                    key=object_key,
                    size=size,
                    sha256=plain_sha256,
                    stored_size=stored.size,
                    stored_sha256=stored.sha256,
                )
            )
    manifest = Manifest(
        set_id=set_id,
        cas_name=settings.cas_name,
        cas_namespace=settings.cas_namespace,
        cas_version=settings.cas_version,
        created_at=now(),
        files=sorted(files, key=lambda f: f.name),
        encryption=EncryptionInfo(algorithm=crypto.ALGORITHM, key_id=key_id) if key_id else None,
    )
    ctx.store.write_manifest(manifest)
    return manifest


def _apply_retention(
    settings: BackupperSettings,
    store: BackupStore,
    current: str,
    now: Callable[[], dt.datetime],
) -> RetentionError | None:
    """Delete expired sets after a successful run; a failure here never fails the backup itself."""
    try:
        listing = store.list_sets(settings.cas_name)
        plan = plan_retention(
            listing,
            now(),
            retention_days=settings.retention_days,
            min_keep=settings.min_keep,
            orphan_grace=dt.timedelta(seconds=settings.orphan_grace_seconds),
            protect=frozenset({current}),
        )
        for set_id in plan.deletions:
            store.delete_set(set_id, listing.objects.get(set_id, []))
        if plan.deletions:
            log_event(
                log,
                logging.INFO,
                "retention applied",
                expired=plan.expired,
                unfinished=plan.unfinished,
                damaged=plan.damaged,
                kept=len(plan.kept),
            )
        return None
    except BackupperError as exc:
        log_event(
            log, logging.ERROR, "retention failed; sets are kept until the next run", error=str(exc)
        )
        return RetentionError(f"retention failed: {exc}")


def measure(fn: Callable[[], RunOutcome]) -> tuple[RunOutcome, float]:
    """Run `fn` and return its outcome with its duration in seconds."""
    start = time.monotonic()
    outcome = fn()
    return outcome, time.monotonic() - start
