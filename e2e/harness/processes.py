"""Child processes the harness owns: start with logs, stop for sure.

Why: a control plane is five long-running processes; a test run must never leave
one behind (CI kills the session's leftovers, a developer's machine does not).
Each child gets its own session so a stop reaches the whole process group, and
only processes this module started are ever signalled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ProcessDiedError(RuntimeError):
    """A child exited while we were waiting for it to become ready."""


@dataclass
class Child:
    """A started child: its name, process and log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM the child's process group, then SIGKILL if it lingers."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            deadline = time.monotonic() + grace_seconds
            while self.proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM us when the parent dies, so a
    killed test run (or Ctrl-C'd script) never leaves a control plane behind."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not glibc Linux: Child.stop() still stops everything on a normal exit


def start_child(name: str, argv: list[str], log_dir: Path,
                env: dict[str, str] | None = None, cwd: Path | None = None) -> Child:
    """Start argv in its own session with stdout+stderr to log_dir/<name>.log."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    log = open(log_path, "ab")  # noqa: SIM115 - closed by Child.stop
    proc = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent,  # noqa: PLW1509
    )
    return Child(name=name, proc=proc, log_path=log_path, _log=log)


def wait_until(what: str, check: Callable[[], bool], children: list[Child],
               attempts: int = 600, interval: float = 0.2) -> None:
    """Poll `check` until true; fail early (with logs) if a child dies.

    Bounded by a number of attempts, not a clock, so slow machines only wait longer.
    """
    for _ in range(attempts):
        for c in children:
            if not c.alive():
                raise ProcessDiedError(
                    f"{c.name} exited with code {c.proc.returncode} while waiting for {what}; "
                    f"last log lines ({c.log_path}):\n{c.log_tail()}"
                )
        with contextlib.suppress(Exception):  # not ready yet (e.g. connection refused): poll again
            if check():
                return
        time.sleep(interval)
    raise TimeoutError(f"gave up waiting for {what} after {attempts} checks")
