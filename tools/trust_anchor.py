"""Find the changes in a plan diff that touch the trust anchor, and say them in plain words.

CAS is the root of trust of every confidential workload of a cluster, and its database
backups are the only way back after a loss. A reviewer must not have to find a CAS
upgrade, a deleted bucket or a dropped ``protect`` flag in a long field list, so these
findings are put at the top of the diff:

- a CAS upgrade (it needs the CAS owner on the trusted machine and a fresh backup),
- a CAS or backup-bucket deletion or replacement,
- a ``protect`` or ``retainOnDelete`` flag removed (or a protected resource removed),
- a change of backup interval, retention, minimum kept sets, or backups switched off,
- a switch of ``managementState`` or ``skipCas``,
- a stack file that no longer validates, or an environment whose stack file is removed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.names import BUCKET_TYPES, CAS_TYPE
from tools.plan_compare import ABSENT, StackDiff

#: Display order of the finding kinds: the most dangerous first.
KIND_ORDER = (
    "invalid-stack",
    "cas-removed",
    "cas-replaced",
    "bucket-removed",
    "bucket-replaced",
    "cas-upgrade",
    "protect-removed",
    "retain-removed",
    "skip-cas",
    "management-state",
    "backup-changed",
    "stack-removed",
)


@dataclass(frozen=True)
class Finding:
    """One trust-anchor change of one stack."""

    stack: str
    kind: str
    message: str
    urn: str | None = None


def _image_version(image: Any) -> str:
    if not isinstance(image, str):
        return "?"
    tail = image.rsplit("/", 1)[-1]
    return tail.split(":", 1)[1] if ":" in tail else image


def _spec_value(plan: Mapping[str, Any] | None, path: str, output_path: str | None = None) -> Any:
    """A spec value, falling back to the stack outputs for plans without a spec."""
    for source, dotted in (("spec", path), ("outputs", output_path)):
        if dotted is None:
            continue
        current: Any = (plan or {}).get(source) or {}
        for part in dotted.split("."):
            current = current.get(part, ABSENT) if isinstance(current, Mapping) else ABSENT
        if current is not ABSENT and current != ABSENT:
            return current
    return ABSENT


def _resource_findings(diff: StackDiff) -> Iterable[Finding]:
    stack = diff.stack
    for entry in diff.removed:
        if entry["type"] == CAS_TYPE:
            yield Finding(
                stack,
                "cas-removed",
                f"CAS `{entry['name']}` leaves the stack `{stack}`. If Pulumi deleted it, the cluster would lose its"
                " trust anchor and every secret it holds; it is protected and retained, so `pulumi up` refuses"
                " unless someone unprotects it first (README: removing CAS is an explicit step).",
                entry["urn"],
            )
        elif entry["type"] in BUCKET_TYPES:
            yield Finding(
                stack,
                "bucket-removed",
                f"The CAS backup bucket `{entry['name']}` leaves the stack `{stack}`: the backups in it are the only"
                " way to recover CAS. It is protected and retained; check this is intended.",
                entry["urn"],
            )
        if entry.get("protect") and entry["type"] not in (CAS_TYPE, *BUCKET_TYPES):
            yield Finding(
                stack,
                "protect-removed",
                f"Protected resource `{entry['name']}` ({entry['type']}) is removed from `{stack}`;"
                " `pulumi up` refuses until it is unprotected on purpose.",
                entry["urn"],
            )
    for change in diff.replaced:
        if change.type == CAS_TYPE:
            yield Finding(
                stack,
                "cas-replaced",
                f"CAS `{change.name}` on `{stack}` would be REPLACED ({change.replace_reason}). A new CAS has a new"
                " identity and an empty database: every enclave would have to be re-attested and its secrets"
                " re-provisioned. Do not merge unless this is a planned CAS move with a recovery plan.",
                change.urn,
            )
        elif change.type in BUCKET_TYPES:
            yield Finding(
                stack,
                "bucket-replaced",
                f"The CAS backup bucket `{change.name}` on `{stack}` would be REPLACED ({change.replace_reason}):"
                " a new, empty bucket, and the old backups left behind.",
                change.urn,
            )
    for change in [*diff.changed, *diff.replaced]:
        for field_change in change.fields:
            if field_change.path == "(option) protect" and field_change.base and not field_change.head:
                yield Finding(
                    stack,
                    "protect-removed",
                    f"`protect` is removed from `{change.name}` ({change.type}) on `{stack}`: a later change could"
                    " delete it without any explicit step.",
                    change.urn,
                )
            if field_change.path == "(option) retainOnDelete" and field_change.base and not field_change.head:
                yield Finding(
                    stack,
                    "retain-removed",
                    f"`retainOnDelete` is removed from `{change.name}` ({change.type}) on `{stack}`: deleting it from"
                    " the stack would now delete it in the cluster or cloud as well.",
                    change.urn,
                )
            if change.type == CAS_TYPE and field_change.path == "spec.image":
                old, new = _image_version(field_change.base), _image_version(field_change.head)
                yield Finding(
                    stack,
                    "cas-upgrade",
                    f"CAS upgrade on `{stack}`: `{change.name}` goes from {old} to {new}. The CAS owner must run it"
                    " with `pulumi up` on the trusted machine (provisioning.enabled, owner identity present); it"
                    " takes a fresh local backup of the CAS database first and refuses without one. Make sure the"
                    " latest S3 backup is recent too. CI cannot apply this change.",
                    change.urn,
                )


def _setting_findings(diff: StackDiff) -> Iterable[Finding]:
    stack, base, head = diff.stack, diff.base, diff.head
    if base is None or head is None or base.get("error") or head.get("error"):
        return
    pairs = {key: (_spec_value(base, key, out), _spec_value(head, key, out)) for key, out in SETTING_SOURCES}
    old_state, new_state = pairs["managementState"]
    if old_state != new_state:
        meaning = (
            "Pulumi stops changing or deleting the SCONE services (operator, LAS, SGX plugin, CAS)"
            if new_state == "Unmanaged"
            else "Pulumi manages the SCONE services again and brings them to the stack's settings"
        )
        yield Finding(stack, "management-state", f"managementState on `{stack}`: {old_state} → {new_state}. {meaning}.")
    old_skip, new_skip = pairs["skipCas"]
    if old_skip != new_skip:
        meaning = (
            "the stack stops creating a CAS; the stack guard refuses this while the stack's CAS exists"
            if new_skip is True
            else "the stack creates a CAS (and its backupper): a new, unprovisioned trust anchor"
        )
        yield Finding(stack, "skip-cas", f"skipCas on `{stack}`: {old_skip} → {new_skip}: {meaning}.")
    backup_lines = []
    for key, unit in (
        ("backup.enabled", ""),
        ("backup.interval", " s"),
        ("backup.retention", " days"),
        ("backup.minKeep", " sets"),
    ):
        old, new = pairs[key]
        if old != new:
            backup_lines.append(f"{key.split('.')[1]} {old}{unit} → {new}{unit}")
    if backup_lines:
        off = pairs["backup.enabled"][1] is False
        yield Finding(
            stack,
            "backup-changed",
            f"CAS database backups on `{stack}` change: {'; '.join(backup_lines)}."
            + (" Backups would STOP." if off else " Check the recovery point objective still holds."),
        )


#: (spec path, output path) of the settings the findings read.
SETTING_SOURCES = (
    ("managementState", "managementState"),
    ("skipCas", "skipCas"),
    ("backup.enabled", "backup.enabled"),
    ("backup.interval", "backup.interval"),
    ("backup.retention", "backup.retention"),
    ("backup.minKeep", None),
)


def findings(diff: StackDiff) -> list[Finding]:
    """Every trust-anchor finding of one stack's diff, most dangerous first."""
    found: list[Finding] = []
    if diff.head is not None and diff.head.get("error"):
        found.append(
            Finding(
                diff.stack, "invalid-stack", f"The stack file of `{diff.stack}` does not validate: {diff.head['error']}"
            )
        )
    if diff.base is not None and diff.head is None:
        found.append(
            Finding(
                diff.stack,
                "stack-removed",
                f"The stack file of `{diff.stack}` is removed. This destroys nothing by itself, but the environment"
                " can no longer be updated from this repository.",
            )
        )
    found.extend(_resource_findings(diff))
    found.extend(_setting_findings(diff))
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda item: (KIND_ORDER.index(item.kind), item.urn or "", item.message))
