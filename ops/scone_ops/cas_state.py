"""The CAS as the cluster shows it now: its custom resource, its pod and its node.

Healthy means what `kubectl get cas` shows as HEALTHY in both the Status (``.status.state``) and
Phase (``.status.phase``) columns: a CAS in EnablingMigration or Uninitialized is not yet safe to
move, because not every node may be registered to open its database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import JsonObj, Kubectl
from scone_ops.stack_target import StackTarget


def health_problem(cas: Mapping[str, Any] | None) -> str | None:
    """Why this CAS is not HEALTHY (None when it is)."""
    if cas is None:
        return "the CAS custom resource does not exist"
    status = cas.get("status") or {}
    state, phase = status.get("state"), status.get("phase")
    if state == "HEALTHY" and phase == "HEALTHY":
        return None
    return f"CAS state is {state or 'unset'}, phase {phase or 'unset'} (both must be HEALTHY)"


def pod_node(pod: Mapping[str, Any] | None) -> str | None:
    """The node a pod is bound to, if any."""
    if pod is None:
        return None
    node = (pod.get("spec") or {}).get("nodeName")
    return str(node) if node else None


def pod_running(pod: Mapping[str, Any] | None) -> bool:
    """Running and not being deleted."""
    return bool(pod and (pod.get("status") or {}).get("phase") == "Running"
                and not (pod.get("metadata") or {}).get("deletionTimestamp"))


@dataclass(frozen=True)
class CasView:
    """One read of the CAS, its pod and every node."""

    cas: JsonObj | None
    pod: JsonObj | None
    nodes: list[JsonObj]

    @property
    def node(self) -> str | None:
        return pod_node(self.pod)


def read_cas(kubectl: Kubectl, target: StackTarget) -> CasView:
    """Read the CAS CR, `<cas>-0` and the node list; refuse a stack without CAS."""
    if not target.has_cas:
        raise OpsError(ExitCode.NOT_FOUND, f"{target.stack_file} runs no CAS (skipCas: true)",
                       "use the stack whose CAS you mean (--stack)")
    cas = kubectl.get_or_none("cas", target.cas_name, "-n", target.namespace)
    pod = kubectl.get_or_none("pod", target.pod_name, "-n", target.namespace)
    nodes = kubectl.get_json("nodes").get("items") or []
    return CasView(cas=cas, pod=pod, nodes=list(nodes))


def read_cluster(kubectl: Kubectl, target: StackTarget) -> CasView:
    """Like read_cas, but a stack without CAS is a cluster whose nodes need no CAS care."""
    if target.has_cas:
        return read_cas(kubectl, target)
    return CasView(cas=None, pod=None, nodes=list(kubectl.get_json("nodes").get("items") or []))


def require_cas_pod(view: CasView, target: StackTarget) -> str:
    """The CAS's node, or NOT_FOUND naming what is missing."""
    if view.cas is None:
        raise OpsError(ExitCode.NOT_FOUND, f"CAS {target.cas_name} does not exist in namespace {target.namespace}",
                       "check the stack (`kubectl get cas -A`); install it with `pulumi up --stack <env>`")
    node = view.node
    if node is None:
        raise OpsError(ExitCode.NOT_FOUND,
                       f"pod {target.pod_name} in {target.namespace} is missing or not scheduled on a node",
                       f"`kubectl describe pod {target.pod_name} -n {target.namespace}` shows why; "
                       "nothing needs moving while CAS runs nowhere")
    return node
