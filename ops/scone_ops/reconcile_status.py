"""The reconcile status in the cluster, read and written through scone-ops' kubectl.

The shape (ConfigMap `scone-status`, its keys, the phase transitions) is the program's own
(components/scone_status.py): every `pulumi up` writes the same record through the program's
status resource, so `status` shows the same thing whoever touched the stack last.
"""

from __future__ import annotations

import json
from enum import IntEnum

from components.scone_status import CONFIGMAP, FIELD_MANAGER, MANAGED_BY, PHASES, StatusRecord, manifest, now
from scone_ops.kubectl import Kubectl

__all__ = ["CONFIGMAP", "FIELD_MANAGER", "MANAGED_BY", "PHASES", "PhaseExit", "StatusRecord", "manifest", "now",
           "read_status", "write_status"]


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
