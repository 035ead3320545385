"""First backup, skip when unchanged, upload when changed, verify and restore byte-identical."""

from __future__ import annotations

import os
from pathlib import Path

from backupper_harness import ACCESS_KEY, SECRET_KEY, Harness, log_lines

BOTH_S3_SERVERS = True  # every store test runs against moto and versitygw


def test_first_backup_uploads_both_files_and_commits_a_manifest_last(harness: Harness) -> None:
    db, key_store = os.urandom(12 * 1024 * 1024 + 123), os.urandom(4096)
    harness.write_snapshot(db, key_store)

    result = harness.run("run")

    assert result.returncode == 0, result.stderr
    keys = harness.object_keys()
    assert len(keys) == 3
    set_prefix = keys[0].rsplit("/", 1)[0] + "/"
    assert set_prefix.startswith("cas-db/cas/")
    assert keys == [set_prefix + n for n in ("cas.db", "cas.key-store", "manifest.json")]
    (manifest,) = harness.manifests()
    assert manifest["cas_name"] == "cas"
    assert manifest["cas_namespace"] == "osc-scone-system"
    assert manifest["cas_version"] == "5.8.0"
    sizes = {f["name"]: f["size"] for f in manifest["files"]}
    assert sizes == {"cas.db": len(db), "cas.key-store": len(key_store)}
    records = log_lines(result.stderr)
    assert any(r["msg"] == "run finished" and r["result"] == "uploaded" for r in records)


def test_unchanged_snapshot_is_skipped_and_the_skip_is_recorded(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(300_000), b"k" * 100)
    assert harness.run("run").returncode == 0
    keys_before = harness.object_keys()

    second = harness.run("run")

    assert second.returncode == 0, second.stderr
    assert harness.object_keys() == keys_before
    assert harness.uploads() == []  # what the one read sent was dropped again
    finished = [r for r in log_lines(second.stderr) if r["msg"] == "run finished"]
    assert finished[0]["result"] == "skipped"


def test_changed_snapshot_is_uploaded_as_a_new_set(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(300_000), b"k" * 100)
    assert harness.run("run").returncode == 0
    harness.write_snapshot(os.urandom(300_000), b"k" * 100)

    assert harness.run("run").returncode == 0

    assert len(harness.manifests()) == 2
    assert len(harness.listed()) == 2


def test_verify_and_restore_round_trip_is_byte_identical(harness: Harness, tmp_path: Path) -> None:
    db, key_store = os.urandom(11 * 1024 * 1024), os.urandom(777)
    harness.write_snapshot(db, key_store)
    assert harness.run("run").returncode == 0

    verify = harness.run("verify", "--set", "latest")
    restore = harness.run("restore", "--set", "latest", "--target", str(tmp_path / "recovered"))

    assert verify.returncode == 0, verify.stderr
    assert restore.returncode == 0, restore.stderr
    target = tmp_path / "recovered"
    assert sorted(p.name for p in target.iterdir()) == ["cas.db", "cas.key-store"]
    assert (target / "cas.db").read_bytes() == db
    assert (target / "cas.key-store").read_bytes() == key_store


def test_restore_by_set_id_picks_that_set_not_the_newest(harness: Harness, tmp_path: Path) -> None:
    first_db = os.urandom(100_000)
    harness.write_snapshot(first_db, b"first")
    assert harness.run("run").returncode == 0
    harness.write_snapshot(os.urandom(100_000), b"second")
    assert harness.run("run").returncode == 0
    oldest = harness.listed()[-1]["set_id"]

    result = harness.run("restore", "--set", oldest, "--target", str(tmp_path / "old"))

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "old" / "cas.db").read_bytes() == first_db
    assert (tmp_path / "old" / "cas.key-store").read_bytes() == b"first"


def test_restore_never_overwrites_existing_files(harness: Harness, tmp_path: Path) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    assert harness.run("run").returncode == 0
    target = tmp_path / "busy"
    target.mkdir()
    (target / "cas.db").write_bytes(b"precious")

    result = harness.run("restore", "--set", "latest", "--target", str(target))

    assert result.returncode == 10
    assert (target / "cas.db").read_bytes() == b"precious"
    assert not (target / "cas.key-store").exists()
    assert "never overwrites" in result.stderr


def test_restore_of_unknown_set_names_the_problem(harness: Harness, tmp_path: Path) -> None:
    result = harness.run("restore", "--set", "latest", "--target", str(tmp_path / "x"))
    assert result.returncode == 8
    assert "no complete backup set" in result.stderr


