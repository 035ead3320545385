"""scone-ops on the e2e control plane: the capable-node query, moving CAS within its zone, refusals
that change nothing, --dry-run, draining the CAS node, and SIGTERM in the middle of a move.

Real: kube-apiserver, controller-manager, scheduler (CAS rescheduling, its PDB, drain's evictions),
kubectl and scone-ops as a subprocess. Simulated: the nodes (kwok) and the operator's status.
"""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Iterator

import pytest

from e2e.harness.cluster import KUBE_VERSION, LocalCluster
from e2e.harness.fake_nodes import FakeNode
from e2e.tests.ops_cluster import REG, cas_pod, install_healthy_cas, ops, ops_argv, snapshot, steady, wait

SKIP = "--skip-backup-check"


@pytest.fixture(scope="module")
def cas_cluster(cluster: LocalCluster) -> LocalCluster:
    install_healthy_cas(cluster)
    return cluster


@pytest.fixture()
def where(cas_cluster: LocalCluster) -> Iterator[dict[str, str]]:
    """Each test starts from a HEALTHY CAS on schedulable, registered nodes, and leaves it so."""
    yield steady(cas_cluster)
    steady(cas_cluster)


def test_cas_nodes_shows_the_cas_zone_and_its_one_other_capable_node(cas_cluster: LocalCluster,
                                                                    where: dict[str, str]) -> None:
    done = ops(cas_cluster, "cas", "nodes", "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cas_node"] == where["node"] and report["zone"] == where["zone"]
    assert report["candidates"] == [where["partner"]]
    assert report["registration_label"] == REG
    assert where["other_zone_node"] not in {n["name"] for n in report["nodes"]}
    table = ops(cas_cluster, "cas", "nodes")
    assert f"1 other node(s) in zone {where['zone']} can take CAS now: {where['partner']}" in table.stdout


