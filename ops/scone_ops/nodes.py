"""Which nodes can take over a CAS: a pure function over the nodes' JSON.

A node can take the CAS when it is in the CAS's zone (the database volume cannot follow across
zones), carries this CAS's registration label (the backup controller registered it, so its SGX seal
key opens the database), has the SCONE labels the CAS pods are placed by, is schedulable and Ready.
Kept free of I/O so every rule is tested on plain dictionaries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ZONE_LABEL = "topology.kubernetes.io/zone"
#: The SCONE labels a CAS node needs besides its registration, and what each one means.
SCONE_LABELS: dict[str, str] = {
    "las.scontain.com/capable": "LAS can run there",
    "las.scontain.com/ok": "LAS is healthy there",
    "sgx.intel.com/capable": "SGX is available",
}


@dataclass(frozen=True)
class NodeFacts:
    """One node as the CAS sees it."""

    name: str
    zone: str | None
    registered: bool
    labels: Mapping[str, bool]
    schedulable: bool
    ready: bool
    hosts_cas: bool
    problems: tuple[str, ...] = field(default=())

    @property
    def can_take_cas(self) -> bool:
        """True when CAS could move here now."""
        return not self.problems and not self.hosts_cas

    def as_dict(self) -> dict[str, Any]:
        """For `--output json`."""
        return {"name": self.name, "zone": self.zone, "registered": self.registered,
                **{key: value for key, value in self.labels.items()}, "schedulable": self.schedulable,
                "ready": self.ready, "hosts_cas": self.hosts_cas, "can_take_cas": self.can_take_cas,
                "problems": list(self.problems)}


@dataclass(frozen=True)
class CapableNodes:
    """The answer to "where can this CAS go": its node and zone, and every node of that zone."""

    cas_node: str | None
    zone: str | None
    nodes: tuple[NodeFacts, ...]
    registration_label: str

    @property
    def candidates(self) -> list[NodeFacts]:
        """Nodes other than the CAS's own that can take it now."""
        return [n for n in self.nodes if n.can_take_cas]

    def node(self, name: str) -> NodeFacts | None:
        """A node of the zone by name."""
        return next((n for n in self.nodes if n.name == name), None)

    def verdict(self) -> str:
        """One line for humans."""
        count = len(self.candidates)
        if self.cas_node is None:
            return "CAS has no node (its pod is not scheduled); nothing to move"
        if count == 0:
            return (f"NO other node in zone {self.zone} can take CAS now: add an SGX node in zone {self.zone}"
                    " (the scone-operator labels and registers it), or fix the problems listed")
        names = ", ".join(n.name for n in self.candidates)
        return f"{count} other node(s) in zone {self.zone} can take CAS now: {names}"

    def as_dict(self) -> dict[str, Any]:
        """For `--output json`."""
        return {"cas_node": self.cas_node, "zone": self.zone, "registration_label": self.registration_label,
                "candidates": [n.name for n in self.candidates], "verdict": self.verdict(),
                "nodes": [n.as_dict() for n in self.nodes]}


def _labels(node: Mapping[str, Any]) -> dict[str, str]:
    return dict((node.get("metadata") or {}).get("labels") or {})


def _is_ready(node: Mapping[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def node_facts(node: Mapping[str, Any], registration_label: str, cas_node: str | None,
               cas_zone: str | None) -> NodeFacts:
    """Classify one node for the CAS that runs on `cas_node` in `cas_zone`."""
    name = str((node.get("metadata") or {}).get("name"))
    labels = _labels(node)
    zone = labels.get(ZONE_LABEL)
    registered = labels.get(registration_label) == "true"
    scone = {key: labels.get(key) == "true" for key in SCONE_LABELS}
    schedulable = not (node.get("spec") or {}).get("unschedulable", False)
    ready = _is_ready(node)
    problems: list[str] = []
    if zone is None:
        problems.append(f"has no {ZONE_LABEL} label")
    elif cas_zone is not None and zone != cas_zone:
        problems.append(f"is in zone {zone}, CAS and its volume are in zone {cas_zone}")
    if not registered:
        problems.append(f"is not registered for this CAS (no {registration_label}=true)")
    problems += [f"lacks {key}=true ({meaning})" for key, meaning in SCONE_LABELS.items() if not scone[key]]
    if not schedulable:
        problems.append("is cordoned (spec.unschedulable)")
    if not ready:
        problems.append("is not Ready")
    return NodeFacts(name=name, zone=zone, registered=registered, labels=scone, schedulable=schedulable,
                     ready=ready, hosts_cas=name == cas_node, problems=tuple(problems))


def capable_nodes(nodes: Iterable[Mapping[str, Any]], registration_label: str,
                  cas_node: str | None) -> CapableNodes:
    """The CAS's zone and every node in it, classified; nodes of other zones are left out."""
    by_name = {str((n.get("metadata") or {}).get("name")): n for n in nodes}
    zone = _labels(by_name[cas_node]).get(ZONE_LABEL) if cas_node in by_name else None
    facts = [node_facts(n, registration_label, cas_node, zone) for n in by_name.values()]
    in_zone = tuple(sorted((f for f in facts if zone is not None and f.zone == zone), key=lambda f: f.name))
    return CapableNodes(cas_node=cas_node, zone=zone, nodes=in_zone, registration_label=registration_label)


def target_problems(nodes: Iterable[Mapping[str, Any]], registration_label: str, cas_node: str | None,
                    target: str) -> list[str]:
    """Why CAS cannot move to `target` (empty when it can), across zones too."""
    by_name = {str((n.get("metadata") or {}).get("name")): n for n in nodes}
    if target not in by_name:
        return [f"node {target} does not exist"]
    if target == cas_node:
        return [f"CAS already runs on {target}"]
    zone = _labels(by_name[cas_node]).get(ZONE_LABEL) if cas_node in by_name else None
    return list(node_facts(by_name[target], registration_label, cas_node, zone).problems)
