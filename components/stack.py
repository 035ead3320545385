"""Assemble the whole SCONE stack from a validated spec.

The order of the constructor calls is the order of the dependencies:

    StackGuard ─► SconeOperator ─► SconeServices (namespace, LAS, SGXPlugin)
                               └─► Cas ─► CasOwner (provisioning, upgrades, recovery, vault)
    BackupBucket ─► CasBackupper ─► Monitoring ─► SconeStatus ─► DestroyGuard (both depend on all of the above)

CAS-first upgrades: the CasOwner's ``upgrade_gate`` reads and upgrades the live CAS
without a Pulumi dependency on the CAS CR, so the operator release, LAS and SGXPlugin can
depend on it: a ``serviceVersion`` bump upgrades CAS before them, and if that fails they
stay on the old version.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import settings_slices as slices
from components.backup_bucket import BackupBucket
from components.backupper import CasBackupper
from components.cas import Cas
from components.guards import DestroyGuard, StackGuard
from components.live_checks import check_cas_placement, keeps_cas_protection
from components.live_cluster import ClusterView
from components.monitoring import Monitoring
from components.names import BACKUP_SECRET_NAME
from components.operator import SconeOperator
from components.owner_wiring import OwnerParts, owner_gate, owner_operations
from components.scone_status import canonical_spec, digest_of
from components.services import SconeServices
from components.spec import SconeSpec
from components.spec_loader import StackSecrets
from components.status_resource import record_errors, record_status


@dataclass
class SconeStack:
    """What a stack owns; ``None`` where the spec turns a part off."""

    spec: SconeSpec
    guard: StackGuard
    operator: SconeOperator
    services: SconeServices
    cas: Cas | None
    owner: OwnerParts | None
    bucket: BackupBucket | None
    backupper: CasBackupper | None
    monitoring: Monitoring | None


def build_stack(spec: SconeSpec, secrets: StackSecrets, cluster: ClusterView) -> SconeStack:
    """Declare every resource of the stack; ``cluster`` is read (never written) for CAS and nodes."""
    check_cas_placement(spec, cluster)
    protect_cas = keeps_cas_protection(spec, cluster)
    record_errors(spec, secrets)
    guard = StackGuard("stack-guard", slices.stack_guard_props(spec, pulumi.get_stack(), pulumi.get_project()))
    owner = owner_gate(slices.owner_args(spec, secrets), guard) if spec.has_cas else None
    first = [guard, *([owner.gate] if owner is not None else [])]
    operator = SconeOperator(
        "scone-operator", slices.operator_args(spec, secrets.registry_auth, protect_cas), waits_for=first
    )
    services = SconeServices(
        "scone-services",
        slices.services_args(spec, secrets.registry_auth, protect_cas),
        operator_ready=[operator.release],
        waits_for=first,
    )
    cas = None
    if spec.has_cas and owner is not None:
        cas = Cas("cas", slices.cas_args(spec), waits_for=[guard, operator.release, services.namespace])
        owner_operations(owner, cas.cr)
    bucket = backupper = None
    if spec.backup.enabled and (spec.has_cas or spec.backup.s3Creds is not None):
        bucket = BackupBucket("backup-bucket", slices.bucket_args(spec, secrets), waits_for=[guard, services.namespace])
        if cas is not None:
            backupper = CasBackupper(
                "cas-backupper", slices.backupper_args(spec), waits_for=[guard, bucket.secret, cas.cr]
            )
    monitoring = None
    if spec.monitoring.enabled:
        monitoring = Monitoring("monitoring", slices.monitoring_args(spec), waits_for=[guard, operator.release])
    everything = [guard, operator, services, cas, owner.owner if owner else None, bucket, backupper, monitoring]
    declared = [resource for resource in everything if resource is not None]
    destroy_guard(spec, [*declared, record_status(spec, secrets, declared)])
    return SconeStack(spec, guard, operator, services, cas, owner, bucket, backupper, monitoring)


def destroy_guard(spec: SconeSpec, everything: list[pulumi.Resource]) -> DestroyGuard:
    """The first delete of a ``pulumi destroy``, so that a refusal deletes nothing.

    Protected while the stack declares a CAS. Whatever the stack declares, its delete reads the
    cluster and refuses, with the explicit removal steps, while any CAS CR lives in the services
    namespace: a CAS the stack forgot is met with those steps, not a bare "protected".
    """
    cas = f"{spec.cas.name} in {spec.namespaces.services}" if spec.has_cas else None
    return DestroyGuard(
        "destroy-guard",
        {"protects": cas, "servicesNamespace": spec.namespaces.services},
        pulumi.ResourceOptions(depends_on=everything, protect=spec.has_cas),
    )


def spec_digest(spec: SconeSpec) -> str:
    """A stable hash of the normalised spec (defaults applied); the guide's status.deployedSpec."""
    return digest_of(canonical_spec(spec))


def stack_outputs(stack: SconeStack) -> dict[str, Any]:
    """What stands in for the Scone CR's status (README: "Status fields")."""
    spec = stack.spec
    outputs: dict[str, Any] = {
        "deployedVersion": spec.serviceVersion,
        "deployedSpec": spec_digest(spec),
        "managementState": spec.managementState,
        "skipCas": spec.skipCas,
        "namespaces": {"operator": spec.namespaces.operator, "services": spec.namespaces.services},
        "operatorRelease": {
            "name": stack.operator.release.name,
            "status": stack.operator.release.status.apply(lambda status: status.status if status else None),
            "revision": stack.operator.release.status.apply(lambda status: status.revision if status else None),
        },
        "backup": {
            "enabled": spec.backup.enabled,
            "interval": spec.backup.interval,
            "retention": spec.backup.retention,
            "secretName": BACKUP_SECRET_NAME if stack.bucket else None,
            "bucket": stack.bucket.bucket_name if stack.bucket else None,
        },
    }
    if stack.cas is not None:
        outputs["cas"] = {
            "name": spec.cas.name,
            "namespace": spec.namespaces.services,
            "image": spec.cas_image,
            "statusCommand": f"kubectl get cas {spec.cas.name} -n {spec.namespaces.services}",
        }
    if stack.owner is not None:
        outputs["owner"] = stack.owner.outputs
    return outputs
