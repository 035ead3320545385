"""The stack's desired state: the `Scone` custom resource's spec, as a validated model.

Every field of the user guide's "Scone Specification" table is here with the same name,
meaning and default. Settings the guide fixes by convention (namespaces, image registry,
chart location ...) are fields too, with the guide's values as defaults, so that a stack
file only states what differs. The model is strict: a typo or a wrong type is an error
that names the stack file and key (see ``config_errors``), never a silently ignored key.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from components import support_matrix
from components.backup_settings import BackupSpec
from components.labels import DnsLabel, DnsSubdomain, NodeSelector, dns_label_problem
from components.names import DEFAULT_IMAGE_REPOSITORY, MAX_CAS_NAME
from components.operator_chart import CREDENTIAL_KEYS, OperatorChartSettings
from components.owner.config import OwnerSettings
from components.owner.versions import version_problem
from components.strict_model import StrictModel

CONFIG_NAMESPACE = "scone"

#: Config keys whose values are credentials. They must be set with
#: ``pulumi config set --secret`` and are never part of the model (``config_source.read_secrets``).
SECRET_KEYS: dict[str, str] = {
    "dcapKey": "Intel PCS / DCAP API key, handed to kubectl-provision through DCAP_KEY",
    "s3AccessKeyId": "access key id of an S3-compatible store (with backup.s3.endpoint)",
    "s3SecretAccessKey": "secret access key of an S3-compatible store (with backup.s3.endpoint)",
    "registryAuth": "a .dockerconfigjson for the image registry; creates the pull Secrets",
    **CREDENTIAL_KEYS,
}


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
        default=DEFAULT_IMAGE_REPOSITORY,
        description="Registry path every SCONE image is pulled from (IMAGE_REPO).",
    )
    prefix: str = Field(default="osc-", description="Image name prefix (IMAGE_PREFIX).")
    operatorImageName: str = Field(  # noqa: N815
        default="k8soperators",
        description="Operator image name under repository, without prefix: Scontain's chart names it"
        " k8soperators and OSC's mirror keeps that name without the osc- prefix.",
    )
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
        if not re.fullmatch(r"[a-z0-9]+(?:[._/-][a-z0-9]+)*", self.operatorImageName):
            raise ValueError(
                f"operatorImageName '{self.operatorImageName}' must be an image name like k8soperators (lowercase"
                " letters and digits, joined by . _ - /), without registry, tag or digest"
            )
        return self


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
        description=f"CAS name; kubectl-provision refuses names longer than {MAX_CAS_NAME} characters.",
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

    minCapableNodesInZone: int = Field(  # noqa: N815
        default=2,
        description="Fewest schedulable nodes in the CAS's zone that can take the CAS over (registered for it,"
        " las.scontain.com/capable, las.scontain.com/ok and sgx.intel.com/capable = true). With one, losing it"
        " loses the CAS database.",
    )
    placementCheck: Literal["fail", "warn", "off"] = Field(  # noqa: N815
        default="fail",
        description="What preview and up do when fewer nodes than minCapableNodesInZone can host the CAS: fail"
        " (Managed stacks; Unmanaged ones warn), warn (for a cluster being built up), off (no check).",
    )

    @model_validator(mode="after")
    def _enough_nodes_asked(self) -> CasSettings:
        if self.minCapableNodesInZone < 1:
            raise ValueError(
                f"minCapableNodesInZone must be at least 1 (got {self.minCapableNodesInZone}); SCONE needs 2, the"
                " default: to silence the check use placementCheck warn or off instead"
            )
        return self

    @model_validator(mode="after")
    def _snapshot_interval_is_a_duration(self) -> CasSettings:
        if not re.fullmatch(r"(\d+h)?(\d+m)?(\d+s)?", self.snapshotInterval) or not self.snapshotInterval:
            raise ValueError(
                f"snapshotInterval '{self.snapshotInterval}' must be a Go duration such as 1h0m0s, 30m or 24h"
            )
        return self

    @model_validator(mode="after")
    def _name_fits_the_plugin(self) -> CasSettings:
        problem = dns_label_problem(self.name, max_length=MAX_CAS_NAME)
        if problem:
            raise ValueError(
                f"name {problem}: kubectl-provision accepts CAS names of at most {MAX_CAS_NAME} characters"
                if len(self.name) > MAX_CAS_NAME
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
        problem = version_problem(self.serviceVersion, tuple(support_matrix.supported_versions()))
        if problem:
            raise ValueError(problem)
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
        """The CAS image; kubectl-provision refuses a CR with any other image."""
        return self.image("cas")

    @property
    def backupper_image(self) -> str:
        """The CAS DB backupper image."""
        return self.backup.image or self.image("scone-cas-db-backupper")

    @property
    def operator_image(self) -> str:
        """The operator image: <repository>/<operatorImageName>:<version>, no prefix (images.operatorImageName)."""
        return f"{self.images.repository}/{self.images.operatorImageName}:{self.serviceVersion}"
