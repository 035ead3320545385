"""The stack guard refuses, already in preview, the transitions that would lose CAS."""

from __future__ import annotations

from typing import Any

from pulumi.runtime.rpc import UNKNOWN

from components.guard_providers import StackGuardProvider
from components.settings_slices import stack_guard_props
from components.spec import SconeSpec


def props(**overrides: Any) -> dict[str, Any]:
    spec = SconeSpec.model_validate({"serviceVersion": "5.8.0", **overrides})
    return stack_guard_props(spec, "prod", "scone")


def failures(olds: dict[str, Any], news: dict[str, Any]) -> dict[str, str]:
    result = StackGuardProvider().check(olds, news)
    return {failure.property: failure.reason for failure in result.failures}


def test_a_new_stack_passes() -> None:
    assert failures({}, props()) == {}


def test_an_unchanged_stack_passes() -> None:
    assert failures(props(), props()) == {}


def test_switching_to_skip_cas_is_refused_with_the_explicit_steps() -> None:
    reason = failures(props(), props(skipCas=True))["skipCas"]
    assert reason.startswith("skipCas: true would drop CAS 'cas' in namespace 'osc-scone-system'")
    assert "kubectl provision cas cas -n osc-scone-system --local-backup" in reason
    cas_urn = "urn:pulumi:prod::scone::scone:index:Cas$kubernetes:services.scone.cloud/v1beta1:CAS::cas"
    assert f"pulumi state unprotect '{cas_urn}'" in reason
    assert "scone:cas.removeFromStack: true" in reason


def test_switching_to_skip_cas_with_the_explicit_removal_passes() -> None:
    assert failures(props(), props(skipCas=True, cas={"removeFromStack": True})) == {}


def test_renaming_the_operator_release_while_cas_exists_is_refused() -> None:
    reason = failures(props(), props(operatorChart={"releaseName": "scone-op"}))["operatorRelease"]
    assert "deletes the SCONE CRDs and with them every CAS custom resource" in reason


def test_moving_the_operator_namespace_while_cas_exists_is_refused() -> None:
    assert "operatorNamespace" in failures(props(), props(namespaces={"operator": "elsewhere"}))


def test_renaming_the_cas_is_refused() -> None:
    assert "casName" in failures(props(), props(cas={"name": "cas2"}))


def test_moving_the_operator_without_cas_passes() -> None:
    assert failures(props(skipCas=True), props(skipCas=True, namespaces={"operator": "elsewhere"})) == {}


def test_unknown_values_during_preview_are_tolerated() -> None:
    news = {**props(), "operatorRelease": UNKNOWN, "casName": UNKNOWN}
    assert failures(props(), news) == {}


def test_diff_reports_a_change_only_when_an_input_changed() -> None:
    provider = StackGuardProvider()
    assert provider.diff("id", props(), props()).changes is False
    assert provider.diff("id", props(), props(serviceVersion="5.8.0-rc.19")).changes is True
