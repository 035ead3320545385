"""The wait for cert-manager's CA in the operator's webhook configurations, as its provider decides it.

The wait against a real API server, with a CA injector that takes its time, is in
``e2e/tests/test_webhook_ca_wait.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from components import webhooks_ready
from components.kube_access import KubeTarget
from components.provider_errors import UserFacingError
from components.webhooks_ready import WebhooksReadyProvider, pending_injections, wait_for_injection

NAMESPACE = "osc-sec-us-scone-operator"


def configuration(kind: str, name: str, ca: list[str | None], inject_from: str | None) -> dict[str, Any]:
    annotations = {"cert-manager.io/inject-ca-from": inject_from} if inject_from else {}
    hooks = [{"name": f"hook{i}.kb.io", "clientConfig": {"service": {"name": "scone-webhook-service",
                                                                        "namespace": NAMESPACE},
                                                           **({"caBundle": value} if value else {})}}
             for i, value in enumerate(ca)]
    return {"kind": kind, "metadata": {"name": name, "annotations": annotations}, "webhooks": hooks}


def test_a_configuration_injected_from_the_operator_namespace_waits_until_every_webhook_has_a_ca() -> None:
    source = f"{NAMESPACE}/scone-serving-cert"
    configurations = [
        configuration("MutatingWebhookConfiguration", "scone-mutating", ["Q0E=", None], source),
        configuration("ValidatingWebhookConfiguration", "scone-validating", [None], source),
    ]
    assert pending_injections(configurations, NAMESPACE) == [
        "mutatingwebhookconfiguration/scone-mutating",
        "validatingwebhookconfiguration/scone-validating",
    ]
    injected = [configuration("MutatingWebhookConfiguration", "scone-mutating", ["Q0E=", "Q0E="], source)]
    assert pending_injections(injected, NAMESPACE) == []


def test_configurations_of_other_namespaces_or_without_injection_are_not_waited_for() -> None:
    others = [
        configuration("ValidatingWebhookConfiguration", "cert-manager-webhook", [None], "cert-manager/cert-manager-ca"),
        configuration("ValidatingWebhookConfiguration", "own-ca", [None], None),
        configuration("ValidatingWebhookConfiguration", "prefix-lookalike", [None], f"{NAMESPACE}x/cert"),
    ]
    assert pending_injections(others, NAMESPACE) == []


class Answers:
    """What successive ``kubectl get`` runs answer: configurations, or an error to raise."""

    def __init__(self, *answers: list[dict[str, Any]] | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0

    def __call__(self, target: KubeTarget) -> list[dict[str, Any]]:
        self.asked += 1
        answer = self.answers[min(self.asked, len(self.answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhooks_ready, "POLL_SECONDS", 0.0)


def test_the_wait_returns_once_the_injector_filled_the_ca_even_after_a_failed_read(
    monkeypatch: pytest.MonkeyPatch, no_sleep: None
) -> None:
    source = f"{NAMESPACE}/scone-serving-cert"
    answers = Answers(
        [configuration("ValidatingWebhookConfiguration", "scone-validating", [None], source)],
        webhooks_ready.WebhookListError("the server is currently unable to handle the request"),
        [configuration("ValidatingWebhookConfiguration", "scone-validating", ["Q0E="], source)],
    )
    monkeypatch.setattr(webhooks_ready, "read_configurations", answers)
    wait_for_injection(NAMESPACE, 3600, KubeTarget())
    assert answers.asked == 3


def test_a_ca_that_never_comes_fails_naming_the_configuration_the_setting_and_what_to_check(
    monkeypatch: pytest.MonkeyPatch, no_sleep: None
) -> None:
    source = f"{NAMESPACE}/scone-serving-cert"
    pending = Answers([configuration("MutatingWebhookConfiguration", "scone-mutating", [None], source)])
    monkeypatch.setattr(webhooks_ready, "read_configurations", pending)
    with pytest.raises(UserFacingError) as refused:
        wait_for_injection(NAMESPACE, 0.0, KubeTarget(kubeconfig="/etc/prod.kubeconfig", context="prod"))
    message = str(refused.value)
    assert "mutatingwebhookconfiguration/scone-mutating" in message
    assert "scone:operatorChart.timeoutSeconds" in message
    assert f"kubectl get certificates -n {NAMESPACE}" in message
    assert "kubeconfig /etc/prod.kubeconfig, context prod" in message


def test_only_a_new_revision_namespace_or_cluster_waits_again() -> None:
    olds = {"namespace": NAMESPACE, "revision": 3, "timeoutSeconds": 600}
    provider = WebhooksReadyProvider()
    assert provider.diff("webhooks-ready", olds, dict(olds)).changes is False
    assert provider.diff("webhooks-ready", olds, {**olds, "timeoutSeconds": 900}).changes is False
    assert provider.diff("webhooks-ready", olds, {**olds, "revision": 4}).changes is True
    assert provider.diff("webhooks-ready", olds, {**olds, "kubeContext": "prod"}).changes is True
    assert not provider.diff("webhooks-ready", olds, {**olds, "revision": 4}).replaces
