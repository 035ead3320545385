"""What a rolling node upgrade (a minor Kubernetes upgrade, a resize) needs, as pure checks.

A rolling upgrade replaces nodes one by one and adds the new node before the old one goes, so the
node subnet must have room for one more node than run now (a /28 holds 16 nodes: run at most 15).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


@dataclass(frozen=True)
class SubnetHeadroom:
    """Nodes the subnet can hold against the nodes running plus the surge."""

    cidr: str
    capacity: int
    nodes: int
    surge: int

    @property
    def ok(self) -> bool:
        return self.nodes + self.surge <= self.capacity

    def message(self) -> str:
        if self.ok:
            return (f"subnet {self.cidr} holds {self.capacity} nodes; {self.nodes} run, +{self.surge} during the"
                    " rolling update fits")
        return (f"subnet {self.cidr} holds {self.capacity} nodes but {self.nodes} run and the rolling update adds"
                f" {self.surge}: scale down to at most {self.capacity - self.surge} nodes first")


def subnet_headroom(cidr: str, nodes: int, surge: int = 1) -> SubnetHeadroom:
    """Capacity as the guide counts it (2^(32-prefix) addresses, e.g. 16 for a /28); ValueError if bad."""
    network = ipaddress.ip_network(cidr, strict=False)
    return SubnetHeadroom(cidr=str(network), capacity=network.num_addresses, nodes=nodes, surge=surge)


def headroom_reminder(nodes: int) -> str:
    """The reminder printed without --subnet-cidr."""
    return (f"{nodes} node(s) run now. Before a rolling upgrade make sure the node subnet's CIDR allows"
            f" {nodes + 1} nodes (the update adds one before it removes one; a /28 allows 16, so at most 15 may"
            " run); scale down first if needed. Pass --subnet-cidr to have this checked.")
