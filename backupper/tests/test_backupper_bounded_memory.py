"""Memory stays bounded: the backupper's peak RSS does not grow with the snapshot size."""

from __future__ import annotations

import os
import subprocess

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
    proc = subprocess.Popen(
        harness.command("run"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, stderr.decode()
    return int(usage.ru_maxrss) * 1024  # Linux reports KiB


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
