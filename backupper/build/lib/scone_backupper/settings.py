"""Settings of the backupper: every one is both a CLI flag and an environment variable (flag wins).

Why both: the CasBackupper Deployment sets environment variables, while an operator restoring by
hand types flags. One table (`SETTINGS`) drives argparse, the environment lookup and the error
messages, so a bad value always names the flag *and* the variable and says what is allowed.
"""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import ConfigError

DEFAULT_SNAPSHOT_DIR = "/var/mnt/cas-database-snapshots/last-completed"
# `tar -C DIR .` changes into DIR first, which follows DIR if it is a symlink, so this works whether
# `last-completed` is a directory or a symlink to one (upstream leaves that unconfirmed).
DEFAULT_SOURCE_COMMAND = (
    "kubectl exec -n {namespace} {cas}-0 -c cas -- tar cf - -C {snapshot_dir} ."
)

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


class BackupperSettings(BaseModel):
    """Everything one backupper process needs to know, validated once at start-up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cas_name: str = Field("cas", description="Name of the CAS whose snapshots are backed up.")
    cas_namespace: str = Field("osc-scone-system", description="Namespace of the CAS.")
    cas_version: str = Field("", description="CAS version, recorded in every manifest.")
    interval_seconds: int = Field(14400, ge=1, description="Seconds between runs in `loop`.")
    retention_days: int = Field(10, ge=1, description="Sets older than this many days expire.")
    min_keep: int = Field(3, ge=1, description="Never keep fewer complete sets than this.")
    prefix: str = Field("cas-db", description="Key prefix in the bucket: <prefix>/<cas>/<time>/.")
    credentials_dir: Path = Field(
        Path("/var/run/secrets/scone-backupper/s3"),
        description="Mounted Secret with one file per key, read fresh for every run.",
    )
    snapshot_dir: str = Field(
        DEFAULT_SNAPSHOT_DIR, description="Snapshot directory inside the CAS pod ({snapshot_dir})."
    )
    source_command: str = Field(
        DEFAULT_SOURCE_COMMAND,
        description="Command (shlex-split, no shell) writing the snapshot as a tar stream.",
    )
    source_timeout_seconds: int = Field(
        3600, ge=1, description="Kill the source command if one read of the snapshot takes longer."
    )
    metrics_port: int = Field(9102, ge=0, le=65535, description="Port of /metrics; 0 disables.")
    metrics_address: str = Field("0.0.0.0", description="Address the metrics server binds to.")
    metrics_textfile: Path | None = Field(
        None, description="Also write metrics in Prometheus text format to this file."
    )
    part_size_mib: int = Field(8, ge=5, le=5120, description="Multipart part size in MiB.")
    concurrency: int = Field(4, ge=1, le=32, description="Parts uploaded in parallel.")
    max_attempts: int = Field(8, ge=1, le=50, description="Attempts per S3 request/part.")
    retry_base_seconds: float = Field(0.5, gt=0, description="First retry backoff in seconds.")
    retry_max_seconds: float = Field(20.0, gt=0, description="Longest single retry backoff.")
    connect_timeout_seconds: float = Field(10.0, gt=0, description="S3 connect timeout.")
    read_timeout_seconds: float = Field(60.0, gt=0, description="S3 read timeout.")
    orphan_grace_seconds: int = Field(
        900, ge=0, description="Abort multipart uploads / drop unmanifested sets older than this."
    )
    failure_retry_seconds: int = Field(
        300, ge=1, description="In `loop`, first retry delay after a failed run (doubles, capped)."
    )
    require_encryption: bool = Field(
        False, description="Refuse to upload unless ENCRYPTION_KEY is present (fail closed)."
    )
    log_level: str = Field("info", description="debug, info, warning or error.")

    @field_validator("cas_name")
    @classmethod
    def _cas_name(cls, value: str) -> str:
        if len(value) > 15 or not _DNS_LABEL.match(value):
            raise ValueError(
                "must be a DNS label (lower-case letters, digits, '-') of at most 15 characters, "
                "like the CAS names kubectl provision accepts"
            )
        return value

    @field_validator("cas_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if len(value) > 63 or not _DNS_LABEL.match(value):
            raise ValueError(
                "must be a Kubernetes namespace name (DNS label, at most 63 characters)"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _PREFIX.match(value):
            raise ValueError(
                "must be one or more path segments of letters, digits, '.', '_' or '-' separated "
                "by '/', without leading or trailing '/'"
            )
        return value

    @field_validator("source_command")
    @classmethod
    def _source(cls, value: str) -> str:
        try:
            value.format(namespace="n", cas="c", snapshot_dir="d")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"may only use the placeholders {{namespace}}, {{cas}} and {{snapshot_dir}} ({exc})"
            ) from exc
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.lower() not in {"debug", "info", "warning", "error"}:
            raise ValueError("must be one of debug, info, warning, error")
        return value.lower()

    @property
    def set_root(self) -> str:
        """Key prefix holding every set of this CAS, ending in '/'."""
        return f"{self.prefix}/{self.cas_name}/"


@dataclass(frozen=True)
class SettingSpec:
    """One setting: its model field, its CLI flag, its environment variable and its help."""

    field: str
    flag: str
    env: str
    kind: str = "str"  # str | int | float | bool | path


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("cas_name", "--cas-name", "CAS_NAME"),
    SettingSpec("cas_namespace", "--cas-namespace", "CAS_NAMESPACE"),
    SettingSpec("cas_version", "--cas-version", "CAS_VERSION"),
    SettingSpec("interval_seconds", "--interval", "BACKUP_INTERVAL_SECONDS", "int"),
    SettingSpec("retention_days", "--retention-days", "BACKUP_RETENTION_DAYS", "int"),
    SettingSpec("min_keep", "--min-keep", "BACKUP_MIN_KEEP", "int"),
    SettingSpec("prefix", "--prefix", "BACKUP_PREFIX"),
    SettingSpec("credentials_dir", "--credentials-dir", "S3_CREDENTIALS_DIR", "path"),
    SettingSpec("snapshot_dir", "--snapshot-dir", "SNAPSHOT_DIR"),
    SettingSpec("source_command", "--source-command", "SNAPSHOT_SOURCE_COMMAND"),
    SettingSpec(
        "source_timeout_seconds", "--source-timeout", "SNAPSHOT_SOURCE_TIMEOUT_SECONDS", "int"
    ),
    SettingSpec("metrics_port", "--metrics-port", "METRICS_PORT", "int"),
    SettingSpec("metrics_address", "--metrics-address", "METRICS_ADDRESS"),
    SettingSpec("metrics_textfile", "--metrics-textfile", "METRICS_TEXTFILE", "path"),
    SettingSpec("part_size_mib", "--part-size-mib", "BACKUP_PART_SIZE_MIB", "int"),
    SettingSpec("concurrency", "--concurrency", "BACKUP_UPLOAD_CONCURRENCY", "int"),
    SettingSpec("max_attempts", "--max-attempts", "S3_MAX_ATTEMPTS", "int"),
    SettingSpec("retry_base_seconds", "--retry-base-seconds", "S3_RETRY_BASE_SECONDS", "float"),
    SettingSpec("retry_max_seconds", "--retry-max-seconds", "S3_RETRY_MAX_SECONDS", "float"),
    SettingSpec(
        "connect_timeout_seconds", "--connect-timeout", "S3_CONNECT_TIMEOUT_SECONDS", "float"
    ),
    SettingSpec("read_timeout_seconds", "--read-timeout", "S3_READ_TIMEOUT_SECONDS", "float"),
    SettingSpec(
        "orphan_grace_seconds", "--orphan-grace-seconds", "BACKUP_ORPHAN_GRACE_SECONDS", "int"
    ),
    SettingSpec(
        "failure_retry_seconds", "--failure-retry-seconds", "BACKUP_FAILURE_RETRY_SECONDS", "int"
    ),
    SettingSpec("require_encryption", "--require-encryption", "BACKUP_REQUIRE_ENCRYPTION", "bool"),
    SettingSpec("log_level", "--log-level", "LOG_LEVEL"),
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """Add every setting as an optional flag whose default is None (meaning: not given)."""
    for spec in SETTINGS:
        description = BackupperSettings.model_fields[spec.field].description or ""
        default = BackupperSettings.model_fields[spec.field].default
        parser.add_argument(
            spec.flag,
            dest=spec.field,
            default=None,
            metavar=spec.kind.upper(),
            help=f"{description} Env: {spec.env}. Default: {default!r}.",
        )


def _convert(spec: SettingSpec, raw: str, origin: str) -> Any:
    if spec.kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigError(f"{origin}: {raw!r} is not a whole number") from None
    if spec.kind == "float":
        try:
            return float(raw.strip())
        except ValueError:
            raise ConfigError(f"{origin}: {raw!r} is not a number") from None
    if spec.kind == "bool":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(f"{origin}: {raw!r} is not a boolean; use true or false")
    if spec.kind == "path":
        return Path(raw) if raw else None
    return raw


def resolve_settings(
    flags: Mapping[str, str | None], environ: Mapping[str, str] | None = None
) -> BackupperSettings:
    """Merge flags over environment over defaults and validate; errors name flag and variable."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for spec in SETTINGS:
        raw = flags.get(spec.field)
        if raw is not None:
            origin = f"{spec.flag} (env {spec.env})"
        elif spec.env in env:
            raw = env[spec.env]
            origin = f"{spec.env} (flag {spec.flag})"
        else:
            continue
        values[spec.field] = _convert(spec, raw, origin)
        origins[spec.field] = origin
    try:
        return BackupperSettings(**values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            known = next((s for s in SETTINGS if s.field == field), None)
            where = origins.get(field) or (f"{known.flag} / {known.env}" if known else field)
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}")
        raise ConfigError("invalid setting: " + "; ".join(problems)) from None
