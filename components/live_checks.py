"""The two decisions the program takes from the live cluster while it is evaluated (preview too).

- ``keeps_cas_protection``: the services namespace and the operator release stay protected
  while the stack declares a CAS *or* any CAS CR lives in the services namespace, or the
  cluster cannot be read (then a CAS may exist: fail safe). The destroy guard's delete makes
  the same read itself at destroy time and refuses.
- ``check_cas_placement``: the CAS must have ``cas.minCapableNodesInZone`` nodes in its zone
  that can take it over; fewer fails a Managed stack's preview (``cas.placementCheck``).
"""

from __future__ import annotations

import pulumi

from components.live_cluster import ClusterError, ClusterView, cas_presence, cas_removal_steps
from components.placement import PlacementTarget, check_placement
from components.spec import SconeSpec


class PlacementError(Exception):
    """The CAS could not survive the loss of its node; ``str()`` says where, what was found, what to do."""


def keeps_cas_protection(spec: SconeSpec, view: ClusterView) -> bool:
    """True while a CAS is declared, lives in the services namespace, or may live there."""
    namespace = spec.namespaces.services
    presence = cas_presence(view, namespace)
    if presence.names is None:
        pulumi.log.warn(
            f"could not read the CAS custom resources in namespace '{namespace}' ({presence.problem}); a CAS may"
            " exist there, so the services namespace and the operator release stay protected"
        )
    elif presence.names and not spec.has_cas:
        pulumi.log.warn(
            f"CAS {', '.join(presence.names)} still run(s) in namespace '{namespace}' although this stack declares"
            " none (skipCas): the services namespace and the operator release stay protected and `pulumi"
            " destroy` is refused (by the destroy guard) while it runs. " + cas_removal_steps(presence.names, namespace)
        )
    return spec.has_cas or presence.may_exist


def check_cas_placement(spec: SconeSpec, view: ClusterView) -> None:
    """Report the CAS's zone, node and the nodes that could take it over; refuse too few (see module doc)."""
    mode = spec.cas.placementCheck
    if not spec.has_cas or mode == "off":
        return
    try:
        target = PlacementTarget(
            spec.cas.name,
            spec.namespaces.services,
            spec.serviceVersion,
            spec.serviceNodeSelector,
            spec.cas.minCapableNodesInZone,
        )
        report = check_placement(view, target)
    except ClusterError as error:
        pulumi.log.warn(f"CAS placement not checked: the nodes could not be read ({error})")
        return
    pulumi.log.info(report.summary())
    if report.problem is None:
        return
    if mode == "fail" and spec.manages_services:
        raise PlacementError(report.problem)
    pulumi.log.warn(f"{report.problem} (scone:cas.placementCheck is {mode}; Managed stacks with fail refuse this)")
