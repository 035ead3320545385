"""The policies of the SCONE stack, each a small validate function with a clear message.

The production flag and the image registry come from ``stack_facts`` (the pack's policy
config, written per stack by ``tools.policy_config``); a ``production: true`` property on
the stack guard resource counts as well, should the program ever record it there.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.names import BUCKET_TYPES, CAS_TYPE, STACK_GUARD_TYPE

from . import stack_facts
from .workloads import containers, dig, images, is_sgx_plugin, pod_spec

BACKUPPER_NAME = "scone-cas-db-backupper"
DEFAULT_REGISTRY = stack_facts.DEFAULT_REGISTRY

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY

#: An image reference pinned by content: ``name[:tag]@sha256:<64 hex>``.
DIGEST_PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


# --- CAS and the backup bucket are protected ---------------------------------------------


def validate_data_protected(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """CAS and the backup bucket hold the trust anchor and its backups: ``protect`` must be set."""
    if args.resource_type == CAS_TYPE and not args.opts.protect:
        report_violation(
            f"CAS '{args.name}' must be protected (ResourceOptions(protect=True)): deleting it deletes the cluster's"
            " trust anchor. Remove it only through the explicit step in the README.",
            None,
        )
    if args.resource_type in BUCKET_TYPES and not args.opts.protect:
        report_violation(
            f"The CAS backup bucket '{args.name}' must be protected (ResourceOptions(protect=True)): it holds the"
            " only copies of the CAS database.",
            None,
        )


# --- pods: non-root, not privileged, no host paths (the SGX plugin excepted) ---------------


def _workload(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    spec = pod_spec(args.resource_type, args.props)
    if spec is None or is_sgx_plugin(args.resource_type, args.props):
        return None
    return spec


def _runs_as_root(pod: Mapping[str, Any], container: Mapping[str, Any]) -> bool:
    """Kubernetes' rule: the container's securityContext overrides the pod's."""

    def setting(key: str) -> Any:
        own = dig(container, "securityContext", key)
        return own if own is not None else dig(pod, "securityContext", key)

    user = setting("runAsUser")
    if isinstance(user, (int, float)) and not isinstance(user, bool):
        return user == 0
    return setting("runAsNonRoot") is not True


