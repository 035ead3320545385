"""The spec cut into each component's settings: the one place that reads ``SconeSpec`` for them.

Components take a small args object each and import no spec and no sibling, so a setting
that only one component uses touches the spec, this module and that component. The backupper
takes the spec's ``backup`` section whole: a backup setting it reads touches only the spec and
the backupper (``components.backupper.BACKUP_ENV``).
"""

from __future__ import annotations

from typing import Any

import pulumi

from components import support_matrix
from components.backup_bucket import BucketArgs, SecretSource, StoreCredentials
from components.backupper import BackupperArgs
from components.cas import CasArgs
from components.config_source import StackSecrets
from components.monitoring import MonitoringArgs
from components.operator import CertManagerArgs, ChartSource, OperatorArgs
from components.owner.component import CasOwnerArgs
from components.services import ServicesArgs
from components.spec import SconeSpec


def stack_guard_props(spec: SconeSpec, stack: str, project: str) -> dict[str, Any]:
    """The inputs the stack guard compares between the previous and the new deployment."""
    cas_urn = (
        f"urn:pulumi:{stack}::{project}::scone:index:Cas$kubernetes:services.scone.cloud/v1beta1:CAS::{spec.cas.name}"
    )
    return {
        "hasCas": spec.has_cas,
        "removeCasFromStack": spec.cas.removeFromStack,
        "casName": spec.cas.name,
        "casUrn": cas_urn,
        "servicesNamespace": spec.namespaces.services,
        "operatorNamespace": spec.namespaces.operator,
        "operatorRelease": spec.operatorChart.releaseName,
        "managementState": spec.managementState,
        "serviceVersion": spec.serviceVersion,
        # Facts the policy pack reads from the resources (the CLI hands packs no stack config).
        "production": spec.production,
        "imageRepository": spec.images.repository,
    }


def operator_args(
    spec: SconeSpec,
    registry_auth: pulumi.Output[str] | None,
    guards_cas: bool,
    chart_auth: tuple[pulumi.Output[str] | None, pulumi.Output[str] | None] = (None, None),
) -> OperatorArgs:
    """The operator release, its namespace and cert-manager; ``chart_auth`` = the chart's (username, password)."""
    chart = spec.operatorChart
    return OperatorArgs(
        namespace=spec.namespaces.operator,
        release_name=spec.operatorChart.releaseName,
        chart=spec.operatorChart.resolved_location(spec.serviceVersion),
        image=spec.operator_image,
        node_selector=dict(spec.operatorNodeSelector),
        timeout_seconds=spec.operatorChart.timeoutSeconds,
        version=spec.serviceVersion,
        pull_secret_name=spec.images.operatorPullSecretName,
        cert_manager=CertManagerArgs(
            mode=spec.certManager.mode, chart=spec.certManager.chart, namespace=spec.certManager.namespace
        ),
        frozen=not spec.manages_services,
        guards_cas=guards_cas,
        registry_auth=registry_auth,
        chart_source=ChartSource(
            repository=chart.repository,
            version=chart.pinned_version(spec.serviceVersion),
            # Credentials only where Helm sends them (spec validation refuses them elsewhere).
            username=chart_auth[0] if chart.is_remote else None,
            password=chart_auth[1] if chart.is_remote else None,
        ),
    )


def services_args(spec: SconeSpec, registry_auth: pulumi.Output[str] | None, guards_cas: bool) -> ServicesArgs:
    """The services namespace, LAS and the SGX plugin."""
    return ServicesArgs(
        namespace=spec.namespaces.services,
        las_image=spec.image("las"),
        sgx_plugin_image=spec.image("sgx-plugin"),
        pull_secret_name=spec.images.pullSecretName,
        node_selector=dict(spec.serviceNodeSelector),
        frozen=not spec.manages_services,
        guards_cas=guards_cas,
        registry_auth=registry_auth,
    )


def cas_args(spec: SconeSpec) -> CasArgs:
    """The CAS custom resource."""
    return CasArgs(
        name=spec.cas.name,
        namespace=spec.namespaces.services,
        image=spec.cas_image,
        pull_secret_name=spec.images.pullSecretName,
        node_selector=dict(spec.serviceNodeSelector),
        service_type=spec.cas.serviceType,
        database_size=spec.cas.databaseSize,
        snapshot_size=spec.cas.snapshotSize,
        storage_class=spec.cas.storageClass,
        snapshot_interval=spec.cas.snapshotInterval,
        frozen=not spec.manages_services,
    )


def owner_args(spec: SconeSpec, secrets: StackSecrets) -> CasOwnerArgs:
    """The CAS owner's operations (only run where ``provisioning.enabled``)."""
    return CasOwnerArgs(
        settings=spec.provisioning,
        cas_name=spec.cas.name,
        namespace=spec.namespaces.services,
        service_version=spec.serviceVersion,
        image_repo=spec.images.repository,
        image_prefix=spec.images.prefix,
        supported_versions=support_matrix.supported_versions(),
        management_state=spec.managementState,
        dcap_key=secrets.dcap_key,
    )


def store_credentials(secrets: StackSecrets) -> StoreCredentials | None:
    """Keys of an S3-compatible store, when configured."""
    if secrets.s3_access_key_id is None or secrets.s3_secret_access_key is None:
        return None
    return StoreCredentials(secrets.s3_access_key_id, secrets.s3_secret_access_key)


def bucket_args(spec: SconeSpec, secrets: StackSecrets) -> BucketArgs:
    """The backup bucket, or the Secret that names an existing one."""
    backup, store = spec.backup, spec.backup.s3
    creds = backup.s3Creds
    return BucketArgs(
        namespace=spec.namespaces.services,
        use_existing_secret=store.useExistingSecret,
        copy_from=SecretSource(name=creds.secret, namespace=creds.namespace) if creds is not None else None,
        region=store.region,
        endpoint=store.endpoint,
        bucket_name=store.bucketName,
        force_path_style=store.forcePathStyle,
        retention_days=backup.retention,
        prefix=backup.prefix,
        store_credentials=store_credentials(secrets),
    )


def backupper_args(spec: SconeSpec) -> BackupperArgs:
    """The CAS DB backupper's Deployment."""
    return BackupperArgs(
        cas_name=spec.cas.name,
        namespace=spec.namespaces.services,
        version=spec.serviceVersion,
        image=spec.backupper_image,
        node_selector=dict(spec.serviceNodeSelector),
        pull_secret_name=spec.images.pullSecretName,
        backup=spec.backup,
    )


def monitoring_args(spec: SconeSpec) -> MonitoringArgs:
    """ServiceMonitors, alerts and the dashboard."""
    runs_backupper = spec.backup.enabled and spec.has_cas
    return MonitoringArgs(
        namespace=spec.monitoring.namespace or spec.namespaces.operator,
        operator_namespace=spec.namespaces.operator,
        services_namespace=spec.namespaces.services,
        selector_labels=dict(spec.monitoring.selectorLabels),
        dashboard_labels=dict(spec.monitoring.dashboardLabels),
        version=spec.serviceVersion,
        cas_name=spec.cas.name,
        has_cas=spec.has_cas,
        min_capable_nodes=spec.cas.minCapableNodesInZone,
        backup_interval=spec.backup.interval if runs_backupper else None,
        drill_schedule=spec.backup.restoreDrill.cron,
    )
