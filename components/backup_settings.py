"""The ``backup`` settings of the spec: how often, how long, and where the CAS DB backups go."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from components.cron_schedule import CronError, parse_cron
from components.labels import DnsLabel, DnsSubdomain
from components.strict_model import StrictModel


class S3CredsRef(StrictModel):
    """An existing Secret holding the credentials of an existing bucket (guide: backup.s3Creds)."""

    secret: DnsSubdomain = Field(
        description="Name of the Secret with the bucket credentials; it is copied into the services"
        " namespace as s3-bucket-scone-cas-db-backupper."
    )
    namespace: DnsLabel = Field(description="Namespace of that Secret.")


class S3StoreSettings(StrictModel):
    """Where the bucket lives when this stack creates it (backup.s3Creds empty)."""

    endpoint: str | None = Field(
        default=None,
        description="URL of an S3-compatible store (MinIO, Ceph ...). Empty means AWS S3; then an IAM"
        " user limited to the bucket is created for the backupper.",
    )
    region: str = Field(default="eu-central-1", description="Region of the bucket.")
    bucketName: str | None = Field(  # noqa: N815 - config keys are camelCase
        default=None,
        description="Bucket name. Empty means a generated name starting with scone-cas-db-backupper-.",
    )
    forcePathStyle: bool = Field(  # noqa: N815
        default=False,
        description="Use path-style addressing (most S3-compatible stores need it).",
    )
    useExistingSecret: bool = Field(  # noqa: N815
        default=False,
        description="Use the Secret s3-bucket-scone-cas-db-backupper that already exists in the services"
        " namespace (keys as the backupper reads them): no bucket is created and no Secret is copied; the"
        " preview fails when it is missing. Excludes s3Creds and the other s3 settings.",
    )

    @model_validator(mode="after")
    def _existing_secret_alone(self) -> S3StoreSettings:
        if self.useExistingSecret:
            others = sorted(self.model_fields_set - {"useExistingSecret"})
            if others:
                raise ValueError(
                    f"useExistingSecret cannot be combined with {', '.join('backup.s3.' + key for key in others)}:"
                    " the existing Secret already names the bucket and its store; remove those keys or set"
                    " useExistingSecret to false"
                )
        return self

    @model_validator(mode="after")
    def _endpoint_is_url(self) -> S3StoreSettings:
        if self.endpoint is not None and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"endpoint '{self.endpoint}' must be an http:// or https:// URL, e.g. https://s3.example.com"
            )
        return self


def _cron_schedule(value: str | None) -> str | None:
    if value is not None and value.strip():
        try:
            parse_cron(value).longest_gap_seconds()
        except CronError as exc:
            raise ValueError(f"{exc}; empty turns the drill off") from None
    return value


class RestoreDrillSettings(StrictModel):
    """A scheduled restore drill of the newest backup set (a CronJob running `scone-backupper drill`)."""

    schedule: Annotated[str | None, AfterValidator(_cron_schedule)] = Field(
        default=None,
        description="Cron schedule of the restore drill, e.g. '0 3 * * 0' (Sundays 03:00, the cluster's"
        " time zone). Empty = no scheduled drill. An alert fires when the last passed drill is older than"
        " twice the schedule's longest gap.",
    )

    @property
    def cron(self) -> str | None:
        """The schedule, or None when the drill is off."""
        return self.schedule.strip() if self.schedule and self.schedule.strip() else None


class BackupSpec(StrictModel):
    """CAS database backups to S3 (guide: spec.backup)."""

    enabled: bool = Field(
        default=True,
        description="Run the CAS DB backupper. Production stacks must keep this on (policy pack).",
    )
    interval: int = Field(default=14400, description="Seconds between two CAS DB backups (guide default 14400).")
    retention: int = Field(default=10, description="Days a backup is kept (guide default 10).")
    minKeep: int = Field(  # noqa: N815
        default=3,
        description="Backup sets never deleted by retention, newest first, whatever their age.",
    )
    prefix: str = Field(default="cas-db", description="Key prefix of the backup sets in the bucket.")
    s3Creds: S3CredsRef | None = Field(  # noqa: N815
        default=None,
        description="Use an existing bucket through this Secret instead of creating one.",
    )
    s3: S3StoreSettings = Field(
        default_factory=S3StoreSettings, description="The bucket this stack creates (s3Creds empty)."
    )
    image: str | None = Field(
        default=None,
        description="Backupper image. Empty means <images.repository>/<images.prefix>scone-cas-db-backupper:"
        "<serviceVersion>.",
    )
    restoreDrill: RestoreDrillSettings = Field(  # noqa: N815
        default_factory=RestoreDrillSettings,
        description="Scheduled restore drills: the newest set restored to a scratch directory and checked.",
    )

    @model_validator(mode="after")
    def _one_secret_source(self) -> BackupSpec:
        if self.s3Creds is not None and self.s3.useExistingSecret:
            raise ValueError(
                "s3Creds cannot be combined with backup.s3.useExistingSecret: s3Creds copies its Secret over"
                " s3-bucket-scone-cas-db-backupper, useExistingSecret uses the one already there; keep one"
            )
        return self

    @model_validator(mode="after")
    def _ranges(self) -> BackupSpec:
        if self.interval < 60:
            raise ValueError(
                f"interval must be at least 60 seconds (got {self.interval}); the guide's default is 14400"
            )
        if self.retention < 1:
            raise ValueError(f"retention must be at least 1 day (got {self.retention}); the guide's default is 10")
        if self.minKeep < 1:
            raise ValueError(f"minKeep must be at least 1 (got {self.minKeep}) so the newest backup survives")
        if self.retention * 86400 < 2 * self.interval:
            raise ValueError(
                f"retention is {self.retention} day(s), less than two backup intervals ({self.interval} s):"
                " raise retention or lower interval"
            )
        return self
