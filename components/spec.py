"""The stack's desired state: the `Scone` custom resource's spec, as a validated model.

Every field of the user guide's "Scone Specification" table is here with the same name,
meaning and default. Settings the guide fixes by convention (namespaces, image registry,
chart location ...) are fields too, with the guide's values as defaults, so that a stack
file only states what differs. The model is strict: a typo or a wrong type is an error
that names the stack file and key (see ``config_errors``), never a silently ignored key.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components import support_matrix
from components.cron_schedule import CronError, parse_cron
from components.labels import (
    dns_label_problem,
    dns_subdomain_problem,
    label_key_problem,
    label_value_problem,
)
from components.owner.config import OwnerSettings

CONFIG_NAMESPACE = "scone"

#: Config keys whose values are credentials. They must be set with
#: ``pulumi config set --secret`` and are never part of the model (see ``secrets.py``).
SECRET_KEYS: dict[str, str] = {
    "dcapKey": "Intel PCS / DCAP API key, handed to kubectl-provision through DCAP_KEY",
    "s3AccessKeyId": "access key id of an S3-compatible store (with backup.s3.endpoint)",
    "s3SecretAccessKey": "secret access key of an S3-compatible store (with backup.s3.endpoint)",
    "registryAuth": "a .dockerconfigjson for the image registry; creates the pull Secrets",
}


class StrictModel(BaseModel):
    """Base for every spec section: camelCase keys, no unknown keys, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )


def _node_selector(value: dict[str, str]) -> dict[str, str]:
    for key, label in value.items():
        problem = label_key_problem(key)
        if problem:
            raise ValueError(f"label key '{key}': {problem}")
        problem = label_value_problem(label)
        if problem:
            raise ValueError(f"label '{key}': {problem}")
    return value


def _dns_label(value: str) -> str:
    problem = dns_label_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _dns_subdomain(value: str) -> str:
    problem = dns_subdomain_problem(value)
    if problem:
        raise ValueError(problem)
    return value


