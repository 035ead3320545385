"""Restore writes its ranges straight into the hidden partial file (many in flight, each read in
small pieces) and hashes the file itself: a range cut short is fetched again, bytes damaged on the
way down fail the restore without leaving a file, and a target that refuses the write is named as
the problem instead of the store.
"""

from __future__ import annotations

import base64
import os
import resource
import signal
import subprocess
from pathlib import Path

import pytest
from backupper_harness import FaultProxy, Harness, log_lines

BOTH_S3_SERVERS = True
SIZE = 3 * 5 * 1024 * 1024 + 17  # four 5 MiB ranges (the harness's part size), the last short


def _retries(stderr: str) -> list[dict[str, object]]:
    return [r for r in log_lines(stderr) if r["msg"] == "retrying S3 request"]


def test_a_range_cut_short_mid_body_is_fetched_again_and_the_restore_is_byte_identical(
    faulty: Harness, proxy: FaultProxy, tmp_path: Path
) -> None:
    db = os.urandom(SIZE)
    faulty.write_snapshot(db, b"ks")
    assert faulty.run("run", env=faulty.direct()).returncode == 0
    proxy.set_rules([{"method": "GET", "path": "/cas.db", "action": "cut", "times": 2}])
    target = tmp_path / "recovered"

    result = faulty.run("restore", "--set", "latest", "--target", str(target))

    assert result.returncode == 0, result.stderr
    assert [e["action"] for e in proxy.events()].count("cut") == 2
    assert len(_retries(result.stderr)) >= 2, result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["cas.db", "cas.key-store"]
    assert (target / "cas.db").read_bytes() == db


def test_bytes_damaged_on_the_way_down_fail_the_restore_and_leave_no_file(
    faulty: Harness, proxy: FaultProxy, tmp_path: Path
) -> None:
    faulty.write_snapshot(os.urandom(SIZE), b"ks")
    assert faulty.run("run", env=faulty.direct()).returncode == 0
    proxy.set_rules([{"method": "GET", "path": "/cas.db", "action": "garble", "times": 1}])
    target = tmp_path / "recovered"

    result = faulty.run("restore", "--set", "latest", "--target", str(target))

    assert result.returncode == 7, result.stderr
    assert "does not match the manifest" in result.stderr
    assert any(e["action"] == "garble" for e in proxy.events())
    assert list(target.iterdir()) == []  # neither the files nor their partial files


def _limit_file_size() -> None:
    """In the restore process: files may not grow past 1 MiB; writes beyond fail with EFBIG
    (instead of the default SIGXFSZ kill), like a file system that has run full."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain", "encrypted"])
def test_a_target_that_refuses_the_write_is_named_and_not_retried_as_a_store_fault(
    harness: Harness, tmp_path: Path, encrypted: bool
) -> None:
    if encrypted:  # decrypted bytes take the ordered-stream path, not the ranged file writes
        key = base64.b64encode(os.urandom(32)).decode()
        (harness.creds_dir / "ENCRYPTION_KEY").write_text(key)
    harness.write_snapshot(os.urandom(SIZE), b"ks")
    assert harness.run("run").returncode == 0
    target = tmp_path / "full"

    result = subprocess.run(
        harness.command("restore", "--set", "latest", "--target", str(target)),
        env=harness.base_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
        preexec_fn=_limit_file_size,
    )

    assert result.returncode == 10, result.stderr
    assert "cannot write the restored file" in result.stderr and "--target" in result.stderr
    assert _retries(result.stderr) == []
    assert list(target.iterdir()) == []
