"""Failure classes of the backupper, each with its own exit code and metric kind.

Why: the Deployment, a CronJob or an operator running `restore` by hand must be able to tell a
wrong setting from a dead S3 endpoint from a broken snapshot without reading logs. Every failure
the program knows about is one of these classes; anything else is a bug and exits 1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130


class BackupperError(Exception):
    """A known failure: carries the process exit code and the `kind` label of the failure metric."""

    exit_code: int = EXIT_INTERNAL
    kind: str = "internal"


class ConfigError(BackupperError):
    """A flag or environment variable has a value that is not allowed."""

    exit_code = 2
    kind = "config"


class CredentialsError(BackupperError):
    """The mounted S3 credentials Secret is missing, unreadable or incomplete."""

    exit_code = 3
    kind = "credentials"


class SourceError(BackupperError):
    """The snapshot source command failed or did not produce a readable tar stream."""

    exit_code = 4
    kind = "source"


class SnapshotIncompleteError(BackupperError):
    """The snapshot is not a complete CAS snapshot (missing, empty or unexpected files)."""

    exit_code = 5
    kind = "snapshot_incomplete"


class StoreError(BackupperError):
    """The S3 store failed after all retries (unreachable, errors, throttling, timeouts)."""

    exit_code = 6
    kind = "store"


class VerificationError(BackupperError):
    """Bytes in the store do not match what was sent or what the manifest records."""

    exit_code = 7
    kind = "verification"


class NotFoundError(BackupperError):
    """The requested backup set does not exist as a complete (manifested) set."""

    exit_code = 8
    kind = "not_found"


class EncryptionError(BackupperError):
    """Client-side encryption is required or used, but the key is missing, invalid or wrong."""

    exit_code = 9
    kind = "encryption"


class RestoreTargetError(BackupperError):
    """The restore target cannot be written without overwriting existing data."""

    exit_code = 10
    kind = "restore_target"


class RetentionError(BackupperError):
    """The backup succeeded but deleting expired sets failed (nothing is lost; retried next run)."""

    exit_code = 11
    kind = "retention"


class InterruptedRun(BackupperError):
    """The run was stopped by a signal; any in-flight multipart upload was aborted."""

    exit_code = EXIT_INTERRUPTED
    kind = "interrupted"


FAILURE_KINDS: tuple[str, ...] = (
    "config",
    "credentials",
    "source",
    "snapshot_incomplete",
    "store",
    "verification",
    "encryption",
    "retention",
    "interrupted",
    "internal",
)
