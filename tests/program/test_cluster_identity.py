"""One stack, one cluster: the stack guard records the kube-system UID and refuses a preview against another."""

from __future__ import annotations

from components.cluster_identity import identity_refusal
from components.guard_providers import StackGuardProvider
from tests.program.conftest import Evaluate
from tests.program.fake_cluster import FakeClusterView, bare_sgx_cluster

DEPLOYED = "11111111-2222-4333-8444-555555555555"
OTHER = "99999999-8888-4777-8666-555555555555"
GUARD = "pulumi-python:dynamic/scone:StackGuard"
SHAPE = {"hasCas": True, "casName": "cas", "servicesNamespace": "osc-scone-system"}


def _cluster(uid: str) -> FakeClusterView:
    """A first install's cluster (capable nodes, no CAS) whose kube-system has ``uid``."""
    cluster = bare_sgx_cluster()
    cluster.uid = uid
    return cluster


def _olds(uid: str | None = DEPLOYED) -> dict[str, object]:
    return {**SHAPE, "stack": "prod", **({"clusterIdentity": uid} if uid else {})}


def _news(uid: str | None, repin: str | None = None) -> dict[str, object]:
    return {**SHAPE, "stack": "prod", "clusterIdentity": uid, **({"clusterRepin": repin} if repin else {})}


def test_another_cluster_is_refused_naming_the_stack_both_uids_and_how_to_re_pin() -> None:
    refusal = identity_refusal(_olds(), _news(OTHER))
    assert refusal is not None
    assert refusal.startswith(
        f"this is stack prod; the kube context points at a cluster (kube-system uid {OTHER}) that is not the one"
        f" this stack was deployed to (uid {DEPLOYED}). Nothing was changed."
    )
    assert f"pulumi config set clusterIdentity {OTHER} --stack prod" in refusal


def test_the_recorded_cluster_passes() -> None:
    assert identity_refusal(_olds(), _news(DEPLOYED)) is None


def test_a_stack_that_recorded_no_identity_records_it_without_refusing() -> None:
    assert identity_refusal(_olds(None), _news(OTHER)) is None
    assert identity_refusal({}, _news(OTHER)) is None


def test_the_explicit_re_pin_to_the_live_cluster_lets_the_stack_move() -> None:
    assert identity_refusal(_olds(), _news(OTHER, repin=OTHER)) is None


def test_a_re_pin_that_names_yet_another_cluster_is_refused() -> None:
    refusal = identity_refusal(_olds(), _news(OTHER, repin=DEPLOYED))
    assert refusal is not None and f"scone:clusterIdentity is {DEPLOYED}" in refusal and OTHER in refusal


def test_an_unreadable_identity_is_refused_once_one_is_recorded() -> None:
    refusal = identity_refusal(_olds(), _news(None))
    assert refusal is not None and DEPLOYED in refusal and "could not be read" in refusal


def test_the_stack_guard_check_fails_first_with_the_refusal() -> None:
    result = StackGuardProvider().check(_olds(), _news(OTHER))
    assert [failure.property for failure in result.failures] == ["clusterIdentity"]
    assert OTHER in result.failures[0].reason and DEPLOYED in result.failures[0].reason


def test_the_program_hands_the_live_uid_and_stack_to_the_guard(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", preview=True, cluster=_cluster(DEPLOYED))
    inputs = evaluation.one(GUARD).inputs
    assert (inputs["clusterIdentity"], inputs["stack"]) == (DEPLOYED, "dev")
    assert "clusterRepin" not in inputs
    destroy = evaluation.one("pulumi-python:dynamic/scone:DestroyGuard").inputs
    assert (destroy["clusterIdentity"], destroy["stack"]) == (DEPLOYED, "dev")


def test_the_re_pin_setting_reaches_the_guard(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", preview=True, cluster=_cluster(OTHER), clusterIdentity=OTHER)
    assert evaluation.one(GUARD).inputs["clusterRepin"] == OTHER


def test_an_unreachable_cluster_is_warned_about_and_leaves_the_guard_to_decide(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack(
        "dev", preview=True, cluster=FakeClusterView(unreachable=True), cas={"placementCheck": "warn"}
    )
    assert evaluation.error is None, evaluation.error
    inputs = evaluation.one(GUARD).inputs
    assert inputs.get("clusterIdentity") is None and inputs["stack"] == "dev"
    assert any("identity of the cluster" in line and "could not be read" in line for line in evaluation.logs)


def test_the_credential_free_plan_declares_no_identity(evaluate_stack: Evaluate) -> None:
    inputs = evaluate_stack("dev", preview=True).one(GUARD).inputs
    assert "clusterIdentity" not in inputs and "stack" not in inputs
