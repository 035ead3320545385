"""A ``ClusterView`` over in-memory facts, for evaluating the program under the mock engine.

Why: the program reads the live cluster (CAS CRs, nodes, the CAS pod and volume) while it is
evaluated. Unit tests hand it this view instead of a cluster; ``unreachable`` makes every read
fail as ``KubectlView`` does when the API server cannot be reached. The e2e tier runs the real
``KubectlView`` against a real kube-apiserver.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from components.live_cluster import CasFacts, CasPod, ClusterError, Node
from components.names import CAPABLE_LABELS, registration_label

NAMESPACE = "osc-scone-system"


@dataclass
class FakeClusterView:
    """CAS CRs per namespace, CAS pods and volume zones per (name, namespace), and the nodes."""

    cas_crs: dict[tuple[str, str], CasFacts] = field(default_factory=dict)
    pods: dict[tuple[str, str], CasPod] = field(default_factory=dict)
    volume_zones: dict[tuple[str, str], str] = field(default_factory=dict)
    node_list: list[Node] = field(default_factory=list)
    unreachable: bool = False
    #: The UID of kube-system (the cluster's identity); None: a view without a cluster identity.
    uid: str | None = None

    def _reachable(self) -> None:
        if self.unreachable:
            raise ClusterError("`kubectl get nodes -o json` failed: connection refused (fake)")

    def cas_names(self, namespace: str) -> list[str]:
        self._reachable()
        return sorted(name for name, ns in self.cas_crs if ns == namespace)

    def cas(self, name: str, namespace: str) -> CasFacts | None:
        self._reachable()
        return self.cas_crs.get((name, namespace))

    def cas_pod(self, name: str, namespace: str) -> CasPod | None:
        self._reachable()
        return self.pods.get((name, namespace))

    def volume_zone(self, name: str, namespace: str) -> str | None:
        self._reachable()
        return self.volume_zones.get((name, namespace))

    def nodes(self) -> list[Node]:
        self._reachable()
        return list(self.node_list)

    def identity(self) -> str | None:
        self._reachable()
        return self.uid


def sgx_node(name: str, zone: str, *, registered_for: str | None = None, unschedulable: bool = False) -> Node:
    """A capable SGX node in ``zone``; ``registered_for`` is a registration label to set to true."""
    labels = {"topology.kubernetes.io/zone": zone, **CAPABLE_LABELS}
    if registered_for:
        labels[registered_for] = "true"
    return Node(name=name, labels=labels, unschedulable=unschedulable)


def running_cas(
    zone_nodes: int = 2,
    *,
    name: str = "cas",
    version: str = "5.8.0",
    provisioned: bool = True,
    cordoned: tuple[str, ...] = (),
) -> FakeClusterView:
    """A provisioned CAS on the first of ``zone_nodes`` registered nodes in zone-a; zone-b has two more."""
    label = registration_label(name, NAMESPACE, version)
    nodes = [
        sgx_node(f"sgx-a{i}", "zone-a", registered_for=label, unschedulable=f"sgx-a{i}" in cordoned)
        for i in range(1, zone_nodes + 1)
    ]
    nodes += [sgx_node("sgx-b1", "zone-b", registered_for=label), sgx_node("sgx-b2", "zone-b", registered_for=label)]
    return FakeClusterView(
        cas_crs={(name, NAMESPACE): CasFacts(version=version, provisioned=provisioned)},
        pods={(name, NAMESPACE): CasPod(node="sgx-a1", ready=True)},
        volume_zones={(name, NAMESPACE): "zone-a"},
        node_list=nodes,
    )


def bare_sgx_cluster(node_labels: dict[str, str] | None = None) -> FakeClusterView:
    """No CAS yet; two capable SGX nodes (with ``node_labels``) in each of zone-a and zone-b: a first install."""
    nodes = [sgx_node(name, f"zone-{name[4]}") for name in NODE_NAMES]
    return FakeClusterView(
        node_list=[Node(n.name, {**n.labels, **(node_labels or {})}, n.unschedulable) for n in nodes]
    )


NODE_NAMES = ("sgx-a1", "sgx-a2", "sgx-b1", "sgx-b2")