def validate_non_root(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every container must run as a non-root user (runAsNonRoot, or a non-zero runAsUser)."""
    pod = _workload(args)
    if pod is None:
        return
    for container in containers(pod):
        if _runs_as_root(pod, container):
            report_violation(
                f"Container '{container.get('name', '?')}' of {args.name} may run as root: set"
                " securityContext.runAsNonRoot: true (pod or container) or a non-zero runAsUser.",
                None,
            )


def validate_not_privileged(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No privileged container outside the SGX plugin."""
    pod = _workload(args)
    if pod is None:
        return
    for container in containers(pod):
        if dig(container, "securityContext", "privileged") is True:
            report_violation(
                f"Container '{container.get('name', '?')}' of {args.name} is privileged; only the SGX plugin may be."
                " SGX enclaves need the SGX device (from the SGX plugin), not a privileged container.",
                None,
            )


def validate_no_host_paths(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No hostPath volume outside the SGX plugin."""
    pod = _workload(args)
    if pod is None:
        return
    for volume in pod.get("volumes") or []:
        if isinstance(volume, Mapping) and volume.get("hostPath") is not None:
            report_violation(
                f"Volume '{volume.get('name', '?')}' of {args.name} mounts the host path"
                f" {dig(volume, 'hostPath', 'path')!r}; only the SGX plugin may mount host paths.",
                None,
            )


# --- images come from the configured registry -----------------------------------------------


def validate_image_registry(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Every image the stack runs is pulled from the configured registry (the guide's MTR mirror)."""
    registry = stack_facts.registry(args.get_config())
    for where, image in images(args.resource_type, args.props):
        if not image.startswith(f"{registry}/"):
            report_violation(
                f"{args.name} ({where}) uses image '{image}', which is not from the configured registry {registry}/."
                " Mirror the image there, or set images.repository (and the pack's registry config) for this stack.",
                None,
            )


# --- production stacks keep backups and monitoring ------------------------------------------


def is_production(args: StackValidationArgs) -> bool:
    """Production per ``stack_facts``, or from the stack guard's ``production`` property."""
    if stack_facts.production(args.get_config()):
        return True
    return any(
        resource.resource_type == STACK_GUARD_TYPE and dig(resource.props, "production") is True
        for resource in args.resources
    )


def _of_type(resources: Iterable[PolicyResource], *types: str) -> list[PolicyResource]:
    return [resource for resource in resources if resource.resource_type in types]


def validate_production_backups(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A production stack with a CAS runs the CAS DB backupper against a backup store."""
    if not is_production(args):
        return
    cas = _of_type(args.resources, CAS_TYPE)
    if not cas:
        return  # skipCas: this stack has no CAS database to back up
    backuppers = [
        resource
        for resource in _of_type(args.resources, "kubernetes:apps/v1:Deployment")
        if dig(resource.props, "metadata", "name") == BACKUPPER_NAME
    ]
    if not backuppers:
        report_violation(
            "This is a production stack (production: true) with a CAS, but it runs no CAS DB backupper:"
            " keep backup.enabled: true.",
            cas[0].urn,
        )
        return
    stores = _of_type(args.resources, *BUCKET_TYPES) + [
        resource
        for resource in _of_type(args.resources, "kubernetes:core/v1:Secret")
        if dig(resource.props, "metadata", "name") == "s3-bucket-scone-cas-db-backupper"
    ]
    if not stores:
        report_violation(
            "This is a production stack, but its backupper has no bucket: neither a bucket nor the Secret"
            " s3-bucket-scone-cas-db-backupper is declared.",
            backuppers[0].urn,
        )


def validate_production_monitoring(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A production stack creates the alerts, so a stopped operator or backupper is noticed."""
    if not is_production(args):
        return
    if not _of_type(args.resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        report_violation(
            "This is a production stack (production: true) without the SCONE alerts: set monitoring.enabled: true.",
            None,
        )


def validate_production_backupper_pinned(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """A production backupper runs the image the release signed: pinned by digest, not by a movable tag."""
    if not is_production(args):
        return
    for resource in _of_type(args.resources, "kubernetes:apps/v1:Deployment"):
        if dig(resource.props, "metadata", "name") != BACKUPPER_NAME:
            continue
        for container in containers(pod_spec(resource.resource_type, resource.props) or {}):
            image = str(container.get("image", ""))
            if not DIGEST_PINNED.match(image):
                report_violation(
                    f"This is a production stack, but the backupper container '{container.get('name', '?')}' runs"
                    f" '{image}', which is not pinned by digest: set backup.image to the signed image the release"
                    " workflow printed, <repository>/<prefix>scone-cas-db-backupper:<version>@sha256:<digest>.",
                    resource.urn,
                )


# --- the policy objects -----------------------------------------------------------------------

REGISTRY_SCHEMA = PolicyConfigSchema(
    properties={
        "registry": {
            "type": "string",
            "description": "Registry path every image must come from: the stack's images.repository"
            f" (default {DEFAULT_REGISTRY}).",
        }
    }
)
PRODUCTION_SCHEMA = PolicyConfigSchema(
    properties={
        "production": {
            "type": "boolean",
            "description": "The stack's production flag, scone:production (default false).",
        }
    }
)

POLICIES: list[Policy] = [
    ResourceValidationPolicy(
        name="cas-and-backup-bucket-protected",
        description="CAS and the CAS backup bucket must be protected against deletion.",
        validate=validate_data_protected,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="pods-run-as-non-root",
        description="Every container runs as a non-root user (the SGX plugin excepted).",
        validate=validate_non_root,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="no-privileged-containers",
        description="No privileged containers outside the SGX plugin.",
        validate=validate_not_privileged,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="no-host-paths",
        description="No hostPath volumes outside the SGX plugin.",
        validate=validate_no_host_paths,
        enforcement_level=MANDATORY,
    ),
    ResourceValidationPolicy(
        name="images-from-configured-registry",
        description="Every image comes from the configured registry.",
        validate=validate_image_registry,
        enforcement_level=MANDATORY,
        config_schema=REGISTRY_SCHEMA,
    ),
    StackValidationPolicy(
        name="production-backups-enabled",
        description="Production stacks with a CAS run the CAS DB backupper with a bucket.",
        validate=validate_production_backups,
        enforcement_level=MANDATORY,
        config_schema=PRODUCTION_SCHEMA,
    ),
    StackValidationPolicy(
        name="production-backupper-image-pinned",
        description="Production stacks run the backupper image pinned by digest (the signed release).",
        validate=validate_production_backupper_pinned,
        # Advisory until the first signed release's digest is pinned in every production stack file;
        # then mandatory (a policy config can raise it per stack: {"enforcementLevel": "mandatory"}).
        enforcement_level=ADVISORY,
        config_schema=PRODUCTION_SCHEMA,
    ),
    StackValidationPolicy(
        name="production-monitoring-enabled",
        description="Production stacks create the SCONE alerts.",
        validate=validate_production_monitoring,
        enforcement_level=MANDATORY,
        config_schema=PRODUCTION_SCHEMA,
    ),
]
