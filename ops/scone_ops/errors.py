"""Exit codes and the one error type every command raises.

Why fixed codes: scripts and runbooks branch on them (retry on 4, page someone on 8, add a node
on 6), so each failure class keeps its number for good. Every error carries the next step, so an
administrator reading it at 3 a.m. knows what to do without opening a guide.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What the process exit status means (documented in ops/README.md)."""

    OK = 0
    INTERNAL = 1  # a bug in scone-ops
    USAGE = 2  # bad flag or argument (also click's own usage errors)
    CONFIG = 3  # the stack file is missing or invalid
    CLUSTER = 4  # kubectl failed: cluster unreachable, not allowed, unexpected answer
    NOT_FOUND = 5  # the CAS, its pod, a node or a container does not exist
    REFUSED = 6  # unsafe: a precondition is not met; nothing was changed
    BACKUP = 7  # no recent complete backup set, or the backup store cannot be read
    FAILED = 8  # the operation started but did not finish; the cluster was put in a stated state
    INTERRUPTED = 130  # SIGINT/SIGTERM; the cluster was put in a stated state


class OpsError(Exception):
    """A failure with its exit code, what went wrong and the next step."""

    def __init__(self, code: ExitCode, message: str, next_step: str = "", state: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.next_step = next_step
        self.state = state

    def as_dict(self) -> dict[str, object]:
        """The error for `--output json`."""
        return {
            "error": self.message,
            "exit_code": int(self.code),
            "kind": self.code.name.lower(),
            "next_step": self.next_step,
            "cluster_state": self.state,
        }


class SignalStopError(Exception):
    """Raised by the signal handlers of a changing command (SIGINT or SIGTERM)."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(f"stopped by {signal_name}")
        self.signal_name = signal_name
