"""The reconcile status as a ConfigMap: what `kubectl get scone -o yaml` showed under `.status`.

Why a ConfigMap `scone-status` in the operator namespace, written by server-side apply under its
own field manager: `kubectl get configmap scone-status -n <operator ns> -o yaml` reads as the old
CR status did (one key per field, plain strings), any kubectl user can read it without Pulumi or
the state backend, and no Pulumi resource declares it, so no `pulumi up` ever sees it as drift or
fights over its fields. Only non-secret facts are written; the last error is redacted first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import IntEnum

from scone_ops.kubectl import Kubectl

CONFIGMAP = "scone-status"
FIELD_MANAGER = "scone-reconcile"
MANAGED_BY = {"app.kubernetes.io/managed-by": "scone-stack", "app.kubernetes.io/name": "scone-status"}
PHASES = ("Creating", "Updating", "Repairing", "Running", "Error")


class PhaseExit(IntEnum):
    """Exit code per phase, shared by `status` and `reconcile` (documented in ops/README.md)."""

    RUNNING = 0
    BUSY = 9  # another reconcile holds the stack's lock; nothing was changed by this one
    CREATING = 10
    UPDATING = 11
    REPAIRING = 12
    ERROR = 13

    @classmethod
    def of(cls, phase: str) -> PhaseExit:
        return cls[phase.upper()]


@dataclass(frozen=True)
class StatusRecord:
    """One key per field of the Scone CR's status, plus what a reconciler needs to know."""

    stack: str
    phase: str
    managementState: str = ""  # noqa: N815 - the CR's field names, as kubectl users know them
    deployedVersion: str = ""  # noqa: N815
    deployedSpec: str = ""  # noqa: N815
    lastSuccessPhase: str = ""  # noqa: N815
    lastUpdate: str = ""  # noqa: N815
    observedGeneration: str = ""  # noqa: N815
    lastError: str = ""  # noqa: N815
    lastReconcile: str = ""  # noqa: N815
    attempts: str = "0"

    def as_data(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}

    @classmethod
    def from_data(cls, data: dict[str, str]) -> StatusRecord:
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        values.setdefault("stack", "")
        values.setdefault("phase", "")
        return cls(**values)

    def next_success_phase(self) -> str:
        """The guide's lastSuccessPhase: the previous phase, anything but Error."""
        return self.phase if self.phase and self.phase != "Error" else self.lastSuccessPhase


def manifest(namespace: str, record: StatusRecord) -> dict[str, object]:
    """The ConfigMap as applied."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": namespace, "labels": dict(MANAGED_BY)},
            "data": record.as_data()}


def write_status(kubectl: Kubectl, namespace: str, record: StatusRecord) -> bool:
    """Server-side apply; False when the namespace does not exist yet (a stack being created)."""
    if kubectl.get_or_none("namespace", namespace) is None:
        return False
    kubectl.run("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts", "-f", "-",
                input_text=json.dumps(manifest(namespace, record)), timeout=120)
    return True


def read_status(kubectl: Kubectl, namespace: str) -> StatusRecord | None:
    """The recorded status, or None when no reconcile has written one."""
    got = kubectl.get_or_none("configmap", CONFIGMAP, "-n", namespace)
    if got is None:
        return None
    return StatusRecord.from_data(dict(got.get("data") or {}))