NodeSelector = Annotated[dict[str, str], AfterValidator(_node_selector)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
DnsSubdomain = Annotated[str, AfterValidator(_dns_subdomain)]


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


class NamespaceSettings(StrictModel):
    """Namespaces the guide fixes by convention."""

    operator: DnsLabel = Field(default="osc-sec-us-scone-operator", description="Namespace of the scone-operator.")
    services: DnsLabel = Field(
        default="osc-scone-system",
        description="Namespace of CAS, LAS and SGX plugin pods and of the CAS DB backupper.",
    )


class ImageSettings(StrictModel):
    """Image registry and naming (guide: MTR mirror with osc- prefix)."""

    repository: str = Field(
        default="mtr.devops.telekom.de/osc/security/confidential-computing",
        description="Registry path every SCONE image is pulled from (IMAGE_REPO).",
    )
    prefix: str = Field(default="osc-", description="Image name prefix (IMAGE_PREFIX).")
    pullSecretName: DnsSubdomain = Field(  # noqa: N815
        default="sconeapps",
        description="Pull Secret of the services (CAS, LAS, SGX plugin); upstream's manifests use sconeapps.",
    )
    operatorPullSecretName: DnsSubdomain = Field(  # noqa: N815
        default="scone-operator-pull",
        description="Pull Secret of the operator; the chart hard-codes scone-operator-pull.",
    )

    @model_validator(mode="after")
    def _repository_shape(self) -> ImageSettings:
        if not self.repository or self.repository.endswith("/") or "://" in self.repository:
            raise ValueError(
                f"repository '{self.repository}' must be a registry path like registry.example.com/team,"
                " without scheme or trailing '/'"
            )
        return self


class OperatorChartSettings(StrictModel):
    """Where the scone-operator chart comes from (upstream serves a plain tgz per version)."""

    location: str = Field(
        default="https://raw.githubusercontent.com/scontain/operator/main/scone-operator-{version}.tgz",
        description="URL or local path of the chart; {version} is replaced by serviceVersion.",
    )
    releaseName: DnsLabel = Field(  # noqa: N815
        default="scone-operator", description="Helm release name."
    )
    timeoutSeconds: int = Field(  # noqa: N815
        default=600,
        description="How long Helm waits for the operator (and its webhooks) to become ready.",
    )

    def resolved_location(self, version: str) -> str:
        """The chart location for ``version``."""
        return self.location.replace("{version}", version)


class CertManagerSettings(StrictModel):
    """cert-manager, which the operator chart needs for its webhook certificate."""

    mode: Literal["detect", "install", "skip"] = Field(
        default="detect",
        description="detect: fail with a clear message when cert-manager is missing; install: install it"
        " from `chart`; skip: trust that it is there.",
    )
    chart: str = Field(
        default="https://charts.jetstack.io/charts/cert-manager-v1.16.0.tgz",
        description="cert-manager chart (URL or path) used with mode install.",
    )
    namespace: DnsLabel = Field(default="cert-manager", description="Namespace of cert-manager.")


class MonitoringSettings(StrictModel):
    """Prometheus / Grafana integration (guide: monitoring of the scone-operator)."""

    enabled: bool = Field(default=False, description="Create ServiceMonitor, alerts and dashboard.")
    namespace: DnsLabel | None = Field(
        default=None,
        description="Namespace for the monitoring objects. Empty means the operator namespace.",
    )
    selectorLabels: dict[str, str] = Field(  # noqa: N815
        default_factory=lambda: {"release": "prometheus"},
        description="Labels your Prometheus selects ServiceMonitors and PrometheusRules by.",
    )
    dashboardLabels: dict[str, str] = Field(  # noqa: N815
        default_factory=lambda: {"grafana_dashboard": "1"},
        description="Labels the Grafana sidecar selects dashboard ConfigMaps by.",
    )


class CasSettings(StrictModel):
    """The non-provisioned CAS this stack creates (unless skipCas)."""

    name: str = Field(
        default="cas",
        description="CAS name; kubectl-provision refuses names longer than 15 characters.",
    )
    databaseSize: str = Field(  # noqa: N815
        default="1Gi", description="Size of the CAS database volume."
    )
    snapshotSize: str = Field(  # noqa: N815
        default="1Gi", description="Size of the CAS database snapshot volume."
    )
    storageClass: str | None = Field(  # noqa: N815
        default=None,
        description="StorageClass of both volumes. Empty means the cluster default.",
    )
    snapshotInterval: str = Field(  # noqa: N815
        default="1h0m0s",
        description="How often CAS writes a database snapshot (a Go duration; it only writes when the database"
        " changed). Keep it at or below backup.interval so each backup can carry a new snapshot.",
    )
    serviceType: Literal["ClusterIP", "NodePort", "LoadBalancer"] = Field(  # noqa: N815
        default="ClusterIP",
        description="Service type of CAS. Owners provision through a port-forward, so ClusterIP suffices.",
    )

    removeFromStack: bool = Field(  # noqa: N815
        default=False,
        description="The explicit step to let a stack forget its CAS: with skipCas true (and the CAS"
        " unprotected with `pulumi state unprotect`), the CAS leaves the stack but keeps running.",
    )

    @model_validator(mode="after")
    def _snapshot_interval_is_a_duration(self) -> CasSettings:
        if not re.fullmatch(r"(\d+h)?(\d+m)?(\d+s)?", self.snapshotInterval) or not self.snapshotInterval:
            raise ValueError(
                f"snapshotInterval '{self.snapshotInterval}' must be a Go duration such as 1h0m0s, 30m or 24h"
            )
        return self

    @model_validator(mode="after")
    def _name_fits_the_plugin(self) -> CasSettings:
        problem = dns_label_problem(self.name, max_length=15)
        if problem:
            raise ValueError(
                f"name {problem}: kubectl-provision accepts CAS names of at most 15 characters"
                if len(self.name) > 15
                else f"name {problem}"
            )
        return self


class SconeSpec(StrictModel):
    """The whole stack configuration (config namespace ``scone``)."""

    serviceVersion: str = Field(  # noqa: N815
        description="Version of the SCONE services to run (guide: spec.version). Must be in the support matrix.",
    )
    managementState: Literal["Managed", "Unmanaged"] = Field(  # noqa: N815
        default="Managed",
        description="Managed: this stack manages the SCONE services. Unmanaged: pulumi up changes and deletes"
        " none of them (operator, LAS, SGX plugin, CAS), e.g. during a CAS recovery.",
    )
    skipCas: bool = Field(  # noqa: N815
        default=False,
        description="Create no CAS (e.g. when another cluster's CAS serves this one). Switching an existing"
        " stack to true is refused while its CAS exists.",
    )
    serviceNodeSelector: NodeSelector = Field(  # noqa: N815
        default_factory=dict,
        description="Node selector for CAS, LAS, SGX plugin and the CAS DB backupper.",
    )
    operatorNodeSelector: NodeSelector = Field(  # noqa: N815
        default_factory=dict,
        description="Node selector for the scone-operator.",
    )
    backup: BackupSpec = Field(default_factory=BackupSpec, description="CAS database backups to S3.")
    namespaces: NamespaceSettings = Field(default_factory=NamespaceSettings, description="Namespaces.")
    images: ImageSettings = Field(default_factory=ImageSettings, description="Image registry and names.")
    operatorChart: OperatorChartSettings = Field(  # noqa: N815
        default_factory=OperatorChartSettings,
        description="The scone-operator Helm chart.",
    )
    certManager: CertManagerSettings = Field(  # noqa: N815
        default_factory=CertManagerSettings, description="cert-manager handling."
    )
    monitoring: MonitoringSettings = Field(
        default_factory=MonitoringSettings, description="Prometheus and Grafana objects."
    )
    cas: CasSettings = Field(default_factory=CasSettings, description="The CAS this stack creates.")
    provisioning: OwnerSettings = Field(
        default_factory=OwnerSettings,
        description="CAS owner operations through kubectl-provision (only on the owner's trusted machine).",
    )
    kubernetesVersion: str | None = Field(  # noqa: N815
        default=None,
        description="Kubernetes version of the target cluster (e.g. 1.26); checked against the support matrix.",
    )
    production: bool = Field(
        default=False,
        description="Marks a production stack: the policy pack then requires backups and monitoring.",
    )

    @model_validator(mode="after")
    def _version_is_supported(self) -> SconeSpec:
        supported = support_matrix.supported_versions()
        if self.serviceVersion not in supported:
            raise ValueError(
                f"serviceVersion '{self.serviceVersion}' is not supported; supported versions are"
                f" {', '.join(supported)} (components/support_matrix.yaml)"
            )
        if self.kubernetesVersion is not None:
            release = support_matrix.release(self.serviceVersion)
            try:
                fits = release.supports_kubernetes(self.kubernetesVersion)
            except ValueError as error:
                raise ValueError(f"kubernetesVersion {error}") from None
            if not fits:
                raise ValueError(
                    f"kubernetesVersion {self.kubernetesVersion} is outside what SCONE {self.serviceVersion}"
                    f" supports ({release.kubernetes_min}-{release.kubernetes_max})"
                )
        return self

    # --- derived facts, so that components never re-derive them differently -------------

    @property
    def manages_services(self) -> bool:
        """False under Unmanaged: the SCONE services are left exactly as they are."""
        return self.managementState == "Managed"

    @property
    def has_cas(self) -> bool:
        """True when this stack owns a CAS."""
        return not self.skipCas

    def image(self, name: str) -> str:
        """A SCONE image reference as upstream builds it: <repo>/<prefix><name>:<version>."""
        return f"{self.images.repository}/{self.images.prefix}{name}:{self.serviceVersion}"

    @property
    def cas_image(self) -> str:
        """The CAS image; kubectl-provision refuses a CR with any other image (reference §1.5)."""
        return self.image("cas")

    @property
    def backupper_image(self) -> str:
        """The CAS DB backupper image."""
        return self.backup.image or self.image("scone-cas-db-backupper")

    @property
    def operator_image(self) -> str:
        """The operator image: upstream names it k8soperators, without the prefix (reference §3.5)."""
        return f"{self.images.repository}/k8soperators:{self.serviceVersion}"
