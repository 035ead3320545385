"""CAS placement: at least cas.minCapableNodesInZone nodes in the CAS's zone can take the CAS over.

The check reads the CAS, its pod and volume and the nodes while the program is evaluated
(preview included) and fails a Managed stack's preview when too few nodes could host the CAS.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.live_cluster import CasFacts, CasPod, Node
from components.names import registration_label
from components.placement import PlacementTarget, check_placement
from tests.program.conftest import Evaluate
from tests.program.fake_cluster import NAMESPACE, FakeClusterView, bare_sgx_cluster, running_cas, sgx_node

TARGET = PlacementTarget("cas", NAMESPACE, "5.8.0", {}, 2)
LABEL = "cas-registered-cas.osc-scone-system-5.8.0"


def test_registration_label_has_the_documented_shape() -> None:
    assert registration_label("cas", "osc-scone-system", "5.8.0") == LABEL


def test_two_registered_capable_schedulable_nodes_in_the_cas_zone_pass() -> None:
    report = check_placement(running_cas(), TARGET)
    assert report.problem is None
    assert (report.zone, report.node, report.capable) == ("zone-a", "sgx-a1", ("sgx-a1", "sgx-a2"))
    assert "zone 'zone-a'" in report.summary() and "sgx-a1, sgx-a2" in report.summary()


def test_a_cordoned_node_does_not_count_and_the_message_names_zone_nodes_and_the_fix() -> None:
    report = check_placement(running_cas(cordoned=("sgx-a2",)), TARGET)
    assert report.problem is not None
    for part in ("zone 'zone-a'", "node 'sgx-a1'", "only 1 node(s)", "(sgx-a1)", "at least 2", LABEL, "warn"):
        assert part in report.problem, part


def test_a_node_without_the_registration_label_does_not_count() -> None:
    view = running_cas()
    view.node_list[1] = sgx_node("sgx-a2", "zone-a")  # capable, but not registered for this CAS
    assert check_placement(view, TARGET).capable == ("sgx-a1",)


def test_registration_for_another_version_or_cas_does_not_count() -> None:
    view = running_cas()
    view.node_list[1] = sgx_node("sgx-a2", "zone-a", registered_for="cas-registered-cas.osc-scone-system-5.7.0")
    assert check_placement(view, TARGET).capable == ("sgx-a1",)


def test_the_registration_label_follows_the_version_the_cas_runs_not_the_stacks() -> None:
    report = check_placement(running_cas(), replace(TARGET, version="5.9.0"))
    assert report.registration == LABEL and report.problem is None


def test_nodes_in_another_zone_do_not_count() -> None:
    assert check_placement(running_cas(zone_nodes=1), TARGET).capable == ("sgx-a1",)


@pytest.mark.parametrize("missing", ["las.scontain.com/capable", "las.scontain.com/ok", "sgx.intel.com/capable"])
def test_each_capability_label_is_required(missing: str) -> None:
    view = running_cas()
    node = view.node_list[1]
    view.node_list[1] = Node(node.name, {k: v for k, v in node.labels.items() if k != missing})
    assert check_placement(view, TARGET).capable == ("sgx-a1",)


def test_the_service_node_selector_is_required() -> None:
    view = running_cas()
    assert check_placement(view, replace(TARGET, selector={"pool": "cas"})).capable == ()


def test_an_unprovisioned_cas_needs_no_registration_yet() -> None:
    view = running_cas(provisioned=False)
    view.node_list[1] = sgx_node("sgx-a2", "zone-a")
    report = check_placement(view, TARGET)
    assert report.problem is None and report.registration is None
    assert "not provisioned yet" in report.summary()


def test_a_cas_whose_pod_is_not_scheduled_is_judged_by_its_volume_zone() -> None:
    view = running_cas(zone_nodes=1)
    view.pods[("cas", NAMESPACE)] = CasPod(node=None, ready=False)
    report = check_placement(view, TARGET)
    assert report.zone == "zone-a" and report.problem is not None


def test_a_cas_not_placed_yet_passes_when_one_zone_could_host_it_safely() -> None:
    view = bare_sgx_cluster()
    view.node_list.pop(0)  # zone-a keeps one node, zone-b two
    report = check_placement(view, TARGET)
    assert report.problem is None and report.zone is None
    assert "zone-a: 1, zone-b: 2" in report.summary()


def test_a_cas_not_placed_yet_fails_when_no_zone_could_host_it_safely() -> None:
    view = FakeClusterView(node_list=[sgx_node("sgx-a1", "zone-a"), sgx_node("sgx-b1", "zone-b")])
    report = check_placement(view, TARGET)
    assert report.problem is not None and "no zone has 2 nodes" in report.problem


def test_min_capable_nodes_in_zone_is_honoured() -> None:
    assert check_placement(running_cas(zone_nodes=2), replace(TARGET, minimum=3)).problem is not None
    assert check_placement(running_cas(zone_nodes=3), replace(TARGET, minimum=3)).problem is None


def test_too_few_nodes_fail_the_preview_of_a_managed_stack(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", preview=True, cluster=running_cas(cordoned=("sgx-a2",)))
    assert evaluation.error is not None
    assert "zone 'zone-a'" in evaluation.error and "scone:cas.minCapableNodesInZone" in evaluation.error
    assert evaluation.registrations == []


def test_enough_nodes_let_the_preview_pass_and_report_the_placement(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", preview=True, cluster=running_cas())
    assert evaluation.error is None
    assert any("CAS placement" in line and "sgx-a1, sgx-a2" in line for line in evaluation.logs), evaluation.logs


def test_warn_turns_the_failure_into_a_warning(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack(
        "dev", preview=True, cluster=running_cas(cordoned=("sgx-a2",)), cas={"placementCheck": "warn"}
    )
    assert evaluation.error is None
    assert any(line.startswith("WARNING") and "only 1 node(s)" in line for line in evaluation.logs), evaluation.logs


def test_an_unmanaged_stack_only_warns(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", cluster=running_cas(cordoned=("sgx-a2",)), managementState="Unmanaged")
    assert evaluation.error is None
    assert any("only 1 node(s)" in line for line in evaluation.logs)


def test_off_skips_the_check(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", cluster=running_cas(cordoned=("sgx-a2",)), cas={"placementCheck": "off"})
    assert evaluation.error is None
    assert not any("CAS placement" in line for line in evaluation.logs)


def test_a_stack_without_cas_is_not_checked(evaluate_stack: Evaluate) -> None:
    assert evaluate_stack("edge", cluster=FakeClusterView()).error is None


def test_unreadable_nodes_are_reported_not_guessed(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", cluster=FakeClusterView(unreachable=True))
    assert evaluation.error is None
    assert any("CAS placement not checked" in line for line in evaluation.logs)


def test_min_capable_nodes_below_one_is_a_config_error_naming_the_key(evaluate_stack: Evaluate) -> None:
    error = evaluate_stack("dev", cluster=running_cas(), cas={"minCapableNodesInZone": 0}).error
    assert error is not None and "scone:cas.minCapableNodesInZone" in error and "placementCheck" in error


def test_placement_check_accepts_only_fail_warn_off(evaluate_stack: Evaluate) -> None:
    error = evaluate_stack("dev", cluster=running_cas(), cas={"placementCheck": "ignore"}).error
    assert error is not None and "scone:cas.placementCheck" in error


def test_the_stack_cas_facts_come_from_the_cluster_read() -> None:
    view = running_cas()
    assert view.cas("cas", NAMESPACE) == CasFacts(version="5.8.0", provisioned=True)
