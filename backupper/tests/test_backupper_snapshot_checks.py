"""An incomplete or odd snapshot is refused and leaves nothing in the bucket: what was sent before
the problem showed stays an open multipart upload until it is aborted."""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
from pathlib import Path

import pytest
from backupper_harness import Harness, log_lines, wait_until


def _refused(harness: Harness) -> str:
    result = harness.run("run")
    assert result.returncode == 5, result.stderr
    assert harness.object_keys() == [], "nothing may be uploaded for a refused snapshot"
    assert harness.uploads() == []
    return result.stderr


def test_snapshot_without_key_store_is_refused(harness: Harness) -> None:
    harness.snapshot_dir.mkdir(parents=True)
    (harness.snapshot_dir / "cas.db").write_bytes(os.urandom(9 * 1024 * 1024))
    assert "cas.key-store missing" in _refused(harness)


def test_snapshot_without_database_is_refused(harness: Harness) -> None:
    harness.snapshot_dir.mkdir(parents=True)
    (harness.snapshot_dir / "cas.key-store").write_bytes(b"ks")
    assert "cas.db missing" in _refused(harness)


@pytest.mark.parametrize("empty", ["cas.db", "cas.key-store"])
def test_snapshot_with_an_empty_file_is_refused(harness: Harness, empty: str) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    (harness.snapshot_dir / empty).write_bytes(b"")
    assert f"{empty!r} is empty" in _refused(harness)


def test_snapshot_with_unexpected_file_is_refused(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    (harness.snapshot_dir / "cas.db-wal").write_bytes(b"x")
    assert "unexpected entry 'cas.db-wal'" in _refused(harness)


def test_snapshot_file_that_is_a_symlink_is_refused_with_a_hint(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(1000), b"ks")
    real = harness.root / "elsewhere.db"
    real.write_bytes(b"data")
    (harness.snapshot_dir / "cas.db").unlink()
    (harness.snapshot_dir / "cas.db").symlink_to(real)
    assert "tar -h" in _refused(harness)


def test_last_completed_as_a_symlink_to_a_directory_is_followed(harness: Harness) -> None:
    """Upstream leaves open whether last-completed is a dir or a symlink; both must work."""
    real = harness.root / "snapshots" / "snapshot-0042"
    real.mkdir(parents=True)
    (real / "cas.db").write_bytes(b"db-bytes")
    (real / "cas.key-store").write_bytes(b"ks-bytes")
    harness.snapshot_dir.symlink_to(real, target_is_directory=True)

    result = harness.run("run")

    assert result.returncode == 0, result.stderr
    assert len(harness.manifests()) == 1


def test_failing_source_command_reports_its_exit_status_and_stderr(harness: Harness) -> None:
    result = harness.run("run", env={"SNAPSHOT_DIR": str(harness.root / "no-such-dir")})
    assert result.returncode == 4
    (error,) = [r for r in log_lines(result.stderr) if r["level"] == "error"]
    assert error["kind"] == "source"
    assert "no-such-dir" in error["msg"]
    assert harness.object_keys() == []


def test_source_command_that_is_not_installed_is_a_source_error(harness: Harness) -> None:
    result = harness.run("run", env={"SNAPSHOT_SOURCE_COMMAND": "no-such-binary-xyz cf -"})
    assert result.returncode == 4
    assert "cannot start the snapshot source command 'no-such-binary-xyz'" in result.stderr


def test_source_output_that_is_not_tar_is_refused(harness: Harness) -> None:
    result = harness.run("run", env={"SNAPSHOT_SOURCE_COMMAND": "echo hello"})
    assert result.returncode == 4
    assert "not a tar stream" in result.stderr
    assert harness.object_keys() == []


def test_truncated_tar_stream_is_refused(harness: Harness) -> None:
    harness.write_snapshot(os.urandom(200_000), b"ks")
    command = "sh -c 'tar cf - -C {snapshot_dir} . | head -c 100000'"
    result = harness.run("run", env={"SNAPSHOT_SOURCE_COMMAND": command})
    assert result.returncode in (4, 5), result.stderr
    assert harness.object_keys() == []


def test_the_snapshot_is_read_once_per_run(harness: Harness) -> None:
    """One pass over the tar stream checks, hashes and sends it (it used to be read twice)."""
    harness.write_snapshot(os.urandom(6 * 1024 * 1024), b"ks")  # over one part: multipart
    counter = harness.root / "source-started"
    counting = f"sh -c 'echo started >> {counter}; exec tar cf - -C {{snapshot_dir}} .'"

    result = harness.run("run", env={"SNAPSHOT_SOURCE_COMMAND": counting})

    assert result.returncode == 0, result.stderr
    assert counter.read_text().splitlines() == ["started"]
    [manifest] = harness.manifests()
    db = next(f for f in manifest["files"] if f["name"] == "cas.db")
    on_disk = (harness.snapshot_dir / "cas.db").read_bytes()
    assert db["sha256"] == hashlib.sha256(on_disk).hexdigest()


def test_a_snapshot_refused_after_its_first_file_was_sent_leaves_nothing_in_the_bucket(
    harness: Harness,
) -> None:
    """cas.db streams (and is sent) before the stray entry's header arrives; its open multipart
    upload is aborted, so the bucket holds neither an object nor an upload afterwards."""
    harness.write_snapshot(os.urandom(6 * 1024 * 1024), b"ks")
    (harness.snapshot_dir / "stray").write_bytes(b"x")
    in_order = "tar cf - -C {snapshot_dir} ./cas.db ./cas.key-store ./stray"
    harness.env["SNAPSHOT_SOURCE_COMMAND"] = in_order

    assert "unexpected entry 'stray'" in _refused(harness)


def test_a_source_that_fails_after_the_whole_stream_was_sent_commits_nothing(
    harness: Harness,
) -> None:
    """Its exit status is known only after the last byte: a failing command commits nothing."""
    harness.write_snapshot(os.urandom(6 * 1024 * 1024), b"ks")
    failing = "sh -c 'tar cf - -C {snapshot_dir} .; exit 3'"

    result = harness.run("run", env={"SNAPSHOT_SOURCE_COMMAND": failing})

    assert result.returncode == 4, result.stderr
    assert "exit status 3" in result.stderr
    assert harness.object_keys() == [] and harness.uploads() == []


def _processes_running(needle: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if needle in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def test_source_whose_child_keeps_stdout_open_is_stopped_by_the_timeout(harness: Harness) -> None:
    """`sh -c 'tar …; sleep'` (or an ssh wrapper) leaves a child holding stdout after the stream
    ended; --source-timeout must end the whole process group, not only the command itself."""
    harness.write_snapshot(os.urandom(10_000), b"ks")
    naptime = f"{4000 + secrets.randbelow(1000)}"
    command = f"sh -c 'tar cf - -C {{snapshot_dir}} .; sleep {naptime}'"
    run = harness.popen(
        "run",
        env={"SNAPSHOT_SOURCE_COMMAND": command, "SNAPSHOT_SOURCE_TIMEOUT_SECONDS": "2"},
    )
    try:
        _, stderr = run.communicate(timeout=600)
    finally:
        run.kill()
        for pid in _processes_running(f"sleep {naptime}"):
            os.kill(pid, signal.SIGKILL)

    assert run.returncode == 4, stderr
    assert "--source-timeout" in stderr and "was killed" in stderr
    assert harness.object_keys() == []
    wait_until(lambda: not _processes_running(f"sleep {naptime}"), "the child to be gone")
