"""The Pulumi program: read the stack config, validate it, read the live cluster, declare the stack.

``declare`` is the one program body. ``__main__.py`` runs it through ``main`` under the
Pulumi CLI; the mock engine (``tools.mock_engine``), and through it the plan tools, the
tests and the benchmark, run the same function, so a pull request's plan shows what
``pulumi up`` would declare.

The order of the constructor calls in ``build_stack`` is the order of the dependencies:

    StackGuard ─► SconeOperator (release, webhooks ready) ─► SconeServices (namespace, LAS, SGXPlugin)
                                                     └─► Cas ─► CasOwner (provisioning, upgrades, recovery, vault)
    BackupBucket ─► CasBackupper ─► Monitoring ─► SconeStatus ─► DestroyGuard (both depend on all of the above)

CAS-first upgrades: the CasOwner's ``upgrade_gate`` reads and upgrades the live CAS
without a Pulumi dependency on the CAS CR, so the operator release, LAS and SGXPlugin can
depend on it: a ``serviceVersion`` bump upgrades CAS before them, and if that fails they
stay on the old version.

The live cluster is read here, before anything is declared, and only its answers (plain
values) reach the declarations: the components never read the cluster themselves. Which cluster
that is comes from ``scone:kubeconfig``/``scone:kubeContext`` (``components.cluster_settings``);
``components.stack_cluster`` turns them into the Kubernetes provider every component passes to its
children, the properties of every dynamic resource that runs kubectl, and the cluster identity the
stack guard pins the stack to.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pulumi

from components import settings_slices as slices
from components.backup_bucket import BackupBucket
from components.backupper import CasBackupper
from components.cas import Cas
from components.chart_access import ChartAccessError, check_chart_access
from components.cluster_identity import IDENTITY_PROP, STACK_PROP
from components.cluster_settings import read_cluster_settings
from components.config_errors import SpecError
from components.config_source import StackSecrets, read_raw_config, read_secrets
from components.guards import DestroyGuard, StackGuard
from components.kube_access import KubeTarget
from components.live_checks import PlacementError, check_cas_placement, keeps_cas_protection
from components.live_cluster import ClusterView, KubectlView
from components.monitoring import Monitoring
from components.operator import SconeOperator
from components.owner.component import CasOwner
from components.services import SconeServices
from components.spec import CONFIG_NAMESPACE, SconeSpec
from components.spec_loader import validate_spec
from components.stack import SconeStack, stack_outputs
from components.stack_cluster import StackCluster, stack_cluster
from components.status_resource import record_errors, record_status

#: What the destroy guard keeps of the stack guard's pin: the recorded identity and the stack's name.
PINNED_KEYS = (IDENTITY_PROP, STACK_PROP)


@dataclass(frozen=True)
class Declared:
    """What one evaluation of the program declared: the validated spec and the stack outputs."""

    spec: SconeSpec
    outputs: dict[str, Any]


def declare(cluster: ClusterView | Callable[[KubeTarget], ClusterView], *, offline: bool = False) -> Declared:
    """Validate the stack config and declare every resource, reading ``cluster`` (read-only) for what
    is already there; a bad config raises ``SpecError``, a chart repository that refuses the stack's
    credentials ``ChartAccessError``, an unsafe CAS placement ``PlacementError``.

    ``cluster`` may be a view, or a function that builds the view for the stack's cluster settings.
    ``offline`` (the credential-free plan, on a machine without the stack's kubeconfig): the cluster
    settings are checked for their form only, not against this machine's files."""
    raw = read_raw_config(CONFIG_NAMESPACE)
    choice = read_cluster_settings(raw, local_files=not offline)
    spec = validate_spec(raw)
    view = cluster(choice.target) if callable(cluster) else cluster
    check_chart_access(spec.operatorChart, spec.serviceVersion, raw.values)
    place = stack_cluster(choice, view, pulumi.get_stack())
    check_cas_placement(spec, view)
    protect_cas = keeps_cas_protection(spec, view)
    stack = build_stack(spec, read_secrets(CONFIG_NAMESPACE), protect_cas, place)
    return Declared(spec=spec, outputs=stack_outputs(stack))


def main() -> None:
    """Run the program against the stack's cluster; a refusal ends it with the message, not a traceback."""
    try:
        declared = declare(lambda target: KubectlView(target=target))
    except (SpecError, ChartAccessError, PlacementError) as error:
        raise pulumi.RunError(str(error)) from None
    for key, value in declared.outputs.items():
        pulumi.export(key, value)


def build_stack(
    spec: SconeSpec, secrets: StackSecrets, protect_cas: bool, place: StackCluster | None = None
) -> SconeStack:
    """Declare every resource of the stack on ``place``'s cluster; ``protect_cas`` keeps the namespace and
    release protected."""
    place = place or StackCluster()
    kube, opts = place.props, place.options
    record_errors(spec, secrets, place.target)
    guard = StackGuard(
        "stack-guard", {**slices.stack_guard_props(spec, pulumi.get_stack(), pulumi.get_project()), **place.guard_props}
    )
    # The guard is passed as ``waits_for``, not as ``depends_on`` of the component: only that reaches
    # every owner resource. Phase one declares the upgrade gate, phase two (``complete``) the rest.
    owner = (
        CasOwner("cas-owner", replace(slices.owner_args(spec, secrets), kube=kube), waits_for=[guard])
        if spec.has_cas
        else None
    )
    first = [guard, *([owner.upgrade_gate] if owner is not None else [])]
    chart_auth = (secrets.chart_username, secrets.chart_password)
    operator = SconeOperator(
        "scone-operator",
        replace(slices.operator_args(spec, secrets.registry_auth, protect_cas, chart_auth), kube=kube),
        waits_for=first,
        opts=opts,
    )
    services = SconeServices(
        "scone-services",
        slices.services_args(spec, secrets.registry_auth, protect_cas),
        operator_ready=[operator.webhooks_ready],
        waits_for=first,
        opts=opts,
    )
    cas = None
    if spec.has_cas and owner is not None:
        cas = Cas(
            "cas", slices.cas_args(spec), waits_for=[guard, operator.webhooks_ready, services.namespace], opts=opts
        )
        owner.complete(cas.cr)
    bucket = backupper = None
    if spec.backup.enabled and (spec.has_cas or spec.backup.s3Creds is not None):
        bucket = BackupBucket(
            "backup-bucket",
            replace(slices.bucket_args(spec, secrets), kube=kube),
            waits_for=[guard, services.namespace],
            opts=opts,
        )
        if cas is not None:
            backupper = CasBackupper(
                "cas-backupper", slices.backupper_args(spec), waits_for=[guard, bucket.secret, cas.cr], opts=opts
            )
    monitoring = None
    if spec.monitoring.enabled:
        monitoring = Monitoring(
            "monitoring", slices.monitoring_args(spec), waits_for=[guard, operator.release], opts=opts
        )
    everything = [guard, operator, services, cas, owner, bucket, backupper, monitoring]
    declared = [resource for resource in everything if resource is not None]
    # The destroy guard keeps the cluster identity too: ``pulumi destroy`` runs no program and no check.
    pinned = {key: value for key, value in place.guard_props.items() if key in PINNED_KEYS and value}
    destroy_guard(spec, [*declared, record_status(spec, secrets, declared, kube)], {**kube, **pinned})
    return SconeStack(spec, guard, operator, services, cas, owner, bucket, backupper, monitoring)


def destroy_guard(spec: SconeSpec, everything: list[pulumi.Resource], kube: dict[str, Any]) -> DestroyGuard:
    """The first delete of a ``pulumi destroy``, so that a refusal deletes nothing.

    Protected while the stack declares a CAS. Whatever the stack declares, its delete reads the
    cluster and refuses, with the explicit removal steps, while any CAS CR lives in the services
    namespace: a CAS the stack forgot is met with those steps, not a bare "protected".
    """
    cas = f"{spec.cas.name} in {spec.namespaces.services}" if spec.has_cas else None
    return DestroyGuard(
        "destroy-guard",
        {"protects": cas, "servicesNamespace": spec.namespaces.services, **kube},
        pulumi.ResourceOptions(depends_on=everything, protect=spec.has_cas),
    )
