"""The Pulumi program: read the stack config, validate it, read the live cluster, declare the stack.

``declare`` is the one program body. ``__main__.py`` runs it through ``main`` under the
Pulumi CLI; the mock engine (``tools.mock_engine``), and through it the plan tools, the
tests and the benchmark, run the same function, so a pull request's plan shows what
``pulumi up`` would declare.

The order of the constructor calls in ``build_stack`` is the order of the dependencies:

    StackGuard ─► SconeOperator ─► SconeServices (namespace, LAS, SGXPlugin)
                               └─► Cas ─► CasOwner (provisioning, upgrades, recovery, vault)
    BackupBucket ─► CasBackupper ─► Monitoring ─► SconeStatus ─► DestroyGuard (both depend on all of the above)

CAS-first upgrades: the CasOwner's ``upgrade_gate`` reads and upgrades the live CAS
without a Pulumi dependency on the CAS CR, so the operator release, LAS and SGXPlugin can
depend on it: a ``serviceVersion`` bump upgrades CAS before them, and if that fails they
stay on the old version.

The live cluster is read here, before anything is declared, and only its answers (plain
values) reach the declarations: the components never read the cluster themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components import settings_slices as slices
from components.backup_bucket import BackupBucket
from components.backupper import CasBackupper
from components.cas import Cas
from components.chart_access import ChartAccessError, check_chart_access
from components.config_errors import SpecError
from components.config_source import StackSecrets, read_raw_config, read_secrets
from components.guards import DestroyGuard, StackGuard
from components.live_checks import PlacementError, check_cas_placement, keeps_cas_protection
from components.live_cluster import ClusterView, KubectlView
from components.monitoring import Monitoring
from components.operator import SconeOperator
from components.owner.component import CasOwner
from components.services import SconeServices
from components.spec import CONFIG_NAMESPACE, SconeSpec
from components.spec_loader import validate_spec
from components.stack import SconeStack, stack_outputs
from components.status_resource import record_errors, record_status


@dataclass(frozen=True)
class Declared:
    """What one evaluation of the program declared: the validated spec and the stack outputs."""

    spec: SconeSpec
    outputs: dict[str, Any]


def declare(cluster: ClusterView) -> Declared:
    """Validate the stack config and declare every resource, reading ``cluster`` (read-only) for what
    is already there; a bad config raises ``SpecError``, a chart repository that refuses the stack's
    credentials ``ChartAccessError``, an unsafe CAS placement ``PlacementError``."""
    raw = read_raw_config(CONFIG_NAMESPACE)
    spec = validate_spec(raw)
    check_chart_access(spec.operatorChart, spec.serviceVersion, raw.values)
    check_cas_placement(spec, cluster)
    protect_cas = keeps_cas_protection(spec, cluster)
    stack = build_stack(spec, read_secrets(CONFIG_NAMESPACE), protect_cas)
    return Declared(spec=spec, outputs=stack_outputs(stack))


def main() -> None:
    """Run the program against the kubeconfig's cluster; a refusal ends it with the message, not a traceback."""
    try:
        declared = declare(KubectlView())
    except (SpecError, ChartAccessError, PlacementError) as error:
        raise pulumi.RunError(str(error)) from None
    for key, value in declared.outputs.items():
        pulumi.export(key, value)


def build_stack(spec: SconeSpec, secrets: StackSecrets, protect_cas: bool) -> SconeStack:
    """Declare every resource of the stack; ``protect_cas`` keeps the namespace and release protected."""
    record_errors(spec, secrets)
    guard = StackGuard("stack-guard", slices.stack_guard_props(spec, pulumi.get_stack(), pulumi.get_project()))
    # The guard is passed as ``waits_for``, not as ``depends_on`` of the component: only that reaches
    # every owner resource. Phase one declares the upgrade gate, phase two (``complete``) the rest.
    owner = CasOwner("cas-owner", slices.owner_args(spec, secrets), waits_for=[guard]) if spec.has_cas else None
    first = [guard, *([owner.upgrade_gate] if owner is not None else [])]
    chart_auth = (secrets.chart_username, secrets.chart_password)
    operator = SconeOperator(
        "scone-operator", slices.operator_args(spec, secrets.registry_auth, protect_cas, chart_auth), waits_for=first
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
        owner.complete(cas.cr)
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
    everything = [guard, operator, services, cas, owner, bucket, backupper, monitoring]
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