def test_cas_move_moves_cas_within_its_zone_and_uncordons(cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    done = ops(cas_cluster, "cas", "move", SKIP, "--timeout", "600")
    assert done.returncode == 0, done.stderr + done.stdout
    pod = cas_pod(cas_cluster)
    assert pod is not None and pod["spec"]["nodeName"] == where["partner"]
    assert not any(n[0] for n in snapshot(cas_cluster)["nodes"].values()), "a node was left cordoned"
    assert f"is HEALTHY on {where['partner']} (was {where['node']})" in done.stdout
    assert "the backup check is skipped" in done.stderr


def test_cas_move_refuses_without_another_capable_node_and_changes_nothing(
        cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    # The partner loses LAS's ok label (its registration label would come straight back: the
    # simulated backup controller re-registers every capable node of the zone).
    cas_cluster.kubectl("label", "node", where["partner"], "las.scontain.com/ok-")
    try:
        before = snapshot(cas_cluster)
        nodes = ops(cas_cluster, "cas", "nodes")
        assert nodes.returncode == 6 and f"NO other node in zone {where['zone']}" in nodes.stdout
        done = ops(cas_cluster, "cas", "move", SKIP)
        assert done.returncode == 6
        assert f"no other node in zone {where['zone']} can take CAS" in done.stderr
        assert "lacks las.scontain.com/ok=true" in done.stderr and "add an SGX node" in done.stderr
        assert snapshot(cas_cluster) == before
    finally:
        cas_cluster.kubectl("label", "node", where["partner"], "las.scontain.com/ok=true", "--overwrite")


def test_cas_move_to_a_node_of_the_other_zone_refuses(cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    before = snapshot(cas_cluster)
    done = ops(cas_cluster, "cas", "move", "--to", where["other_zone_node"], SKIP, "-o", "json")
    assert done.returncode == 6
    error = json.loads(done.stdout)
    assert error["kind"] == "refused" and f"CAS and its volume are in zone {where['zone']}" in error["error"]
    assert where["partner"] in error["next_step"]
    assert snapshot(cas_cluster) == before


def test_cas_move_without_a_backup_set_refuses_naming_the_secret_and_the_skip_flag(
        cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    before = snapshot(cas_cluster)
    done = ops(cas_cluster, "cas", "move")
    assert done.returncode == 7
    assert "s3-bucket-scone-cas-db-backupper does not exist" in done.stderr and SKIP in done.stderr
    assert snapshot(cas_cluster) == before


def test_dry_run_prints_every_step_and_changes_nothing(cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    before = snapshot(cas_cluster)
    move = ops(cas_cluster, "cas", "move", SKIP, "--dry-run", "-o", "json")
    assert move.returncode == 0, move.stderr
    plan = json.loads(move.stdout)
    assert plan["dry_run"] and [s["action"] for s in plan["steps"]] == ["cordon", "delete-pod", "wait-cas",
                                                                      "uncordon"]
    assert plan["steps"][0]["command"][-2:] == ["cordon", where["node"]]
    drain = ops(cas_cluster, "node", "drain", where["node"], SKIP, "--dry-run")
    assert drain.returncode == 0, drain.stderr
    assert "DRY RUN, nothing changed" in drain.stdout and "--delete-emptydir-data" in drain.stdout
    assert snapshot(cas_cluster) == before


def test_node_drain_of_the_cas_node_moves_cas_first_then_drains(cas_cluster: LocalCluster,
                                                                where: dict[str, str]) -> None:
    done = ops(cas_cluster, "node", "drain", where["node"], SKIP, "--timeout", "600")
    assert done.returncode == 0, done.stderr + done.stdout
    pod = cas_pod(cas_cluster)
    assert pod is not None and pod["spec"]["nodeName"] == where["partner"]
    assert snapshot(cas_cluster)["nodes"][where["node"]][0] is True  # stays cordoned
    progress = done.stderr
    assert progress.index("delete pod cas-0") < progress.index(f"drain {where['node']}")
    left = [p for p in cas_cluster.kubectl_json("get", "pods", "-A")["items"]
            if p["spec"].get("nodeName") == where["node"]]
    assert left == []


def test_sigterm_during_a_move_uncordons_and_states_where_cas_is(cas_cluster: LocalCluster,
                                                                 where: dict[str, str]) -> None:
    proc = subprocess.Popen(ops_argv(cas_cluster, "cas", "move", SKIP), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "wait up to" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait() == 130, "".join(seen) + rest
    assert "stopped by SIGTERM" in rest and f"uncordoned again: {where['node']}" in rest
    assert not any(n[0] for n in snapshot(cas_cluster)["nodes"].values())


def _enclaves(cluster: LocalCluster, node: str, count: str) -> None:
    patch = {"status": {"allocatable": {"sgx.intel.com/enclave": count}, "capacity": {"sgx.intel.com/enclave": count}}}
    cluster.kubectl("patch", "node", node, "--subresource=status", "--type=merge", "-p", json.dumps(patch))


def test_a_move_that_times_out_uncordons_and_cas_comes_back(cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    # The partner passes every label check but has no free SGX enclave: the new pod stays Pending.
    _enclaves(cas_cluster, where["partner"], "0")
    try:
        done = ops(cas_cluster, "cas", "move", SKIP, "--timeout", "30")
    finally:
        _enclaves(cas_cluster, where["partner"], "20")
    assert done.returncode == 8, done.stderr
    assert "was not HEALTHY on another node within 30 s" in done.stderr
    assert f"uncordoned again: {where['node']}" in done.stderr and "kubectl describe pod cas-0" in done.stderr
    assert not any(n[0] for n in snapshot(cas_cluster)["nodes"].values())


def test_preflight_upgrade_checks_cas_mobility_and_subnet_headroom(cas_cluster: LocalCluster,
                                                                   where: dict[str, str]) -> None:
    nodes = len(snapshot(cas_cluster)["nodes"])
    roomy = ops(cas_cluster, "node", "preflight-upgrade", "--subnet-cidr", "10.250.0.0/28", "-o", "json")
    assert roomy.returncode == 0, roomy.stderr
    report = json.loads(roomy.stdout)
    assert report["nodes"] == nodes and report["ok"] is True
    assert {c["check"]: c["ok"] for c in report["checks"]} == {"CAS can move": True, "CAS HEALTHY": True,
                                                                "subnet headroom": True}
    tight = ops(cas_cluster, "node", "preflight-upgrade", "--subnet-cidr", "10.250.0.0/30")
    assert tight.returncode == 6
    assert f"4 nodes but {nodes} run" in tight.stdout and "scale down" in tight.stdout
    reminder = ops(cas_cluster, "node", "preflight-upgrade")
    assert reminder.returncode == 0 and f"{nodes} node(s) run now" in reminder.stdout


def test_node_drain_of_another_node_leaves_cas_alone(cas_cluster: LocalCluster, where: dict[str, str]) -> None:
    before = cas_pod(cas_cluster)
    done = ops(cas_cluster, "node", "drain", where["other_zone_node"], "-o", "json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["cas_moved"] is False and [s["action"] for s in result["steps"]] == ["cordon", "drain"]
    after = cas_pod(cas_cluster)
    assert before is not None and after is not None and after["metadata"]["uid"] == before["metadata"]["uid"]
    assert snapshot(cas_cluster)["nodes"][where["other_zone_node"]][0] is True


def test_node_drain_for_a_stack_without_cas_plans_cordon_and_drain(cas_cluster: LocalCluster,
                                                                  where: dict[str, str]) -> None:
    done = ops(cas_cluster, "node", "drain", where["node"], "--dry-run", "-o", "json", stack=("--stack", "edge"))
    assert done.returncode == 0, done.stderr
    assert [s["action"] for s in json.loads(done.stdout)["steps"]] == ["cordon", "drain"]


def test_cas_move_to_a_chosen_node_steers_past_the_other_candidate(cas_cluster: LocalCluster,
                                                                   where: dict[str, str]) -> None:
    extra = f"sgx-{where['zone']}-extra"
    node = FakeNode(extra, where["zone"], extra_labels={REG: "true"})
    cas_cluster.api().create("/api/v1/nodes", node.manifest(KUBE_VERSION))
    try:
        wait(cas_cluster, f"{extra} Ready", lambda: any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in cas_cluster.kubectl_json("get", "node", extra)["status"].get("conditions", [])))
        done = ops(cas_cluster, "cas", "move", "--to", extra, SKIP, "--timeout", "600", "-o", "json")
        assert done.returncode == 0, done.stderr
        steps = [(s["action"], s["node"]) for s in json.loads(done.stdout)["steps"]]
        assert ("cordon", where["partner"]) in steps and ("uncordon", where["partner"]) in steps
        pod = cas_pod(cas_cluster)
        assert pod is not None and pod["spec"]["nodeName"] == extra
        assert not any(n[0] for n in snapshot(cas_cluster)["nodes"].values())
        back = ops(cas_cluster, "cas", "move", "--to", where["node"], SKIP, "--timeout", "600")
        assert back.returncode == 0, back.stderr
    finally:
        cas_cluster.kubectl("delete", "node", extra, "--wait=false")
