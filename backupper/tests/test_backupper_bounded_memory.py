"""Memory stays bounded: the backupper's peak RSS does not grow with the snapshot size.

The peak is the one the backupper reports itself (VmHWM, in its "run finished" log line), not
``ru_maxrss`` from ``wait4``: Linux folds the parent's high-water mark into a child's
``ru_maxrss`` at fork+exec, so late in a long pytest session every child looked 411 MiB big.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from backupper_harness import Harness

BACKUPPER_MEMORY_LIMIT = 256 * 1024 * 1024  # components/backupper.py: limits.memory 256Mi
MIB = 1024 * 1024


def _write_sparse_snapshot(harness: Harness, size: int, tag: bytes) -> None:
    harness.snapshot_dir.mkdir(parents=True, exist_ok=True)
    with open(harness.snapshot_dir / "cas.db", "wb") as handle:
        handle.write(tag + os.urandom(MIB))
        handle.truncate(size)  # the rest reads as zeros: no disk used, tar still streams it all
    (harness.snapshot_dir / "cas.key-store").write_bytes(tag)


def _peak_rss_of_run(harness: Harness) -> int:
    env = harness.base_env()
    env.update({"BACKUP_PART_SIZE_MIB": "8", "BACKUP_UPLOAD_CONCURRENCY": "4"})
    run = subprocess.run(
        harness.command("run"), env=env, capture_output=True, stdin=subprocess.DEVNULL, check=False
    )
    assert run.returncode == 0, run.stderr.decode()
    log = [json.loads(line) for line in run.stderr.decode().splitlines()]
    finished = [entry for entry in log if entry["msg"] == "run finished"]
    assert len(finished) == 1 and finished[0]["result"] == "uploaded", finished
    peak = finished[0]["peak_rss_bytes"]
    assert isinstance(peak, int) and peak > 0
    return peak


def test_reported_peak_is_this_process_alone_not_its_parent() -> None:
    """The figure the test relies on: a grown parent does not show up in the child's report."""
    ballast = bytearray(300 * 1024 * 1024)  # make this (parent) process 300 MiB bigger
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])  # touch every page so it is resident
    script = "from scone_backupper.memory import peak_rss_bytes; print(peak_rss_bytes())"
    child = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    del ballast
    assert int(child.stdout) < 100 * 1024 * 1024, child.stdout


def _empty_bucket(harness: Harness) -> None:
    for key in harness.object_keys():
        harness.admin.delete_object(Bucket=harness.bucket, Key=key)


def test_peak_memory_does_not_grow_with_snapshot_size(harness: Harness) -> None:
    _write_sparse_snapshot(harness, 64 * MIB, b"small")
    small = _peak_rss_of_run(harness)
    _empty_bucket(harness)
    _write_sparse_snapshot(harness, 384 * MIB, b"large")
    large = _peak_rss_of_run(harness)
    _empty_bucket(harness)

    # 6x the data; the bound is the parts in flight ((concurrency + 1) x 8 MiB), not the size.
    print(f"peak RSS: 64 MiB snapshot {small // MIB} MiB, 384 MiB snapshot {large // MIB} MiB")
    assert large - small < 24 * MIB, (small // MIB, large // MIB)
    # The absolute bound is the one that matters in the cluster: the Deployment's memory limit.
    assert large < BACKUPPER_MEMORY_LIMIT, large // MIB
