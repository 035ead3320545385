"""CAS placement on the kwok nodes: two registered, capable nodes in the CAS's zone pass; one fails.

Real engine, real kube-apiserver, the fake SGX nodes of two zones (two per zone). The CAS is
provisioned through the fake kubectl-provision, so its backup controller (simulated) registers
the nodes with `cas-registered-cas.osc-scone-system-<version>=true`. Every preview reads the
nodes with kubectl and prints the CAS's zone, node and the nodes that could take it over;
cordoning the other node of the zone makes the next preview fail with the zone, the nodes found
and what to do, and `cas.placementCheck: warn` lets it pass with the same text as a warning.
Tests run in order against one cluster and one stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.tools import Tools

NS = "osc-scone-system"
ZONE_LABEL = "topology.kubernetes.io/zone"
REGISTERED = "cas-registered-cas.osc-scone-system-5.8.0"


@pytest.fixture(scope="module")
def owner_stack(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalSconeStack]:
    work = tmp_path_factory.mktemp("placement")
    stack = LocalSconeStack(e2e_tools, cluster, work, overrides={"scone:provisioning": owner_provisioning(work)})
    ws = stack.create()
    use_fake_plugin(ws, work)
    yield stack


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _placement(cluster: LocalCluster) -> tuple[str, str, str]:
    """(zone, CAS node, the other SGX node of that zone)."""
    node = cluster.kubectl_json("get", "pod", "cas-0", "-n", NS)["spec"]["nodeName"]
    zone = cluster.kubectl_json("get", "node", node)["metadata"]["labels"][ZONE_LABEL]
    nodes = cluster.kubectl_json("get", "nodes", "-l", f"{ZONE_LABEL}={zone},sgx.intel.com/capable=true")
    other = next(n["metadata"]["name"] for n in nodes["items"] if n["metadata"]["name"] != node)
    return zone, node, other


def _labels(cluster: LocalCluster, node: str) -> dict[str, Any]:
    labels: dict[str, Any] = cluster.kubectl_json("get", "node", node)["metadata"]["labels"]
    return labels


@pytest.fixture(scope="module")
def provisioned(owner_stack: LocalSconeStack, cluster: LocalCluster) -> tuple[str, str, str]:
    """CAS provisioned and HEALTHY, both SGX nodes of its zone registered; (zone, CAS node, other node)."""
    up = _ws(owner_stack).run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-8000:] + "\n" + cluster.dump_logs(8)

    def healthy() -> bool:
        status = cluster.kubectl_json("get", "cas", "cas", "-n", NS).get("status") or {}
        return status.get("phase") == "HEALTHY"

    wait_until("CAS provisioned and HEALTHY", healthy, cluster.children, attempts=600)
    zone, node, other = _placement(cluster)

    def registered() -> bool:
        return all(_labels(cluster, name).get(REGISTERED) == "true" for name in (node, other))

    wait_until(f"{node} and {other} registered", registered, cluster.children, attempts=600)
    return zone, node, other


@pytest.fixture
def other_node_cordoned(cluster: LocalCluster, provisioned: tuple[str, str, str]) -> Iterator[tuple[str, str, str]]:
    """The zone's other SGX node cordoned for the test, uncordoned after it."""
    cluster.kubectl("cordon", provisioned[2])
    try:
        yield provisioned
    finally:
        cluster.kubectl("uncordon", provisioned[2])


def test_provisioned_cas_gets_its_zone_nodes_registered(
    cluster: LocalCluster, provisioned: tuple[str, str, str]
) -> None:
    _, node, other = provisioned
    assert all(_labels(cluster, name).get(REGISTERED) == "true" for name in (node, other))


def test_preview_reports_the_zone_the_node_and_two_capable_nodes(
    owner_stack: LocalSconeStack, provisioned: tuple[str, str, str]
) -> None:
    zone, node, other = provisioned
    preview = _ws(owner_stack).run("preview")
    assert preview.returncode == 0, preview.output[-6000:]
    assert f"zone '{zone}', running on node '{node}'" in preview.output, preview.output[-4000:]
    assert ", ".join(sorted((node, other))) in preview.output
    assert "(2 of at least 2)" in preview.output


def test_cordoning_the_other_node_fails_the_next_preview_with_zone_nodes_and_what_to_do(
    owner_stack: LocalSconeStack, other_node_cordoned: tuple[str, str, str]
) -> None:
    zone, node, _ = other_node_cordoned
    preview = _ws(owner_stack).run("preview")
    assert preview.returncode != 0, preview.output[-4000:]
    text = preview.output
    for part in (f"runs in zone '{zone}' on node '{node}'", f"only 1 node(s) there can take it over ({node})",
                 "scone:cas.minCapableNodesInZone", "cas.placementCheck warn", REGISTERED):
        assert part in text, f"{part!r} missing from:\n{text[-4000:]}"


def test_placement_check_warn_lets_the_preview_pass_with_the_warning(
    owner_stack: LocalSconeStack, other_node_cordoned: tuple[str, str, str]
) -> None:
    _, node, _ = other_node_cordoned
    original = dict(owner_stack.overrides)
    owner_stack.reconfigure({**original, "scone:cas": {"placementCheck": "warn"}})
    try:
        preview = _ws(owner_stack).run("preview")
    finally:
        owner_stack.reconfigure(original)
    assert preview.returncode == 0, preview.output[-6000:]
    assert f"only 1 node(s) there can take it over ({node})" in preview.output
    assert "placementCheck is warn" in preview.output


def test_with_the_node_back_the_preview_passes_again(
    owner_stack: LocalSconeStack, cluster: LocalCluster, provisioned: tuple[str, str, str]
) -> None:
    cluster.kubectl("cordon", provisioned[2])
    cluster.kubectl("uncordon", provisioned[2])
    preview = _ws(owner_stack).run("preview")
    assert preview.returncode == 0, preview.output[-6000:]
    assert "(2 of at least 2)" in preview.output
