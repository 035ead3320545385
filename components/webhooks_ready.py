"""WebhooksReady: the SCONE custom resources wait until the operator's admission webhooks can be called.

The scone-operator chart installs validating and mutating webhook configurations for LAS,
SGXPlugin, CAS and Vault with ``failurePolicy: Fail`` and without a CA: cert-manager's CA
injector copies its CA into every configuration annotated ``cert-manager.io/inject-ca-from``,
asynchronously, some time after Helm created them. Helm's wait covers the operator Deployment
(the webhook server), not that injection. A CR written in between is refused by the API server
("x509: certificate signed by unknown authority") and the ``up`` stops half-way. So after every
install or upgrade of the release this resource waits until each webhook of those
configurations carries a CA bundle, bounded by the chart's timeout
(``scone:operatorChart.timeoutSeconds``), and the SCONE CRs depend on it.

Configurations without the annotation get their CA some other way (or none is needed); they are
not waited for. The wait runs in updates only: a preview calls nothing on the cluster here.

This module is pickled *by reference* into every stack's state (the provider class): keep it
free of import side effects and never rename or move it without aliases.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider, UpdateResult

from components.kube_access import PROP_KEYS, KubeTarget
from components.provider_errors import UserFacingError, user_facing_errors

INJECT_ANNOTATION = "cert-manager.io/inject-ca-from"
WEBHOOK_CONFIGURATIONS = "validatingwebhookconfigurations,mutatingwebhookconfigurations"
#: Seconds between two looks at the webhook configurations.
POLL_SECONDS = 1.0
#: Seconds one ``kubectl get`` may take.
KUBECTL_TIMEOUT_SECONDS = 60.0
#: A change of any of these waits again: another release revision may have new configurations.
WATCHED_KEYS = ("namespace", "revision", *PROP_KEYS)


def pending_injections(configurations: list[dict[str, Any]], namespace: str) -> list[str]:
    """``kind/name`` of every configuration whose CA comes from a Certificate in ``namespace`` and
    that still has a webhook without a CA bundle."""
    pending = []
    for configuration in configurations:
        metadata = configuration.get("metadata") or {}
        source = str((metadata.get("annotations") or {}).get(INJECT_ANNOTATION) or "")
        if not source.startswith(f"{namespace}/"):
            continue
        webhooks = configuration.get("webhooks") or []
        if any(not (hook.get("clientConfig") or {}).get("caBundle") for hook in webhooks):
            pending.append(f"{str(configuration.get('kind') or '').lower()}/{metadata.get('name')}")
    return sorted(pending)


def read_configurations(target: KubeTarget) -> list[dict[str, Any]]:
    """Every validating and mutating webhook configuration of the cluster."""
    done = target.run(
        "kubectl",
        ["get", WEBHOOK_CONFIGURATIONS, "-o", "json", f"--request-timeout={int(KUBECTL_TIMEOUT_SECONDS)}s"],
        timeout=KUBECTL_TIMEOUT_SECONDS,
    )
    if done.returncode != 0:
        raise WebhookListError(done.stderr.strip()[-500:] or f"kubectl exited with {done.returncode}")
    return list(json.loads(done.stdout or "{}").get("items") or [])


class WebhookListError(RuntimeError):
    """kubectl could not list the webhook configurations (this time)."""


def wait_for_injection(namespace: str, timeout_seconds: float, target: KubeTarget) -> None:
    """Return once no configuration of ``namespace`` waits for its CA; fail, naming them, after the timeout."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            pending, problem = pending_injections(read_configurations(target), namespace), ""
        except (WebhookListError, subprocess.TimeoutExpired) as error:
            pending, problem = ["(unknown: the configurations could not be read)"], str(error)
        if not pending:
            return
        if time.monotonic() >= deadline:
            raise UserFacingError(
                f"the scone-operator's admission webhooks got no CA bundle within {timeout_seconds:g} s"
                f" (scone:operatorChart.timeoutSeconds): still waiting: {', '.join(pending)}."
                + (f" Last kubectl error: {problem}." if problem else "")
                + f" cert-manager's CA injector fills them from the Certificate named by their"
                f" {INJECT_ANNOTATION} annotation: check that cert-manager's cainjector runs"
                " (`kubectl get pods -n cert-manager`) and that the Certificate is Ready"
                f" (`kubectl get certificates -n {namespace}`), then run `pulumi up` again; no SCONE resource was"
                f" written in this update. Asked: {target.describe()}."
            )
        time.sleep(POLL_SECONDS)


@user_facing_errors
class WebhooksReadyProvider(ResourceProvider):
    """Waits, on create and on every new release revision, until the webhooks carry their CA."""

    serialize_as_secret_always = False

    def _wait(self, props: dict[str, Any]) -> dict[str, Any]:
        wait_for_injection(str(props["namespace"]), float(props["timeoutSeconds"]), KubeTarget.of(props))
        return props

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changed = [key for key in WATCHED_KEYS if _olds.get(key) != _news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="webhooks-ready", outs=self._wait(props))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._wait(_news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing in the cluster belongs to this resource."""


class WebhooksReady(Resource, module="scone", name="WebhooksReady"):
    """Done once the operator's webhook configurations carry the CA cert-manager injects."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(WebhooksReadyProvider(), name, props, opts)
