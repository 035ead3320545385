"""One backup run: read the snapshot once, checking, hashing and sending it as it streams; then
either commit it as a new set or, if it equals the newest set, drop what was sent.

Why one read: the tar stream is the costliest thing a run touches (in the cluster it crosses the
API server through `kubectl exec`), and the streaming reader checks every member as it arrives.
Nothing becomes an object until the whole snapshot has been read and checked: each file's
multipart upload stays open (invisible, not listed, no object) and a small file stays in memory,
so a refused, failed or unchanged snapshot is dropped by aborting those uploads, leaving nothing
in the bucket, exactly as if it had been checked before sending. The price is that an unchanged
snapshot is sent once and then dropped instead of only read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import boto3

from . import crypto
from .buffers import Buffer, PartBuffers
from .credentials import S3Credentials, load_credentials
from .errors import (
    BackupperError,
    EncryptionError,
    InterruptedRun,
    RetentionError,
)
from .jsonlog import log_event
from .manifest import EncryptionInfo, Manifest, ManifestFile, new_set_id
from .retention import plan_retention
from .s3client import Retrier, make_client
from .settings import BackupperSettings
from .snapshot import iter_snapshot_members
from .source import build_source_argv, open_snapshot_stream
from .store import BackupStore
from .tarstream import TarReader
from .transfer import MIB, PendingObject, Uploader, choose_part_size

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
    data_client: object  # sends bodies that carry a signed CRC32/SHA-256 checksum header


def open_store(settings: BackupperSettings, stop: threading.Event) -> StoreContext:
    """Read the credentials Secret now and build the client and store for this run."""
    credentials = load_credentials(settings.credentials_dir)
    session = boto3.session.Session()
    client = make_client(credentials, settings, session=session)
    retrier = Retrier(settings, stop)
    store = BackupStore(client, credentials.bucket, settings.set_root, retrier)
    return StoreContext(
        credentials=credentials,
        store=store,
        retrier=retrier,
        client=client,
        data_client=make_client(credentials, settings, unsigned_payload=True, session=session),
    )


def _member_parts(
    tar: TarReader,
    size: int,
    digest: hashlib._Hash | None,
    stop: threading.Event,
    read_size: int,
    *,
    buffers: PartBuffers | None = None,
) -> Iterator[bytearray]:
    """Read one tar member into buffers of `read_size` bytes (= the part size when not
    encrypting; then taken from `buffers`, which the uploader refills as parts are sent), filled
    straight from the pipe, so a part is never copied before it is sent.

    `digest` (when given) sees every plain byte; without encryption the uploader already hashes
    the same bytes, so the caller passes None and takes the uploader's SHA-256 (one pass fewer).
    """
    remaining = size
    while remaining > 0:
        if stop.is_set():
            raise InterruptedRun("stopped while reading the snapshot")
        count = min(read_size, remaining)
        buffer = buffers.take(count) if buffers is not None else bytearray(count)
        tar.read_into(memoryview(buffer))  # fills it whole, or raises: the stream ended early
        if digest is not None:
            digest.update(buffer)
        remaining -= len(buffer)
        yield buffer


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
    listing = store.list_sets(settings.cas_name)
    started = now()
    set_id = new_set_id(started)
    while set_id in listing.objects:  # never write into an existing prefix
        started += dt.timedelta(microseconds=1)
        set_id = new_set_id(started)
    uploader = Uploader(
        ctx.client,
        store.bucket,
        ctx.retrier,
        settings.part_size_mib * MIB,
        settings.concurrency,
        data_client=ctx.data_client,
    )

    read_started = time.monotonic()
    sent = _send_snapshot(settings, uploader, store.set_prefix(set_id), key, stop)
    try:
        size = sum(f.size for f in sent)
        log_event(
            log,
            logging.INFO,
            "snapshot read, checked and sent",
            files={f.name: {"size": f.size, "sha256": f.sha256} for f in sent},
            aborted_orphan_uploads=aborted,
            read_seconds=round(time.monotonic() - read_started, 3),
        )
        identity = (frozenset((f.name, f.size, f.sha256) for f in sent), key_id)
        newest = listing.newest
        if newest is not None and newest.content_identity() == identity:
            _discard(uploader, sent)
            log_event(
                log,
                logging.INFO,
                "snapshot unchanged since newest set; what was sent is dropped, no set written",
                set_id=newest.set_id,
                size=size,
            )
            outcome = RunOutcome(result="skipped", set_id=newest.set_id, size=size)
        else:
            manifest = _commit_set(settings, uploader, store, set_id, sent, key_id=key_id, now=now)
            log_event(
                log,
                logging.INFO,
                "backup set uploaded and committed",
                set_id=set_id,
                size=manifest.total_size,
                encrypted=key is not None,
            )
            outcome = RunOutcome(result="uploaded", set_id=set_id, size=manifest.total_size)
    except BaseException:
        _discard(uploader, sent)
        raise
    return RunOutcome(
        result=outcome.result,
        set_id=outcome.set_id,
        size=outcome.size,
        retention_error=_apply_retention(settings, store, outcome.set_id, now),
    )


@dataclass
class _SentFile:
    """A snapshot file read, checked and sent, not yet an object in the store."""

    name: str
    size: int
    sha256: str  # of the plain bytes
    pending: PendingObject
    finished: bool = False


def _discard(uploader: Uploader, sent: list[_SentFile]) -> None:
    for item in sent:
        if not item.finished:
            item.finished = True  # never twice
            uploader.discard(item.pending)


def _send_snapshot(
    settings: BackupperSettings,
    uploader: Uploader,
    prefix: str,
    key: bytes | None,
    stop: threading.Event,
) -> list[_SentFile]:
    """The one read of the snapshot: each member is checked as its header arrives (name, kind,
    size), hashed and sent as its data streams; the whole stream must then be complete."""
    sent: list[_SentFile] = []
    try:
        argv = build_source_argv(settings)
        with open_snapshot_stream(argv, settings.source_timeout_seconds) as tar:
            for name, size in iter_snapshot_members(tar):
                # Plain uploads store the bytes as read: the uploader's SHA-256 is the plain one.
                digest = hashlib.sha256() if key is not None else None
                part_size = choose_part_size(size, settings.part_size_mib * MIB)
                read_size = crypto.CHUNK_SIZE if key is not None else part_size
                buffers = uploader.buffers if key is None else None
                chunks: Iterator[Buffer] = _member_parts(
                    tar, size, digest, stop, read_size, buffers=buffers
                )
                stored_size = size
                if key is not None:
                    chunks = crypto.encrypt_stream(chunks, key)
                    stored_size = crypto.encrypted_size(size)
                pending = uploader.send(prefix + name, chunks, stored_size)
                plain_sha256 = digest.hexdigest() if digest is not None else pending.sha256
                sent.append(_SentFile(name, size, plain_sha256, pending))
    except BaseException:
        _discard(uploader, sent)
        raise
    return sent


def _commit_set(
    settings: BackupperSettings,
    uploader: Uploader,
    store: BackupStore,
    set_id: str,
    sent: list[_SentFile],
    *,
    key_id: str | None,
    now: Callable[[], dt.datetime],
) -> Manifest:
    """Create the objects, verify each in the store, then write the manifest last."""
    files: list[ManifestFile] = []
    for item in sent:
        item.finished = True  # finish aborts its own upload if it fails
        stored = uploader.finish(item.pending)
        files.append(
            ManifestFile(
                name=item.name,
                key=stored.key,
                size=item.size,
                sha256=item.sha256,
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
    store.write_manifest(manifest)
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
