"""The stack's cluster as the program declares it: the Kubernetes provider, the kubectl properties, the pin.

Why one place: every Kubernetes resource and every kubectl run of the stack must reach the same
cluster. ``stack_cluster`` turns the validated settings into

- ``provider``: an explicit ``pulumi_kubernetes.Provider`` with ``scone:kubeconfig`` /
  ``scone:kubeContext``, handed to every component (``options``), whose Kubernetes children inherit
  it. With neither setting there is none and the resources keep the default provider, so a stack
  that sets nothing declares exactly what it declared before. Setting them later moves the resources
  to the explicit provider without replacing them: the provider's config diff replaces only when the
  previously configured active cluster changes, and the default provider configured none.
- ``props``: the same target as properties of the dynamic resources (guards, checks, status, CAS
  owner), whose providers run kubectl; a kubeconfig's content is a secret Output there.
- ``guard_props``: the live cluster identity for the stack guard (see ``components.cluster_identity``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cluster_identity import IDENTITY_PROP, REPIN_PROP, STACK_PROP
from components.kube_access import AMBIENT, PROP_KUBECONFIG_CONTENT, ClusterChoice, KubeTarget
from components.live_cluster import ClusterError, ClusterView

#: The explicit provider's resource name (part of every Kubernetes resource's provider reference).
PROVIDER_NAME = "kubernetes"


@dataclass(frozen=True)
class StackCluster:
    """What the declarations need to reach the stack's cluster (all empty for an ambient, unpinned stack)."""

    target: KubeTarget = AMBIENT
    provider: k8s.Provider | None = None
    guard_props: dict[str, Any] = field(default_factory=dict)

    @property
    def props(self) -> dict[str, Any]:
        """The target as dynamic-resource properties; a kubeconfig's content only as a secret Output."""
        values: dict[str, Any] = dict(self.target.props())
        if PROP_KUBECONFIG_CONTENT in values:
            values[PROP_KUBECONFIG_CONTENT] = pulumi.Output.secret(values[PROP_KUBECONFIG_CONTENT])
        return values

    @property
    def options(self) -> pulumi.ResourceOptions | None:
        """A component's options: the explicit provider, inherited by its Kubernetes children."""
        return pulumi.ResourceOptions(providers=[self.provider]) if self.provider is not None else None


def explicit_provider(target: KubeTarget) -> k8s.Provider | None:
    """The Kubernetes provider for ``target``; None when nothing is named (the default provider then)."""
    if target.ambient:
        return None
    kubeconfig: Any = pulumi.Output.secret(target.content) if target.content else target.kubeconfig
    return k8s.Provider(PROVIDER_NAME, kubeconfig=kubeconfig, context=target.context)


def live_identity(view: ClusterView) -> tuple[str | None, str | None]:
    """(the kube-system UID, or None) and why it could not be read (None when read or when there is no cluster)."""
    try:
        return view.identity(), None
    except ClusterError as error:
        return None, str(error)


def stack_cluster(choice: ClusterChoice, view: ClusterView, stack: str) -> StackCluster:
    """The provider, properties and pin of ``stack``; warns (and lets the guard refuse) when the UID is unreadable."""
    uid, problem = live_identity(view)
    guard_props: dict[str, Any] = {}
    if uid is not None or problem is not None or choice.repin is not None:
        guard_props = {STACK_PROP: stack, IDENTITY_PROP: uid}
        if choice.repin is not None:
            guard_props[REPIN_PROP] = choice.repin
    if problem is not None:
        pulumi.log.warn(f"the identity of the cluster ({choice.target.describe()}) could not be read: {problem}")
    return StackCluster(choice.target, explicit_provider(choice.target), guard_props)
