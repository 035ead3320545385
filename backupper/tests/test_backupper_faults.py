"""Faults between the backupper and the store: 500/503 answers, throttling, slow responses,
connections dropped or bytes damaged mid-upload, and the store process killed mid-upload.

After every scenario the same check holds: every complete set verifies byte for byte, no set
without a manifest is listed, and no multipart upload is left behind once a run succeeded.
"""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

from backupper_harness import (
    FaultProxy,
    Harness,
    ServerProcess,
    log_lines,
    new_harness,
    start_moto,
    start_versitygw,
    wait_until,
)

SIZE = 12 * 1024 * 1024 + 17  # three 5 MiB parts: faults can hit the middle one


BOTH_S3_SERVERS = True
# What a store says when a part's bytes do not match what we sent: our own check (moto echoes no
# checksum, so the part's ETag is compared with its Content-MD5) or the store's (versitygw checks
# the x-amz-checksum-crc32 header itself).
DAMAGE_DETECTED = {"TransientMismatch", "BadDigest", "XAmzContentChecksumMismatch", "InvalidDigest"}


def assert_store_consistent(harness: Harness) -> None:
    listed = harness.listed("--all")
    assert listed, "expected at least one set"
    assert all(s["status"] == "complete" for s in harness.listed())
    verify = harness.run("verify", "--set", "all", env=harness.direct())
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.count(" OK ") == len(harness.listed())
    assert harness.uploads() == []


def _retries(stderr: str) -> list[dict[str, object]]:
    return [r for r in log_lines(stderr) if r["msg"] == "retrying S3 request"]


def test_500_and_503_slowdown_answers_are_retried(faulty: Harness, proxy: FaultProxy) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules(
        [
            {
                "method": "PUT",
                "query": "partNumber=2",
                "action": "status",
                "status": 503,
                "code": "SlowDown",
                "times": 2,
            },
            {
                "method": "POST",
                "query": "uploadId",
                "action": "status",
                "status": 500,
                "code": "InternalError",
                "times": 1,
            },
            {
                "method": "PUT",
                "path": "manifest.json",
                "action": "status",
                "status": 503,
                "code": "ServiceUnavailable",
                "times": 1,
            },
        ]
    )

    result = faulty.run("run")

    assert result.returncode == 0, result.stderr
    fired = [e.get("status") for e in proxy.events()]
    assert fired.count(503) == 3 and fired.count(500) == 1
    assert {r["error"] for r in _retries(result.stderr)} >= {"SlowDown", "InternalError"}
    assert_store_consistent(faulty)


