"""The steps `cas move` and `node drain` take (and print under --dry-run), built without a cluster."""

from __future__ import annotations

from pathlib import Path

from scone_ops.kubectl import Kubectl
from scone_ops.plan import DRAIN_FLAGS, drain_plan, move_plan
from scone_ops.stack_target import load_target, stack_file_for

TARGET = load_target(stack_file_for("local"))
KUBECTL = Kubectl(kubeconfig="/k/config", context="prod-admin")


def _actions(plan: object) -> list[tuple[str, str | None]]:
    return [(s.action, s.node) for s in plan.steps]  # type: ignore[attr-defined]


def test_move_cordons_deletes_waits_then_uncordons_the_node_cas_left() -> None:
    plan = move_plan(KUBECTL, TARGET, cas_node="sgx-a1", zone="zone-a", to=None, steer_away=(),
                     keep_cordoned=False, timeout=600)
    assert _actions(plan) == [("cordon", "sgx-a1"), ("delete-pod", None), ("wait-cas", None),
                              ("uncordon", "sgx-a1")]
    delete = plan.steps[1]
    assert delete.args == ("delete", "pod", "cas-0", "-n", "osc-scone-system", "--wait=false")
    # Every printed command carries the kubeconfig and context the run uses.
    for step in plan.steps:
        if step.argv:
            assert step.argv[:5] == ("kubectl", "--kubeconfig", "/k/config", "--context", "prod-admin")
    assert plan.facts["zone"] == "zone-a"


def test_move_to_a_node_cordons_the_other_candidates_for_the_move_only() -> None:
    plan = move_plan(KUBECTL, TARGET, cas_node="n1", zone="z", to="n3", steer_away=("n2",),
                     keep_cordoned=False, timeout=600)
    assert _actions(plan) == [("cordon", "n1"), ("cordon", "n2"), ("delete-pod", None), ("wait-cas", "n3"),
                              ("uncordon", "n2"), ("uncordon", "n1")]
    assert "on n3" in plan.steps[3].description


def test_keep_cordoned_leaves_the_old_node_cordoned() -> None:
    plan = move_plan(KUBECTL, TARGET, cas_node="n1", zone="z", to=None, steer_away=(), keep_cordoned=True,
                     timeout=600)
    assert ("uncordon", "n1") not in _actions(plan)


def test_drain_of_the_cas_node_moves_cas_first_and_keeps_the_node_cordoned() -> None:
    plan = drain_plan(KUBECTL, TARGET, node="n1", cas_node="n1", zone="z", to=None, steer_away=(), timeout=300)
    assert _actions(plan) == [("cordon", "n1"), ("delete-pod", None), ("wait-cas", None), ("drain", "n1")]
    assert plan.steps[-1].args == ("drain", "n1", *DRAIN_FLAGS, "--timeout=300s")
    assert DRAIN_FLAGS == ("--force", "--ignore-daemonsets", "--delete-emptydir-data")
    assert plan.facts["cas_moves_first"] == "true"


def test_drain_of_another_node_only_cordons_and_drains_it() -> None:
    plan = drain_plan(KUBECTL, TARGET, node="n2", cas_node="n1", zone=None, to=None, steer_away=(), timeout=300)
    assert _actions(plan) == [("cordon", "n2"), ("drain", "n2")]


def test_plan_json_lists_each_command_in_order(tmp_path: Path) -> None:
    plan = move_plan(Kubectl(), TARGET, cas_node="n1", zone="z", to=None, steer_away=(), keep_cordoned=False,
                     timeout=600)
    data = plan.as_dict()
    assert [s["command"] for s in data["steps"]] == [
        ["kubectl", "cordon", "n1"],
        ["kubectl", "delete", "pod", "cas-0", "-n", "osc-scone-system", "--wait=false"],
        None,
        ["kubectl", "uncordon", "n1"],
    ]
