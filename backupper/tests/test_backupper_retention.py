"""Retention keeps the newest set, respects the minimum, and never runs after a failed run."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest
from backupper_harness import Harness

from scone_backupper.backup import run_once
from scone_backupper.errors import SnapshotIncompleteError
from scone_backupper.manifest import Manifest, new_set_id
from scone_backupper.retention import plan_retention
from scone_backupper.settings import BackupperSettings, resolve_settings
from scone_backupper.store import SetListing

BOTH_S3_SERVERS = True  # every store test runs against moto and versitygw

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _manifest(days_ago: float) -> Manifest:
    created = NOW - dt.timedelta(days=days_ago)
    return Manifest(
        set_id=new_set_id(created),
        cas_name="cas",
        cas_namespace="ns",
        cas_version="",
        created_at=created,
        files=[],
    )


def _listing(*days_ago: float) -> SetListing:
    manifests = sorted((_manifest(d) for d in days_ago), key=lambda m: m.set_id, reverse=True)
    return SetListing(complete=manifests)


def _plan(listing: SetListing, retention: int = 10, min_keep: int = 3) -> list[str]:
    return plan_retention(
        listing,
        NOW,
        retention_days=retention,
        min_keep=min_keep,
        orphan_grace=dt.timedelta(hours=1),
    ).expired


def test_sets_older_than_retention_are_deleted_when_enough_newer_sets_remain() -> None:
    listing = _listing(1, 2, 3, 4, 11, 12)
    assert sorted(_plan(listing)) == sorted(m.set_id for m in listing.complete[4:])


def test_minimum_is_respected_even_if_all_sets_expired() -> None:
    listing = _listing(20, 21, 22, 23, 24)
    expired = _plan(listing, min_keep=3)
    assert len(expired) == 2
    # the oldest go first
    assert sorted(expired) == sorted(m.set_id for m in listing.complete[3:])


def test_newest_set_is_never_deleted_even_with_min_keep_one() -> None:
    listing = _listing(30, 40, 50)
    expired = _plan(listing, min_keep=1)
    assert listing.complete[0].set_id not in expired
    assert len(expired) == 2


def test_unfinished_prefixes_are_swept_only_after_the_grace_period() -> None:
    old = new_set_id(NOW - dt.timedelta(hours=2))
    fresh = new_set_id(NOW - dt.timedelta(minutes=5))
    listing = SetListing(complete=[_manifest(0)], incomplete=[old, fresh, "not-a-set-id"])
    plan = plan_retention(
        listing, NOW, retention_days=10, min_keep=3, orphan_grace=dt.timedelta(hours=1)
    )
    assert plan.unfinished == [old]


def _settings(harness: Harness, **extra: str) -> BackupperSettings:
    env = harness.base_env()
    env.update(extra)
    return resolve_settings({}, environ=env)


def _run_at(harness: Harness, when: dt.datetime, settings: BackupperSettings) -> str:
    harness.write_snapshot(os.urandom(2000), when.isoformat().encode())
    return run_once(settings, threading.Event(), now=lambda: when).set_id


def test_retention_in_the_store_keeps_newest_and_minimum(harness: Harness) -> None:
    settings = _settings(harness, BACKUP_RETENTION_DAYS="10", BACKUP_MIN_KEEP="3")
    start = NOW - dt.timedelta(days=40)
    ids = [_run_at(harness, start + dt.timedelta(days=d), settings) for d in (0, 5, 10, 15, 20)]
    # Day 20 since start = 20 days before NOW; every set is older than the retention now.
    final = _run_at(harness, NOW, settings)

    remaining = [s["set_id"] for s in harness.listed()]

    assert final in remaining
    assert remaining == sorted([final, ids[4], ids[3]], reverse=True)
    assert all(not k.startswith(f"cas-db/cas/{i}/") for i in ids[:3] for k in harness.object_keys())


def test_no_retention_after_a_failed_run(harness: Harness) -> None:
    settings = _settings(harness, BACKUP_RETENTION_DAYS="1", BACKUP_MIN_KEEP="1")
    old = [
        _run_at(harness, NOW - dt.timedelta(days=d), settings) for d in (30, 20)
    ]  # the run at -20d already expired the -30d set (min keep 1, newest kept)
    assert [s["set_id"] for s in harness.listed()] == [old[1]]
    (harness.snapshot_dir / "cas.key-store").write_bytes(b"")  # next snapshot is incomplete

    with pytest.raises(SnapshotIncompleteError):
        run_once(settings, threading.Event(), now=lambda: NOW)

    assert [s["set_id"] for s in harness.listed()] == [old[1]]


def test_skipped_run_still_applies_retention_but_keeps_the_newest(harness: Harness) -> None:
    settings = _settings(harness, BACKUP_RETENTION_DAYS="1", BACKUP_MIN_KEEP="1")
    harness.write_snapshot(b"db-one", b"ks")
    first = run_once(settings, threading.Event(), now=lambda: NOW - dt.timedelta(days=9))
    harness.write_snapshot(b"db-two", b"ks")
    second = run_once(settings, threading.Event(), now=lambda: NOW - dt.timedelta(days=5))

    skipped = run_once(settings, threading.Event(), now=lambda: NOW)

    assert skipped.result == "skipped" and skipped.set_id == second.set_id
    assert [s["set_id"] for s in harness.listed()] == [second.set_id]
    assert first.set_id != second.set_id


def test_a_new_set_never_reuses_an_existing_prefix(harness: Harness) -> None:
    settings = _settings(harness)
    taken = new_set_id(NOW)
    harness.admin.put_object(Bucket=harness.bucket, Key=f"cas-db/cas/{taken}/cas.db", Body=b"x")
    harness.write_snapshot(b"db", b"ks")

    outcome = run_once(settings, threading.Event(), now=lambda: NOW)

    assert outcome.result == "uploaded"
    assert outcome.set_id != taken
    assert (
        harness.admin.get_object(Bucket=harness.bucket, Key=f"cas-db/cas/{taken}/cas.db")[
            "Body"
        ].read()
        == b"x"
    )
