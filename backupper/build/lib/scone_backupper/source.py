"""The snapshot source: a command that writes the latest completed snapshot as a tar stream.

Why a command: in the cluster it is `kubectl exec … tar cf - …` into the CAS pod — the way
upstream's `--local-backup` copies snapshots — so the backupper never mounts or blocks the CAS
volume; in tests it is a local `tar` over a directory. The stream is consumed as it arrives
(tarfile stream mode), so nothing is buffered whole in memory or on disk.
"""

from __future__ import annotations

import collections
import shlex
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from .errors import SourceError
from .settings import BackupperSettings

_STDERR_TAIL_BYTES = 2048


def build_source_argv(settings: BackupperSettings) -> list[str]:
    """Split the command template first, then fill placeholders, so values are never re-split."""
    try:
        tokens = shlex.split(settings.source_command)
    except ValueError as exc:
        raise SourceError(
            f"--source-command / SNAPSHOT_SOURCE_COMMAND cannot be split into words: {exc}"
        ) from None
    return [
        token.format(
            namespace=settings.cas_namespace,
            cas=settings.cas_name,
            snapshot_dir=settings.snapshot_dir,
        )
        for token in tokens
    ]


class _StderrTail:
    """Drains the command's stderr in a thread (no pipe deadlock) and keeps only its tail."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: IO[bytes]) -> None:
        for chunk in iter(lambda: stream.read(4096), b""):
            self._chunks.append(chunk)
            self._size += len(chunk)
            while self._size > _STDERR_TAIL_BYTES and len(self._chunks) > 1:
                self._size -= len(self._chunks.popleft())

    def text(self) -> str:
        self._thread.join(timeout=5)
        return b"".join(self._chunks)[-_STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()


@contextmanager
def open_snapshot_stream(argv: list[str], timeout_seconds: float) -> Iterator[tarfile.TarFile]:
    """Start the source command and yield its stdout as a streaming TarFile.

    On leaving, the command must have exited 0; otherwise a SourceError carries its exit status and
    the tail of its stderr. If the caller fails early, the command is killed.
    """
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    except OSError as exc:
        raise SourceError(
            f"cannot start the snapshot source command {argv[0]!r}: {exc.strerror or exc}"
        ) from None
    assert proc.stdout is not None and proc.stderr is not None
    stderr = _StderrTail(proc.stderr)
    timed_out = threading.Event()

    def _kill_on_timeout() -> None:
        timed_out.set()
        proc.kill()

    watchdog = threading.Timer(timeout_seconds, _kill_on_timeout)
    watchdog.daemon = True
    watchdog.start()

    def _failure(reason: str) -> SourceError:
        detail = stderr.text()
        if timed_out.is_set():
            reason = f"it ran longer than {timeout_seconds:g}s (--source-timeout) and was killed"
        message = f"snapshot source command {argv[0]!r} failed: {reason}"
        if detail:
            message += f"; stderr: {detail}"
        return SourceError(message)

    completed = False
    try:
        try:
            # Closed with the process in `finally` below; a `with` would end it too early.
            tar = tarfile.open(fileobj=proc.stdout, mode="r|", bufsize=1024 * 1024)  # noqa: SIM115
        except (tarfile.TarError, OSError) as exc:
            proc.stdout.close()
            code = proc.wait()
            raise _failure(
                f"exit status {code}" if code else f"its output is not a tar stream ({exc})"
            ) from None
        try:
            yield tar
        except (tarfile.TarError, EOFError) as exc:
            proc.kill()
            proc.wait()
            raise _failure(f"its tar stream is broken ({exc})") from None
        # Read to the end so tar's trailer is consumed and the command can exit cleanly.
        while proc.stdout.read(1024 * 1024):
            pass
        code = proc.wait()
        if code != 0 or timed_out.is_set():
            raise _failure(f"exit status {code}")
        completed = True
    finally:
        watchdog.cancel()
        if not completed and proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()
