"""CAS placement safety: enough nodes in the CAS's zone that could take the CAS over.

Why: the CAS database is sealed to the SGX key of the node it runs on; only nodes the CAS's
backup controller registered (label ``cas-registered-<cas>.<namespace>-<version>=true``) can
open it, and only nodes in the zone of its volume can mount it. With one such node, losing
that node loses the CAS database. A node can take CAS over when it is in the CAS's zone
(``topology.kubernetes.io/zone``), schedulable, registered, labelled
``las.scontain.com/capable``, ``las.scontain.com/ok`` and ``sgx.intel.com/capable`` = ``true``,
and matches ``serviceNodeSelector``. The CAS's own node counts: the point is two nodes.

Registration only exists once the owner has provisioned the CAS (provisioning enables the
backup controller), so an unprovisioned CAS is checked without it. A CAS not placed yet
(first install: its volume binds when the scheduler picks a node) is checked against every
zone: at least one zone must be able to host it safely.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from components.live_cluster import ClusterView, Node
from components.names import CAPABLE_LABELS, registration_label


def can_host_cas(node: Node, selector: Mapping[str, str], registration: str | None) -> bool:
    """True when ``node`` may run the CAS: schedulable, capable, matching ``selector``, registered if asked."""
    wanted = {**CAPABLE_LABELS, **selector, **({registration: "true"} if registration else {})}
    return not node.unschedulable and all(node.labels.get(key) == value for key, value in wanted.items())


@dataclass(frozen=True)
class PlacementReport:
    """What the check found; ``problem`` is set when fewer than the minimum nodes can host the CAS."""

    cas: str
    namespace: str
    zone: str | None
    node: str | None
    capable: tuple[str, ...]
    minimum: int
    registration: str | None
    notes: tuple[str, ...] = field(default_factory=tuple)
    problem: str | None = None

    def summary(self) -> str:
        """One line for the preview: zone, node and the nodes that could host the CAS."""
        where = f"zone '{self.zone}'" if self.zone else "no zone yet"
        on = f", running on node '{self.node}'" if self.node else ""
        which = "capable, registered" if self.registration else "capable"
        nodes = ", ".join(self.capable) or "none"
        text = f"CAS placement: CAS '{self.cas}' in namespace '{self.namespace}': {where}{on}; {which} nodes"
        text += f" there: {nodes} ({len(self.capable)} of at least {self.minimum})"
        return " ".join([text, *self.notes])


@dataclass(frozen=True)
class PlacementTarget:
    """The CAS to check and the rule: its name, namespace, version, node selector and minimum."""

    cas: str
    namespace: str
    version: str
    selector: Mapping[str, str]
    minimum: int


def _what_to_do(zone: str | None, registration: str | None, minimum: int) -> str:
    where = f"in zone '{zone}'" if zone else "in one zone"
    steps = (
        f"add SGX nodes {where} (or uncordon one) until at least {minimum} are schedulable and labelled"
        f" {', '.join(f'{k}=true' for k in CAPABLE_LABELS)}"
    )
    if registration:
        steps += f" and registered by the CAS backup controller ({registration}=true; it registers new nodes itself)"
    return (
        f"{steps}; check with `kubectl get nodes -L topology.kubernetes.io/zone`. While the cluster is being built"
        " up, `pulumi config set --path cas.placementCheck warn` turns this into a warning."
    )


def check_placement(view: ClusterView, target: PlacementTarget) -> PlacementReport:
    """Read the CAS, its pod, its volume and the nodes (read-only) and judge the placement.

    Raises ``ClusterError`` when the cluster cannot be read.
    """
    cas, namespace, minimum = target.cas, target.namespace, target.minimum
    facts = view.cas(cas, namespace)
    registration = None
    notes: list[str] = []
    if facts is not None and facts.provisioned:
        registration = registration_label(cas, namespace, facts.version or target.version)
    elif facts is not None:
        notes.append("(CAS not provisioned yet: node registration is not required until it is.)")
    pod = view.cas_pod(cas, namespace) if facts is not None else None
    nodes = view.nodes()
    by_name = {node.name: node for node in nodes}
    node = pod.node if pod else None
    zone = by_name[node].zone if node in by_name else None
    if zone is None and facts is not None:
        zone = view.volume_zone(cas, namespace)
    if zone is None:
        return _first_placement(target, nodes, registration, notes)
    capable = tuple(sorted(n.name for n in nodes if n.zone == zone and can_host_cas(n, target.selector, registration)))
    report = PlacementReport(cas, namespace, zone, node, capable, minimum, registration, tuple(notes))
    if len(capable) >= minimum:
        return report
    found = ", ".join(capable) or "none"
    problem = (
        f"CAS '{cas}' in namespace '{namespace}' runs in zone '{zone}'"
        + (f" on node '{node}'" if node else "")
        + f", but only {len(capable)} node(s) there can take it over ({found}); SCONE needs at least {minimum}"
        " (scone:cas.minCapableNodesInZone): its database is sealed to registered nodes and its volume stays in"
        " its zone, so losing that node loses the CAS database. To fix: " + _what_to_do(zone, registration, minimum)
    )
    return PlacementReport(cas, namespace, zone, node, capable, minimum, registration, tuple(notes), problem)


def _first_placement(
    target: PlacementTarget, nodes: list[Node], registration: str | None, notes: list[str]
) -> PlacementReport:
    """No node and no bound volume yet: the CAS will land in some zone; at least one must be safe."""
    cas, namespace, minimum = target.cas, target.namespace, target.minimum
    per_zone: dict[str, list[str]] = {}
    for node in nodes:
        if node.zone and can_host_cas(node, target.selector, registration):
            per_zone.setdefault(node.zone, []).append(node.name)
    safe = sorted(zone for zone, names in per_zone.items() if len(names) >= minimum)
    counts = ", ".join(f"{zone}: {len(names)}" for zone, names in sorted(per_zone.items())) or "no capable node"
    notes = [
        *notes,
        f"(CAS has no node or bound volume yet; its zone is chosen when its volume binds. Per zone: {counts}.)",
    ]
    capable = tuple(sorted(name for zone in safe for name in per_zone[zone]))
    if safe:
        return PlacementReport(cas, namespace, None, None, capable, minimum, registration, tuple(notes))
    problem = (
        f"CAS '{cas}' in namespace '{namespace}' is not placed yet, and no zone has {minimum} nodes that can host it"
        f" ({counts}); SCONE needs at least {minimum} (scone:cas.minCapableNodesInZone) in the zone its volume"
        " binds to, or losing its node loses the CAS database. To fix: " + _what_to_do(None, registration, minimum)
    )
    return PlacementReport(cas, namespace, None, None, capable, minimum, registration, tuple(notes), problem)
