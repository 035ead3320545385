"""The Scone status recorded by the program itself: Running after every successful ``pulumi up``,
Error (with the redacted engine error) when an operation of the ``up`` fails.

Why in the program and not only in ``scone-ops reconcile``: whoever runs a plain ``pulumi up``
leaves the status true too. ``SconeStatus`` depends on every other resource, so it is written only
after they all succeeded. A failed operation never reaches it; for that case an error hook bound
to every custom resource (through a stack transform) writes Error before the ``up`` stops. The
hook runs only in updates (operations never run in a preview) and never asks for a retry: the
bounded retries belong to the reconciler. A refusal in a resource's check (an invalid input, a
Helm chart that cannot be fetched) stops the ``up`` before any operation, where the engine calls
no hook: the status keeps the last success, and ``scone-ops reconcile`` records that Error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.config_source import StackSecrets
from components.kube_access import AMBIENT, KubeTarget
from components.redaction import Redactor
from components.scone_status import StatusRecord, canonical_spec, digest_of, masked
from components.spec import SconeSpec
from components.status_provider import SconeStatusProvider, read_live, write_live

ERROR_HOOK = "scone-status-on-error"


class SconeStatus(Resource, module="scone", name="SconeStatus"):
    """The ConfigMap ``scone-status``: phase Running and the deployed facts of this update."""

    observedGeneration: pulumi.Output[str]  # noqa: N815 - the CR's field name
    lastUpdate: pulumi.Output[str]  # noqa: N815

    def __init__(self, name: str, props: dict[str, pulumi.Input[str]],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SconeStatusProvider(), name, {"observedGeneration": None, "lastUpdate": None, **props}, opts)


def _secret_values(secrets: StackSecrets) -> list[pulumi.Output[str]]:
    found = (secrets.dcap_key, secrets.s3_access_key_id, secrets.s3_secret_access_key, secrets.registry_auth,
             secrets.chart_username, secrets.chart_password)
    return [value for value in found if value is not None]


def record_status(
    spec: SconeSpec, secrets: StackSecrets, after: Sequence[pulumi.Resource], kube: Mapping[str, Any] | None = None
) -> SconeStatus:
    """Declare the status resource, written once everything in ``after`` succeeded."""
    canonical = canonical_spec(spec)
    # The spec never holds a credential (they are separate secret config); masking the known
    # secret values once more keeps that true even if a credential was pasted into a plain key.
    document = pulumi.Output.unsecret(
        pulumi.Output.all(*_secret_values(secrets)).apply(lambda values: masked(canonical, values)))
    return SconeStatus("scone-status", {
        "stack": pulumi.get_stack(),
        "namespace": str(spec.namespaces.operator),
        "deployedVersion": spec.serviceVersion,
        "deployedSpec": digest_of(canonical),
        "deployedSpecDocument": document,
        "managementState": str(spec.managementState),
        **(kube or {}),
    }, pulumi.ResourceOptions(depends_on=list(after)))


def record_errors(spec: SconeSpec, secrets: StackSecrets, target: KubeTarget = AMBIENT) -> None:
    """Bind the Error-writing hook to every custom resource declared after this call (updates only)."""
    if pulumi.runtime.is_dry_run():
        return
    known: list[str] = []
    for value in _secret_values(secrets):
        value.apply(known.append)  # plaintext stays in this process's memory, only to mask errors
    stack = pulumi.get_stack()
    namespace = str(spec.namespaces.operator)

    def on_error(args: pulumi.ErrorHookArgs) -> bool:
        error = args.errors[0] if args.errors else "(no error text)"
        text = Redactor.of(known).error_tail(f"{args.failed_operation} of {args.type} {args.name} failed: {error}")
        try:
            current = read_live(namespace, target) or StatusRecord(stack, "")
            write_live(namespace, current.entering(stack, "Error", error=text), target)
        except Exception as problem:
            pulumi.log.warn(f"Scone status not recorded: {Redactor.of(known)(str(problem))[-300:]}")
        return False

    hook = pulumi.ErrorHook(ERROR_HOOK, on_error)

    def bind(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.custom:
            return None
        bound = pulumi.ResourceOptions(hooks=pulumi.ResourceHookBinding(on_error=[hook]))
        return pulumi.ResourceTransformResult(args.props, pulumi.ResourceOptions.merge(args.opts, bound))

    pulumi.runtime.register_resource_transform(bind)
