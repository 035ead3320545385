"""`scone-backupper drill`: the newest set is restored into a private temporary directory, checked
as a --cas-database-recovery directory and removed — against a moto S3 server over HTTP, with sets
written by a real `run` (real tar) and damaged by hand the way an operator or a bad disk would."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from backupper_harness import Harness, log_lines


def _drill(harness: Harness) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the drill with TMPDIR pointing at a directory of this test, to see what it leaves."""
    scratch = harness.root / "scratch"
    scratch.mkdir(exist_ok=True)
    return harness.run("drill", env={"TMPDIR": str(scratch)}), scratch


def _backup(harness: Harness, db: bytes, key_store: bytes) -> str:
    harness.write_snapshot(db, key_store)
    result = harness.run("run")
    assert result.returncode == 0, result.stderr
    return str(harness.manifests()[-1]["set_id"])


def test_drill_of_a_good_set_passes_and_leaves_no_copy_behind(harness: Harness) -> None:
    _backup(harness, os.urandom(40_000), b"old-key-store")
    newest = _backup(harness, os.urandom(70_000), b"key-store")

    result, scratch = _drill(harness)

    assert result.returncode == 0, result.stderr
    assert f"restore drill OK: set {newest} (70009 bytes)" in result.stdout
    assert "cas.db, cas.key-store" in result.stdout
    passed = [r for r in log_lines(result.stderr) if r["msg"] == "drill passed"]
    assert (
        passed
        and passed[0]["set_id"] == newest
        and passed[0]["files"] == ["cas.db", "cas.key-store"]
    )
    assert list(scratch.iterdir()) == []


def test_drill_of_a_set_with_a_corrupted_object_fails_naming_the_object(harness: Harness) -> None:
    set_id = _backup(harness, os.urandom(50_000), b"key-store")
    db_key = next(k for k in harness.object_keys() if k.endswith(f"{set_id}/cas.db"))
    original = harness.admin.get_object(Bucket=harness.bucket, Key=db_key)["Body"].read()
    harness.admin.put_object(
        Bucket=harness.bucket, Key=db_key, Body=original[:-1] + bytes([original[-1] ^ 1])
    )

    result, scratch = _drill(harness)

    assert result.returncode == 7, result.stderr
    assert (
        f"restore drill FAILED: {db_key}: stored object does not match the manifest"
        in result.stdout
    )
    assert json.loads(result.stderr.splitlines()[-1])["command"] == "drill"
    assert list(scratch.iterdir()) == []


def test_drill_fails_naming_a_key_store_missing_from_the_newest_set(harness: Harness) -> None:
    _backup(harness, os.urandom(30_000), b"older-key-store")
    newest = _backup(harness, os.urandom(30_000), b"key-store")
    key_store = next(k for k in harness.object_keys() if k.endswith(f"{newest}/cas.key-store"))
    harness.admin.delete_object(Bucket=harness.bucket, Key=key_store)

    result, scratch = _drill(harness)

    # The older set is intact, but a recovery would use the newest one: the drill does not hide it.
    assert result.returncode == 7, result.stderr
    assert f"the newest backup set {newest} of CAS 'cas' cannot be restored" in result.stdout
    assert f"object {key_store} is missing" in result.stdout
    assert list(scratch.iterdir()) == []


def test_drill_fails_naming_a_key_store_the_manifest_does_not_list(harness: Harness) -> None:
    set_id = _backup(harness, os.urandom(20_000), b"key-store")
    manifest_key = next(k for k in harness.object_keys() if k.endswith(f"{set_id}/manifest.json"))
    manifest = json.loads(
        harness.admin.get_object(Bucket=harness.bucket, Key=manifest_key)["Body"].read()
    )
    manifest["files"] = [f for f in manifest["files"] if f["name"] != "cas.key-store"]
    harness.admin.put_object(
        Bucket=harness.bucket, Key=manifest_key, Body=json.dumps(manifest).encode()
    )

    result, scratch = _drill(harness)

    assert result.returncode == 7, result.stderr
    assert f"restore drill FAILED: set {set_id} has no cas.key-store" in result.stdout
    assert list(scratch.iterdir()) == []


def test_drill_without_any_set_says_so(harness: Harness) -> None:
    result, scratch = _drill(harness)

    assert result.returncode == 8
    assert "no complete backup set for CAS 'cas'" in result.stdout
    assert list(scratch.iterdir()) == []
