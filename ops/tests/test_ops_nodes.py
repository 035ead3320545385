"""Node classification: which nodes can take the CAS (pure, over node JSON)."""

from __future__ import annotations

from ops_fixtures import REG, node, two_zones
from scone_ops.nodes import capable_nodes, target_problems


def test_only_the_other_registered_sgx_node_of_the_cas_zone_can_take_cas() -> None:
    nodes = two_zones()
    report = capable_nodes(nodes, REG, "sgx-a1")
    assert report.zone == "zone-a"
    assert [n.name for n in report.nodes] == ["plain-a1", "sgx-a1", "sgx-a2"]  # zone-b left out
    assert [n.name for n in report.candidates] == ["sgx-a2"]
    assert report.node("sgx-a1") is not None and report.node("sgx-a1").hosts_cas  # type: ignore[union-attr]
    assert "1 other node(s) in zone zone-a can take CAS now: sgx-a2" in report.verdict()


def test_plain_node_lists_every_missing_label_and_registration() -> None:
    nodes = two_zones()
    plain = capable_nodes(nodes, REG, "sgx-a1").node("plain-a1")
    assert plain is not None and not plain.can_take_cas
    text = "; ".join(plain.problems)
    for needed in (REG, "las.scontain.com/capable", "las.scontain.com/ok", "sgx.intel.com/capable"):
        assert needed in text


def test_cordoned_unregistered_notready_or_unlabelled_nodes_cannot_take_cas() -> None:
    for other, expected in ((node("x2", "z", cordoned=True), "cordoned"),
                            (node("x2", "z", registered=False), "not registered"),
                            (node("x2", "z", ready=False), "not Ready"),
                            (node("x2", "z", drop=("las.scontain.com/ok",)), "las.scontain.com/ok")):
        report = capable_nodes([node("x1", "z"), other], REG, "x1")
        assert report.candidates == []
        assert any(expected in p for p in report.nodes[1].problems), report.nodes[1].problems
        assert report.verdict().startswith("NO other node in zone z")


def test_registration_for_another_cas_or_version_does_not_count() -> None:
    other_version = node("x2", "z", registered=False)
    other_version["metadata"]["labels"]["cas-registered-cas.osc-scone-system-5.7.0"] = "true"
    assert capable_nodes([node("x1", "z"), other_version], REG, "x1").candidates == []


def test_target_in_other_zone_is_refused_with_both_zones_named() -> None:
    nodes = two_zones()
    problems = target_problems(nodes, REG, "sgx-a1", "sgx-b1")
    assert problems == ["is in zone zone-b, CAS and its volume are in zone zone-a"]


def test_target_checks_existence_and_the_current_node() -> None:
    nodes = two_zones()
    assert target_problems(nodes, REG, "sgx-a1", "nope") == ["node nope does not exist"]
    assert target_problems(nodes, REG, "sgx-a1", "sgx-a1") == ["CAS already runs on sgx-a1"]
    assert target_problems(nodes, REG, "sgx-a1", "sgx-a2") == []


def test_cas_without_a_node_has_no_zone_and_says_so() -> None:
    nodes = two_zones()
    report = capable_nodes(nodes, REG, None)
    assert report.zone is None and report.nodes == () and "not scheduled" in report.verdict()


def test_json_form_carries_verdict_candidates_and_per_node_facts() -> None:
    nodes = two_zones()
    data = capable_nodes(nodes, REG, "sgx-b2").as_dict()
    assert data["zone"] == "zone-b" and data["candidates"] == ["sgx-b1"]
    b1 = next(n for n in data["nodes"] if n["name"] == "sgx-b1")
    assert b1["registered"] and b1["schedulable"] and b1["can_take_cas"] and b1["sgx.intel.com/capable"]
