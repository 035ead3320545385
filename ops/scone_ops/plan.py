"""The steps a changing command takes, built before anything changes.

Why a plan first: `--dry-run` prints exactly these steps (with the kubectl command of each), the
real run executes the same list, and the undo bookkeeping knows which step cordoned what. Pure:
built from names only, tested without a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from scone_ops.kubectl import Kubectl
from scone_ops.stack_target import StackTarget

#: The flags of "Remove a node from service": evict everything, DaemonSet pods stay, emptyDir data goes.
DRAIN_FLAGS = ("--force", "--ignore-daemonsets", "--delete-emptydir-data")


@dataclass(frozen=True)
class Step:
    """One step: what it does, and the command it runs (None for a wait that only reads)."""

    action: str  # cordon | uncordon | delete-pod | wait-cas | drain
    description: str
    args: tuple[str, ...] | None = None  # kubectl's arguments
    argv: tuple[str, ...] | None = None  # the whole command line, as printed
    node: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """For `--output json`."""
        return {"action": self.action, "description": self.description,
                "command": list(self.argv) if self.argv else None, "node": self.node}


@dataclass(frozen=True)
class Plan:
    """Ordered steps plus what the plan assumes (for the dry-run header)."""

    title: str
    steps: tuple[Step, ...]
    facts: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """For `--output json`."""
        return {"plan": self.title, "facts": self.facts, "steps": [s.as_dict() for s in self.steps]}


def _kubectl_step(kubectl: Kubectl, action: str, description: str, args: tuple[str, ...],
                  node: str | None = None) -> Step:
    return Step(action, description, args, tuple(kubectl.argv(*args)), node)


def _cordon(kubectl: Kubectl, node: str, why: str) -> Step:
    return _kubectl_step(kubectl, "cordon", f"cordon {node} ({why})", ("cordon", node), node)


def _uncordon(kubectl: Kubectl, node: str, why: str) -> Step:
    return _kubectl_step(kubectl, "uncordon", f"uncordon {node} ({why})", ("uncordon", node), node)


def move_steps(kubectl: Kubectl, target: StackTarget, *, cas_node: str, zone: str, to: str | None,
               steer_away: Sequence[str], keep_cordoned: bool, timeout: int) -> list[Step]:
    """The "Move CAS to another node" runbook: cordon, delete the pod, wait, uncordon.

    `steer_away` are the other candidates of the zone, cordoned for the move only when `to` asks
    for one particular node (the scheduler then has no other choice in the zone).
    """
    steps = [_cordon(kubectl, cas_node, "CAS must not come back here")]
    steps += [_cordon(kubectl, n, f"for the move only, so CAS lands on {to}") for n in steer_away]
    steps.append(_kubectl_step(kubectl, "delete-pod", f"delete pod {target.pod_name}; its StatefulSet recreates it",
                               ("delete", "pod", target.pod_name, "-n", target.namespace, "--wait=false")))
    where = to or f"another node of zone {zone}"
    steps.append(Step("wait-cas", f"wait up to {timeout} s until {target.pod_name} runs on {where} and CAS "
                                  f"{target.cas_name} is HEALTHY (state and phase)", node=to))
    steps += [_uncordon(kubectl, n, "cordoned for the move only") for n in steer_away]
    if not keep_cordoned:
        steps.append(_uncordon(kubectl, cas_node, "the move is done"))
    return steps


def move_plan(kubectl: Kubectl, target: StackTarget, *, cas_node: str, zone: str, to: str | None,
              steer_away: Sequence[str], keep_cordoned: bool, timeout: int) -> Plan:
    """`cas move` as a plan."""
    steps = move_steps(kubectl, target, cas_node=cas_node, zone=zone, to=to, steer_away=steer_away,
                       keep_cordoned=keep_cordoned, timeout=timeout)
    return Plan(f"move CAS {target.cas_name} off {cas_node}", tuple(steps),
                {"cas": f"{target.namespace}/{target.cas_name}", "cas_node": cas_node, "zone": zone,
                 "destination": to or "any capable node of the zone"})


def drain_plan(kubectl: Kubectl, target: StackTarget, *, node: str, cas_node: str | None, zone: str | None,
               to: str | None, steer_away: Sequence[str], timeout: int) -> Plan:
    """`node drain`: move CAS first when it runs on the node (the node stays cordoned), then drain."""
    steps: list[Step] = []
    if cas_node == node and zone is not None:
        steps += move_steps(kubectl, target, cas_node=node, zone=zone, to=to, steer_away=steer_away,
                            keep_cordoned=True, timeout=timeout)
    else:
        steps.append(_cordon(kubectl, node, "no new pods before the drain"))
    steps.append(_kubectl_step(kubectl, "drain", f"drain {node}: evict all but DaemonSet pods (up to {timeout} s)",
                               ("drain", node, *DRAIN_FLAGS, f"--timeout={timeout}s"), node))
    return Plan(f"take {node} out of service", tuple(steps),
                {"node": node, "cas_node": cas_node or "(none)", "cas_moves_first": str(cas_node == node).lower()})
