"""Read-only ``kubectl get -o json`` reads of the live cluster, and what the program reads with them.

``read_json`` and ``ClusterError`` are shared by the program's evaluation reads (here) and the
owner's providers (``components.owner.cluster``); this module imports nothing but names and errors,
so it sits at the bottom of the program's imports.

Why: a stack's declarations alone cannot say whether data is at risk. A CAS the stack forgot
(``skipCas`` + ``cas.removeFromStack``) keeps running in the services namespace, and whether
the CAS can survive the loss of its node depends on the nodes in its zone. Both facts live in
the cluster, so the program reads them with ``kubectl get -o json`` (never a write, bounded
timeouts) through a ``ClusterView``. The program takes the view as an argument: ``pulumi up``
passes ``KubectlView``; the mock engine and its tests pass their own.

"CRD not installed" means no CAS. A cluster that cannot be read raises ``ClusterError``; callers
fail safe (see ``cas_presence``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NoReturn, Protocol

from components.kube_access import AMBIENT, KubeTarget
from components.names import ZONE_LABEL
from components.provider_errors import UserFacingError, clean

CAS_RESOURCE = "cas.services.scone.cloud"
#: Seconds one read may take in a provider (create/update/read of the owner's resources).
READ_TIMEOUT_SECONDS = 120
#: Seconds one read may take during evaluation; a preview should not hang on a dead API server.
EVALUATION_READ_TIMEOUT_SECONDS = 60.0
#: What kubectl says when a resource kind (a CRD) is not installed.
NO_SUCH_KIND = "the server doesn't have a resource type"


class ClusterError(UserFacingError):
    """kubectl could not answer; the message carries its (cleaned) stderr and is shown as it is."""


def image_tag(image: str) -> str:
    """``repo/prefix-cas:5.8.0`` -> ``5.8.0`` ("" when untagged)."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else ""


