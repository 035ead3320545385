"""The Scone status as a ConfigMap: what `kubectl get scone -o yaml` showed under `.status`.

One shape, written by two writers: the program's own ``SconeStatus`` resource (every ``pulumi
up``) and ``scone-ops reconcile``. Both build the record here and apply ``manifest`` under the
one field manager, so the keys, their meaning and the phase transitions cannot drift apart.

Why a ConfigMap ``scone-status`` in the operator namespace: ``kubectl get configmap scone-status
-n <operator ns> -o yaml`` reads as the old CR status did (one key per field, plain strings), any
kubectl user can read it without Pulumi or the state backend, and it needs no CRD of our own.
Only non-secret facts go in: the spec holds no credential by construction (they are separate
secret config), known secret values are masked once more, and the last error is redacted.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

CONFIGMAP = "scone-status"
FIELD_MANAGER = "scone-status"
MANAGED_BY = {"app.kubernetes.io/managed-by": "scone-stack", "app.kubernetes.io/name": "scone-status"}
PHASES = ("Creating", "Updating", "Repairing", "Running", "Error")
SECRET_MASK = "[redacted]"  # noqa: S105 - the mask, not a password


def now() -> str:
    """UTC time as the status records it (ISO 8601, seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def canonical_spec(spec: Any) -> str:
    """The normalised spec (defaults applied) as canonical JSON: what ``deployedSpec`` hashes."""
    return json.dumps(spec.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))


def digest_of(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


def masked(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every known secret value (4 characters or more) replaced by the mask."""
    for value in sorted((v for v in secrets if v and len(v) >= 4), key=len, reverse=True):
        text = text.replace(value, SECRET_MASK)
    return text


@dataclass(frozen=True)
class Deployment:
    """What a successful update deployed: the facts the status repeats from the spec."""

    version: str
    spec_digest: str
    spec_document: str
    management_state: str


@dataclass(frozen=True)
class StatusRecord:
    """One key per field of the Scone CR's status, plus what a reconciler needs to know."""

    stack: str
    phase: str
    managementState: str = ""  # noqa: N815 - the CR's field names, as kubectl users know them
    deployedVersion: str = ""  # noqa: N815
    deployedSpec: str = ""  # noqa: N815
    deployedSpecDocument: str = ""  # noqa: N815
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
        values = {key: str(value) for key, value in data.items() if key in known}
        values.setdefault("stack", "")
        values.setdefault("phase", "")
        return cls(**values)

    def next_success_phase(self) -> str:
        """The CR's lastSuccessPhase: the previous phase, anything but Error."""
        return self.phase if self.phase and self.phase != "Error" else self.lastSuccessPhase

    def entering(self, stack: str, phase: str, *, error: str = "", attempts: int | None = None) -> StatusRecord:
        """This record moved to ``phase``; lastSuccessPhase keeps the phase left behind (never Error)."""
        success = self.next_success_phase() if self.phase != phase else self.lastSuccessPhase
        return replace(self, stack=stack, phase=phase, lastSuccessPhase=success, lastError=error,
                       attempts=self.attempts if attempts is None else str(attempts))

    def deployed(self, facts: Deployment) -> StatusRecord:
        """The deployed ``facts`` of an update that succeeded, stamped now.

        ``observedGeneration`` moves like a CR's: by one each time the deployed spec changes (1
        for the first); a repair or a rewritten status keeps it.
        """
        known = self.observedGeneration.isdigit()
        if known and self.deployedSpec == facts.spec_digest:
            generation = int(self.observedGeneration)
        else:
            generation = int(self.observedGeneration) + 1 if known else 1
        return replace(self, deployedVersion=facts.version, deployedSpec=facts.spec_digest,
                       deployedSpecDocument=facts.spec_document, managementState=facts.management_state,
                       observedGeneration=str(generation), lastUpdate=now())

    def shows(self, facts: Deployment) -> bool:
        """True when this record already says Running on exactly ``facts`` (nothing to write)."""
        return (self.phase == "Running" and self.deployedVersion == facts.version
                and self.deployedSpec == facts.spec_digest and self.deployedSpecDocument == facts.spec_document
                and self.managementState == facts.management_state)


def manifest(namespace: str, record: StatusRecord) -> dict[str, object]:
    """The ConfigMap as applied."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": CONFIGMAP, "namespace": namespace, "labels": dict(MANAGED_BY)},
            "data": record.as_data()}
