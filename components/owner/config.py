"""``scone:provisioning`` — the CAS owner's settings for this stack.

Why a separate block: only the CAS owner, on a trusted machine holding the owner identity, may
provision, upgrade or recover CAS. Everything here is off by default so that a CI preview of the same
stack never needs owner credentials; the owner turns it on in their own stack config. The DCAP API key
is *not* here: it is the top-level secret config key ``scone:dcapKey``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from components.strict_model import StrictModel

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def expand_dir(value: str) -> Path:
    """``~`` and ``$VARS`` expanded; the result is what the owner's shell would mean."""
    return Path(os.path.expandvars(os.path.expanduser(value)))


def _absolute_dir(key: str, value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError(
            f'provisioning.{key} is empty: give an absolute directory ("~/..." is allowed) or leave it out'
        )
    if not expand_dir(value).is_absolute():
        raise ValueError(
            f"provisioning.{key} '{value}' is relative: give an absolute directory on the trusted machine "
            "(e.g. ~/.cas or /srv/scone-owner/...), because the plugin and the provider run in other "
            "working directories"
        )
    return value


class _Model(StrictModel):
    """As strict as the rest of the spec: ``maxAttempts: "5"`` is refused, not read as 5."""


class VaultSettings(_Model):
    """Confidential Vault provisioned with ``kubectl provision vault``."""

    enabled: bool = Field(False, description="Provision a confidential Vault bound to this stack's CAS.")
    name: str = Field("vault", description="Name of the Vault CR (a DNS label, e.g. 'vault').")

    @field_validator("name")
    @classmethod
    def _dns_label(cls, value: str) -> str:
        if not _DNS_LABEL.match(value) or len(value) > 63:
            raise ValueError(
                f"provisioning.vault.name '{value}' is not a DNS label: use lower-case letters, digits and '-'"
            )
        return value


class RecoverySettings(_Model):
    """Recreate CAS from a database snapshot (``--cas-database-recovery``); needs managementState Unmanaged."""

    snapshot_dir: str | None = Field(
        None,
        alias="snapshotDir",
        description="Absolute path of a snapshot directory holding cas.db and cas.key-store (from a pre-upgrade "
        "backup, --local-backup, or restored from S3 by the backupper). Unset = no recovery.",
    )

    @field_validator("snapshot_dir")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        return _absolute_dir("recovery.snapshotDir", value)


class OwnerSettings(_Model):
    """Value of the structured stack config key ``scone:provisioning``."""

    enabled: bool = Field(
        False,
        description="Run the owner operations (provision, CAS-first upgrade with pre-upgrade backup, recovery, "
        "vault) with kubectl-provision from this machine. Only on the CAS owner's trusted machine.",
    )
    target_dir: str = Field(
        "~/.cas",
        alias="targetDir",
        description="kubectl-provision's TARGET_DIR: the owner identity (identity/config.json) and owner config. "
        "Must exist and be writable; never deleted or overwritten by this program.",
    )
    backup_dir: str | None = Field(
        None,
        alias="backupDir",
        description="Absolute directory where every pre-upgrade CAS backup is kept (one sub-directory per backup, "
        "never overwritten). Required when enabled.",
    )
    identity_backup_dir: str | None = Field(
        None,
        alias="identityBackupDir",
        description="Where the owner keeps a copy of <targetDir>/identity. Only read: the preview warns when it is "
        "missing or differs from the live identity.",
    )
    plugin_timeout_seconds: int = Field(
        1800,
        alias="pluginTimeoutSeconds",
        description="Upper bound for one kubectl-provision run, in seconds (upstream itself waits forever).",
    )
    max_attempts: int = Field(
        5,
        alias="maxAttempts",
        description="How many times a failed kubectl-provision run is tried (1..10).",
    )
    backoff_seconds: float = Field(
        10.0,
        alias="backoffSeconds",
        description="Pause before the 2nd attempt; doubled each further attempt, capped at 300 s.",
    )
    vault: VaultSettings = Field(default_factory=VaultSettings, description="Confidential Vault provisioning.")
    recovery: RecoverySettings = Field(default_factory=RecoverySettings, description="CAS database recovery.")

    @field_validator("target_dir")
    @classmethod
    def _target_absolute(cls, value: str) -> str:
        result = _absolute_dir("targetDir", value)
        assert result is not None
        return result

    @field_validator("backup_dir")
    @classmethod
    def _backup_absolute(cls, value: str | None) -> str | None:
        return _absolute_dir("backupDir", value)

    @field_validator("identity_backup_dir")
    @classmethod
    def _identity_backup_absolute(cls, value: str | None) -> str | None:
        return _absolute_dir("identityBackupDir", value)

    @field_validator("plugin_timeout_seconds")
    @classmethod
    def _timeout(cls, value: int) -> int:
        if value <= 0 or value > 86400:
            raise ValueError(f"provisioning.pluginTimeoutSeconds is {value}: use 1..86400 seconds (default 1800)")
        return value

    @field_validator("max_attempts")
    @classmethod
    def _attempts(cls, value: int) -> int:
        if not 1 <= value <= 10:
            raise ValueError(f"provisioning.maxAttempts is {value}: use 1..10 (default 5, the guide's Error phase)")
        return value

    @field_validator("backoff_seconds")
    @classmethod
    def _backoff(cls, value: float) -> float:
        if value < 0 or value > 300:
            raise ValueError(f"provisioning.backoffSeconds is {value}: use 0..300 seconds (default 10)")
        return value

    @model_validator(mode="after")
    def _needs_when_enabled(self) -> OwnerSettings:
        if self.enabled and self.backup_dir is None:
            raise ValueError(
                "provisioning.backupDir is required when provisioning.enabled is true: name an absolute directory on "
                "this trusted machine where pre-upgrade CAS backups are kept (e.g. ~/scone-owner/backups)"
            )
        if self.recovery.snapshot_dir is not None and not self.enabled:
            raise ValueError(
                "provisioning.recovery.snapshotDir is set but provisioning.enabled is false: recovery needs the CAS "
                "owner identity, so set provisioning.enabled: true and run pulumi up from the trusted machine"
            )
        return self

    @property
    def target_path(self) -> Path:
        return expand_dir(self.target_dir)

    @property
    def backup_path(self) -> Path | None:
        return expand_dir(self.backup_dir) if self.backup_dir else None