def read_json(
    kubectl: str, args: list[str], timeout: float = READ_TIMEOUT_SECONDS, target: KubeTarget = AMBIENT
) -> dict[str, Any] | None:
    """``kubectl <args> -o json`` (a get or a list) against ``target``'s cluster, read-only and bounded.

    None when kubectl prints nothing (``--ignore-not-found``) or when the resource kind is not
    installed (no object of that kind can exist). Any other failure is a ``ClusterError``.
    """
    argv = target.argv(kubectl, [*args, "-o", "json"])
    try:
        proc = target.run(kubectl, [*args, "-o", "json"], timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise ClusterError(f"`{' '.join(argv)}` did not answer within {timeout:g} s") from exc
    except FileNotFoundError as exc:
        raise ClusterError(f"'{kubectl}' is not on PATH: install kubectl") from exc
    if proc.returncode != 0:
        if NO_SUCH_KIND in proc.stderr:
            return None
        raise ClusterError(f"`{' '.join(argv)}` failed: {clean(proc.stderr, ()).strip()}")
    if not proc.stdout.strip():
        return None
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@dataclass(frozen=True)
class Node:
    """A node as far as CAS placement cares: its labels and whether pods may be scheduled on it."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    unschedulable: bool = False

    @property
    def zone(self) -> str | None:
        return self.labels.get(ZONE_LABEL)


@dataclass(frozen=True)
class CasPod:
    """The CAS pod ``<cas>-0``: where it runs and whether it is Ready."""

    node: str | None
    ready: bool


@dataclass(frozen=True)
class CasFacts:
    """What the CAS CR says: the version it runs and whether its owner provisioned it."""

    version: str
    provisioned: bool


class ClusterView(Protocol):
    """Read-only questions the program asks the cluster; each may raise ``ClusterError``."""

    def cas_names(self, namespace: str) -> list[str]:
        """Names of the CAS CRs in ``namespace`` (empty when the CRD is not installed)."""
        ...

    def cas(self, name: str, namespace: str) -> CasFacts | None:
        """The CAS CR ``name``, or None."""
        ...

    def cas_pod(self, name: str, namespace: str) -> CasPod | None:
        """The pod ``<name>-0`` of CAS ``name``, or None."""
        ...

    def volume_zone(self, name: str, namespace: str) -> str | None:
        """The zone the database volume of CAS ``name`` is bound in, or None when it is not bound."""
        ...

    def nodes(self) -> list[Node]:
        """Every node of the cluster."""
        ...

    def identity(self) -> str | None:
        """The UID of the ``kube-system`` namespace (the cluster's identity); None when there is no cluster."""
        ...


@dataclass(frozen=True)
class KubectlView:
    """``ClusterView`` through ``kubectl`` and the stack's ``target`` (the cluster Pulumi's provider uses)."""

    kubectl: str = "kubectl"
    timeout: float = EVALUATION_READ_TIMEOUT_SECONDS
    target: KubeTarget = AMBIENT

    def _read(self, *args: str) -> dict[str, Any] | None:
        return read_json(
            self.kubectl, [*args, f"--request-timeout={int(self.timeout)}s"], timeout=self.timeout, target=self.target
        )

    def identity(self) -> str | None:
        namespace = self._read("get", "namespace", "kube-system")
        uid = ((namespace or {}).get("metadata") or {}).get("uid")
        if not uid:
            raise ClusterError("the kube-system namespace has no uid (`kubectl get namespace kube-system`)")
        return str(uid)

    def cas_names(self, namespace: str) -> list[str]:
        listed = self._read("get", CAS_RESOURCE, "-n", namespace)
        return sorted(item["metadata"]["name"] for item in (listed or {}).get("items") or [])

    def cas(self, name: str, namespace: str) -> CasFacts | None:
        obj = self._read("get", CAS_RESOURCE, name, "-n", namespace, "--ignore-not-found")
        if obj is None:
            return None
        status = obj.get("status") or {}
        return CasFacts(
            version=image_tag((obj.get("spec") or {}).get("image", "")), provisioned=status.get("provisioned") == "Yes"
        )

    def cas_pod(self, name: str, namespace: str) -> CasPod | None:
        pod = self._read("get", "pods", f"{name}-0", "-n", namespace, "--ignore-not-found")
        if pod is None:
            return None
        conditions = (pod.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        return CasPod(node=(pod.get("spec") or {}).get("nodeName"), ready=ready)

    def volume_zone(self, name: str, namespace: str) -> str | None:
        claim = self._read("get", "persistentvolumeclaims", f"database-{name}-0", "-n", namespace, "--ignore-not-found")
        volume_name = ((claim or {}).get("spec") or {}).get("volumeName")
        if not volume_name:
            return None
        volume = self._read("get", "persistentvolumes", volume_name, "--ignore-not-found") or {}
        return volume_zone_of(volume)

    def nodes(self) -> list[Node]:
        listed = self._read("get", "nodes") or {}
        return [
            Node(
                name=item["metadata"]["name"],
                labels=dict(item["metadata"].get("labels") or {}),
                unschedulable=bool((item.get("spec") or {}).get("unschedulable")),
            )
            for item in listed.get("items") or []
        ]


def volume_zone_of(volume: dict[str, Any]) -> str | None:
    """The zone a PersistentVolume is pinned to: its node affinity on the zone label, or its zone label."""
    affinity = ((volume.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    terms = affinity.get("nodeSelectorTerms") or []
    for term in terms:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == ZONE_LABEL and expression.get("operator") == "In" and expression.get("values"):
                return str(expression["values"][0])
    zone = ((volume.get("metadata") or {}).get("labels") or {}).get(ZONE_LABEL)
    return str(zone) if zone else None


@dataclass(frozen=True)
class OfflineView:
    """No cluster at all (the credential-free plan): every question fails, so callers fail safe."""

    reason: str = "evaluated without a cluster (credential-free plan)"

    def _fail(self) -> NoReturn:
        raise ClusterError(self.reason)

    def cas_names(self, namespace: str) -> list[str]:
        self._fail()

    def cas(self, name: str, namespace: str) -> CasFacts | None:
        self._fail()

    def cas_pod(self, name: str, namespace: str) -> CasPod | None:
        self._fail()

    def volume_zone(self, name: str, namespace: str) -> str | None:
        self._fail()

    def nodes(self) -> list[Node]:
        self._fail()

    def identity(self) -> str | None:
        """No cluster, so nothing to pin (the credential-free plan declares what main declares)."""
        return None


@dataclass(frozen=True)
class CasPresence:
    """The CAS CRs found in a namespace, or why they could not be read (then: they may exist)."""

    namespace: str
    names: tuple[str, ...] | None
    problem: str | None = None

    @property
    def may_exist(self) -> bool:
        """True when a CAS exists or nobody can tell: protection is kept in both cases."""
        return self.names is None or bool(self.names)


def cas_presence(view: ClusterView, namespace: str) -> CasPresence:
    """Which CAS CRs live in ``namespace``; an unreadable cluster is reported, not raised."""
    try:
        return CasPresence(namespace, tuple(view.cas_names(namespace)))
    except ClusterError as error:
        return CasPresence(namespace, None, str(error))


def cas_removal_steps(names: Sequence[str], namespace: str) -> str:
    """The explicit, documented steps that remove CAS on purpose (the only way it ever goes)."""
    listed = ", ".join(names) or "<cas>"
    first = names[0] if names else "<cas>"
    return (
        f"To remove CAS {listed} on purpose: (1) back each one up: `kubectl provision cas {first} -n {namespace}"
        " --local-backup` and check the S3 sets with `scone-backupper list`; (2) delete it and its volumes:"
        f" `kubectl delete cas {first} -n {namespace}` and `kubectl delete pvc database-{first}-0"
        f" database-snapshots-{first}-0 -n {namespace}`; (3) run `pulumi destroy` again. The services namespace"
        " and the operator release are retained by a destroy; remove them afterwards with `kubectl delete"
        f" namespace {namespace}` and `helm uninstall <release> -n <operator namespace>` (which deletes the SCONE"
        " CRDs)."
    )