def test_verify_detects_a_tampered_object(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(50_000), b"ks")
    assert harness.run("run").returncode == 0
    db_key = next(k for k in harness.object_keys() if k.endswith("/cas.db"))
    original = harness.admin.get_object(Bucket=harness.bucket, Key=db_key)["Body"].read()
    damaged = bytes([original[0] ^ 1]) + original[1:]
    harness.admin.put_object(Bucket=harness.bucket, Key=db_key, Body=damaged)

    result = harness.run("verify", "--set", "latest")

    assert result.returncode == 7
    assert "does not match the manifest" in result.stderr


def test_set_without_manifest_is_never_listed_or_restored(harness: Harness, tmp_path: Path) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    assert harness.run("run").returncode == 0
    # What a run that died before its commit leaves behind: data objects, no manifest.
    half = "cas-db/cas/20991231T235959.000000Z/"
    harness.admin.put_object(Bucket=harness.bucket, Key=half + "cas.db", Body=b"partial")

    listed = harness.listed()
    restore = harness.run(
        "restore", "--set", "20991231T235959.000000Z", "--target", str(tmp_path / "r")
    )
    latest = harness.run("restore", "--set", "latest", "--target", str(tmp_path / "l"))

    assert [s["set_id"] for s in listed] != ["20991231T235959.000000Z"]
    assert all(s["status"] == "complete" for s in listed) and len(listed) == 1
    assert restore.returncode == 8 and "not a backup" in restore.stderr
    assert latest.returncode == 0
    assert (tmp_path / "l" / "cas.key-store").read_bytes() == b"ks"
    assert any(s["status"].startswith("unfinished") for s in harness.listed("--all"))


def test_credentials_are_read_fresh_for_every_run(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    assert harness.run("run").returncode == 0
    other = "cas-backups-rotated-" + harness.bucket[-8:]
    harness.admin.create_bucket(Bucket=other)
    (harness.creds_dir / "BUCKET_NAME").write_text(other)  # the Secret changed, same process env

    result = harness.run("run")

    assert result.returncode == 0, result.stderr
    moved = harness.admin.list_objects_v2(Bucket=other).get("Contents", [])
    assert any(o["Key"].endswith("manifest.json") for o in moved)


def test_loop_picks_up_a_changed_secret_without_restart(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    other = "cas-backups-loop-" + harness.bucket[-8:]
    harness.admin.create_bucket(Bucket=other)
    proc = harness.popen("loop", env={"BACKUP_INTERVAL_SECONDS": "1"})
    try:
        from backupper_harness import wait_until

        wait_until(lambda: len(harness.manifests()) == 1, "first set")
        (harness.creds_dir / "BUCKET_NAME").write_text(other)
        wait_until(
            lambda: harness.admin.list_objects_v2(Bucket=other).get("KeyCount", 0) >= 3,
            "a set in the rotated bucket",
        )
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err


def test_secrets_never_appear_in_output_even_on_failure(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    ok = harness.run("run")
    harness.write_secret(endpoint="http://127.0.0.1:1")  # nothing listens there
    failed = harness.run("run", env={"S3_MAX_ATTEMPTS": "2"})

    assert ok.returncode == 0
    assert failed.returncode == 6
    for output in (ok.stdout, ok.stderr, failed.stdout, failed.stderr):
        assert ACCESS_KEY not in output and SECRET_KEY not in output
    assert all(isinstance(r, dict) for r in log_lines(failed.stderr))


def test_restore_shows_progress_when_stderr_is_a_terminal(harness: Harness, tmp_path: Path) -> None:
    import pty
    import subprocess

    harness.write_snapshot(os.urandom(6 * 1024 * 1024), b"ks")
    assert harness.run("run").returncode == 0
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        harness.command("restore", "--set", "latest", "--target", str(tmp_path / "tty")),
        env=harness.base_env(),
        stdout=subprocess.DEVNULL,
        stderr=follower,
        stdin=subprocess.DEVNULL,
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert proc.wait() == 0
    assert b"restore " in seen and b"100.0%" in seen and b"MiB/s" in seen


def test_verify_all_reports_a_set_whose_object_vanished(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(2000), b"one")
    assert harness.run("run").returncode == 0
    harness.write_snapshot(os.urandom(2000), b"two")
    assert harness.run("run").returncode == 0
    oldest = harness.listed()[-1]["set_id"]
    harness.admin.delete_object(Bucket=harness.bucket, Key=f"cas-db/cas/{oldest}/cas.key-store")

    result = harness.run("verify", "--set", "all")

    assert result.returncode == 7
    assert f"{oldest} DAMAGED: object cas-db/cas/{oldest}/cas.key-store is missing" in result.stdout
    assert result.stdout.count(" OK ") == 1
    assert [s["set_id"] for s in harness.listed()] != [oldest]