def test_persistent_5xx_fails_the_run_without_committing_a_set(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules(
        [
            {
                "method": "PUT",
                "query": "partNumber=3",
                "action": "status",
                "status": 500,
                "times": 1000,
            }
        ]
    )

    result = faulty.run("run", env={"S3_MAX_ATTEMPTS": "3"})

    assert result.returncode == 6
    assert "after 3 attempts" in result.stderr
    assert faulty.manifests() == []
    assert faulty.listed() == []
    assert faulty.uploads() == [], "the failed run aborts its own multipart upload"


def test_slow_responses_beyond_the_read_timeout_are_retried(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules(
        [
            {"method": "PUT", "query": "partNumber=2", "action": "delay", "seconds": 3, "times": 1},
            {
                "method": "PUT",
                "query": "partNumber=1",
                "action": "delay",
                "seconds": 0.3,
                "times": 1,
            },
        ]
    )

    result = faulty.run("run", env={"S3_READ_TIMEOUT_SECONDS": "1"})

    assert result.returncode == 0, result.stderr
    assert any(r["error"] == "ReadTimeoutError" for r in _retries(result.stderr))
    assert_store_consistent(faulty)


def test_connection_dropped_mid_part_is_retried(faulty: Harness, proxy: FaultProxy) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules([{"method": "PUT", "query": "partNumber=2", "action": "drop", "times": 2}])

    result = faulty.run("run")

    assert result.returncode == 0, result.stderr
    assert [e["action"] for e in proxy.events()].count("drop") == 2
    assert_store_consistent(faulty)


def test_bytes_damaged_in_transit_are_detected_and_the_part_resent(
    faulty: Harness, proxy: FaultProxy
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    proxy.set_rules([{"method": "PUT", "query": "partNumber=2", "action": "corrupt", "times": 1}])

    result = faulty.run("run")

    assert result.returncode == 0, result.stderr
    assert {r["error"] for r in _retries(result.stderr)} & DAMAGE_DETECTED, result.stderr
    assert_store_consistent(faulty)
    db_key = next(k for k in faulty.object_keys() if k.endswith("/cas.db"))
    assert faulty.admin.get_object(Bucket=faulty.bucket, Key=db_key)["Body"].read() == db


def test_store_killed_mid_upload_and_back_soon_completes_the_run(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules([{"method": "PUT", "query": "partNumber=2", "action": "hold"}])
    run = faulty.popen("run", env={"S3_MAX_ATTEMPTS": "30", "S3_RETRY_MAX_SECONDS": "1"})

    wait_until(lambda: any(e["action"] == "hold" for e in proxy.events()), "upload in flight")
    proxy.kill()  # the endpoint process dies mid-upload
    proxy.start()  # and comes back on the same port
    _, stderr = run.communicate(timeout=300)

    assert run.returncode == 0, stderr
    assert _retries(stderr), "the dropped part must have been retried"
    assert_store_consistent(faulty)


def test_store_killed_mid_upload_and_down_fails_then_next_run_recovers(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    assert faulty.run("run").returncode == 0  # an earlier good set
    faulty.write_snapshot(os.urandom(SIZE), b"ks2")
    proxy.set_rules([{"method": "PUT", "query": "partNumber=2", "action": "hold"}])
    run = faulty.popen("run", env={"S3_MAX_ATTEMPTS": "3"})
    wait_until(lambda: any(e["action"] == "hold" for e in proxy.events()), "upload in flight")

    proxy.kill()
    _, stderr = run.communicate(timeout=300)

    assert run.returncode == 6, stderr
    failure = [r for r in log_lines(stderr) if r["level"] == "error"][-1]
    assert failure["kind"] == "store"
    assert len(faulty.manifests()) == 1, "the interrupted set must not be committed"
    assert len(faulty.listed()) == 1
    assert len(faulty.uploads()) == 1, "the dead endpoint left an orphaned multipart upload"

    proxy.start()
    recovered = faulty.run("run")

    assert recovered.returncode == 0, recovered.stderr
    assert any(r["msg"] == "aborted orphaned multipart upload" for r in log_lines(recovered.stderr))
    assert len(faulty.listed()) == 2
    assert_store_consistent(faulty)


def test_real_store_process_killed_mid_upload_fails_cleanly_and_recovers_after_restart(
    tmp_path: Path, s3_server: ServerProcess
) -> None:
    is_versitygw = s3_server.argv[0].endswith("versitygw")
    store = start_versitygw(tmp_path / "store") if is_versitygw else start_moto()
    front = FaultProxy(store)
    front.start()
    try:
        harness = new_harness(tmp_path, store, endpoint=front.url)
        harness.write_snapshot(os.urandom(SIZE), b"ks")
        front.set_rules([{"method": "PUT", "query": "partNumber=2", "action": "hold"}])
        run = harness.popen("run", env={"S3_MAX_ATTEMPTS": "3", "S3_READ_TIMEOUT_SECONDS": "2"})
        wait_until(lambda: any(e["action"] == "hold" for e in front.events()), "upload in flight")

        store.kill()  # the S3 server itself (all its in-memory state) is gone
        _, stderr = run.communicate(timeout=300)

        assert run.returncode == 6, stderr
        assert "Traceback" not in stderr
        store.start()  # back on the same port: moto empty (a rebuilt store), versitygw on disk
        if not is_versitygw:
            harness.admin.create_bucket(Bucket=harness.bucket)
        front.set_rules([])
        again = harness.run("run")
        assert again.returncode == 0, again.stderr
        assert_store_consistent(harness)
    finally:
        front.stop()
        store.stop()


def test_sigterm_mid_upload_aborts_the_upload_and_commits_nothing(
    faulty: Harness, proxy: FaultProxy
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    proxy.set_rules([{"method": "PUT", "query": "partNumber=2", "action": "hold"}])
    run = faulty.popen("run", env={"S3_READ_TIMEOUT_SECONDS": "2"})
    wait_until(lambda: any(e["action"] == "hold" for e in proxy.events()), "upload in flight")

    run.send_signal(signal.SIGTERM)
    _, stderr = run.communicate(timeout=300)

    assert run.returncode == 130, stderr
    assert faulty.manifests() == []
    assert faulty.uploads() == [], "the interrupted run aborts its multipart upload"
    assert any(r["msg"] == "aborted multipart upload" for r in log_lines(stderr))


def test_store_without_md5_etags_or_checksums_is_verified_by_reading_back(
    faulty: Harness, proxy: FaultProxy
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    proxy.set_rules([{"method": "HEAD", "action": "opaque", "times": 100}])

    result = faulty.run("run")

    assert result.returncode == 0, result.stderr
    read_back = [
        r for r in log_lines(result.stderr) if r["msg"] == "upload verified by reading it back"
    ]
    assert len(read_back) == 2  # cas.db and cas.key-store
    assert_store_consistent(faulty)


def test_restore_after_a_restore_killed_with_sigkill_replaces_the_stale_partial_file(
    faulty: Harness, proxy: FaultProxy, tmp_path: Path
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    assert faulty.run("run", env=faulty.direct()).returncode == 0
    target = tmp_path / "recovered"
    proxy.set_rules([{"method": "GET", "path": "/cas.db", "action": "hold"}])
    first = faulty.popen("restore", "--set", "latest", "--target", str(target))
    wait_until(lambda: any(e["action"] == "hold" for e in proxy.events()), "download in flight")

    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=300)
    leftovers = sorted(p.name for p in target.iterdir())
    again = faulty.run("restore", "--set", "latest", "--target", str(target), env=faulty.direct())

    assert leftovers and all(name.endswith(".partial") for name in leftovers), leftovers
    assert again.returncode == 0, again.stderr
    assert sorted(p.name for p in target.iterdir()) == ["cas.db", "cas.key-store"]
    assert (target / "cas.db").read_bytes() == db
    assert (target / "cas.key-store").read_bytes() == b"ks"


def test_restore_refuses_a_partial_file_another_live_restore_is_writing(
    harness: Harness, tmp_path: Path
) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    assert harness.run("run").returncode == 0
    target = tmp_path / "busy"
    target.mkdir()
    with open(target / ".cas.db.partial", "wb") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)  # what a running restore holds
        other.write(b"someone else's bytes")
        other.flush()

        result = harness.run("restore", "--set", "latest", "--target", str(target))

    assert result.returncode == 10, result.stderr
    assert "another restore is writing" in result.stderr and ".cas.db.partial" in result.stderr
    assert (target / ".cas.db.partial").read_bytes() == b"someone else's bytes"
    assert not (target / "cas.db").exists()
