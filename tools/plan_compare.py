"""Compare two plan documents (``tools.plan``) of one stack: what is added, removed, replaced, changed.

Without a provider there is no real diff, so "replaced" is decided the way the providers
decide it for the fields this program sets: a change to a field the provider cannot update
in place (``REPLACE_FIELDS``), or the same type and name under another parent (a new URN:
without an alias Pulumi creates the new resource and deletes the old one). Everything else
that differs is "changed", with each changed field and both values. Values are compared as
the plan wrote them, so secrets (``<secret>``) never differ and never show.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ABSENT = "<absent>"

#: Resource options compared besides the inputs, shown as ``(option) <name>``.
OPTION_FIELDS = ("protect", "retainOnDelete", "ignoreChanges", "dependsOn", "read")

#: Input fields whose change makes the provider replace the resource (delete + create).
#: Keys are exact type tokens or a provider prefix ending in ':'. Path prefixes are matched
#: on whole segments. Sources: pulumi-kubernetes (metadata.name/namespace, immutable
#: ConfigMap/Secret unless enable*Mutable, Deployment selector, StatefulSet immutables),
#: pulumi-aws (bucket name, access key user, the bucket sub-resources' bucket).
REPLACE_FIELDS: dict[str, tuple[str, ...]] = {
    "kubernetes:": ("metadata.name", "metadata.namespace"),
    "kubernetes:helm.sh/v3:Release": ("name", "namespace"),
    "kubernetes:core/v1:ConfigMap": ("data", "binaryData", "immutable"),
    "kubernetes:core/v1:Secret": ("data", "stringData", "type", "immutable"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:apps/v1:StatefulSet": ("spec.selector", "spec.serviceName", "spec.volumeClaimTemplates"),
    "kubernetes:core/v1:PersistentVolumeClaim": ("spec.accessModes", "spec.storageClassName", "spec.volumeName"),
    "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix"),
    "aws:s3/bucketV2:BucketV2": ("bucket", "bucketPrefix"),
    "aws:iam/accessKey:AccessKey": ("user",),
    "aws:s3/": ("bucket",),
}


@dataclass(frozen=True)
class FieldChange:
    """One field that differs; ``base``/``head`` are ``ABSENT`` where the field is missing."""

    path: str
    base: Any
    head: Any


@dataclass(frozen=True)
class ResourceChange:
    """A resource present on both sides (or moved) whose fields differ."""

    urn: str
    type: str
    name: str
    fields: tuple[FieldChange, ...]
    replace_reason: str | None = None
    base_urn: str | None = None


@dataclass
class StackDiff:
    """The comparison of one stack's two plans."""

    stack: str
    base: Mapping[str, Any] | None
    head: Mapping[str, Any] | None
    added: list[Mapping[str, Any]] = field(default_factory=list)
    removed: list[Mapping[str, Any]] = field(default_factory=list)
    replaced: list[ResourceChange] = field(default_factory=list)
    changed: list[ResourceChange] = field(default_factory=list)
    settings: list[FieldChange] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.removed or self.replaced or self.changed or self.settings)


def _segment(key: str) -> str:
    plain = key.replace("_", "").replace("-", "").isalnum()
    return f".{key}" if plain else f"[{json.dumps(key)}]"


#: Keys that name the items of a list (containers, env vars, ports, volumes, alerts): a path
#: like ``env[name=BACKUP_INTERVAL_SECONDS]`` says what changed and survives insertions.
LIST_ITEM_KEYS = ("name", "alert")


def _list_key(items: list[Any]) -> str | None:
    for key in LIST_ITEM_KEYS:
        names = [item.get(key) for item in items if isinstance(item, Mapping)]
        if len(names) == len(items) and all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
            return key
    return None


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) pairs of a JSON value; empty containers are leaves."""
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from flatten(value[key], f"{prefix}{_segment(str(key))}")
    elif isinstance(value, list) and value:
        key = _list_key(value)
        for index, item in enumerate(value):
            label = f"{key}={item[key]}" if key else str(index)
            yield from flatten(item, f"{prefix}[{label}]")
    else:
        yield (prefix.lstrip(".") or "(value)"), value


def field_changes(base: Any, head: Any, prefix: str = "") -> list[FieldChange]:
    """Every leaf path whose value differs between ``base`` and ``head``."""
    old = dict(flatten(base, prefix))
    new = dict(flatten(head, prefix))
    return [
        FieldChange(path, old.get(path, ABSENT), new.get(path, ABSENT))
        for path in sorted(set(old) | set(new))
        if old.get(path, ABSENT) != new.get(path, ABSENT)
    ]


def _replace_paths(type_: str) -> tuple[str, ...]:
    paths: list[str] = []
    for key, fields in REPLACE_FIELDS.items():
        if type_ == key or (key.endswith((":", "/")) and type_.startswith(key)):
            paths.extend(fields)
    return tuple(paths)


def _touches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


def replace_reason(type_: str, changes: tuple[FieldChange, ...]) -> str | None:
    """Why the provider would replace a resource with these input changes, if it would."""
    forcing = sorted(
        {change.path for change in changes for prefix in _replace_paths(type_) if _touches(change.path, prefix)}
    )
    if not forcing:
        return None
    return "cannot be updated in place: " + ", ".join(forcing)


def _resource_changes(base: Mapping[str, Any], head: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    changes = field_changes(base.get("inputs", {}), head.get("inputs", {}))
    for option in OPTION_FIELDS:
        if base.get(option) != head.get(option):
            changes.append(FieldChange(f"(option) {option}", base.get(option, ABSENT), head.get(option, ABSENT)))
    return tuple(changes)


MOVE_FIELDS = (("(name)", "name"), ("(parent)", "parent"))


def _type_and_name(entry: Mapping[str, Any]) -> tuple[str, str]:
    return entry["type"], entry["name"]


def _type_and_parent(entry: Mapping[str, Any]) -> tuple[str, str]:
    return entry["type"], entry.get("parent") or ""


def _by_urn(plan: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    return {entry["urn"]: entry for entry in (plan or {}).get("resources", [])}


def compare(stack: str, base: Mapping[str, Any] | None, head: Mapping[str, Any] | None) -> StackDiff:
    """Compare the plans of ``stack``; ``None`` stands for "no such stack on that side"."""
    diff = StackDiff(stack=stack, base=base, head=head)
    if head is None or head.get("error"):
        # No stack file: that destroys nothing. An invalid one: `pulumi up` stops before any
        # change. Either way listing every resource as removed would be wrong.
        return diff
    old, new = _by_urn(base), _by_urn(head)
    removed = {urn: old[urn] for urn in sorted(set(old) - set(new))}
    added = {urn: new[urn] for urn in sorted(set(new) - set(old))}
    # Same type and name under another parent (a move), or the only resource of its type under
    # the same parent renamed: Pulumi creates the new one and deletes the old, i.e. replaces it.
    for reason, key_of in (
        ("moved to another parent: a new URN; without an alias the old one is deleted", _type_and_name),
        ("renamed: a new resource is created and the old one deleted", _type_and_parent),
    ):
        for urn, entry in list(added.items()):
            twins = [old_urn for old_urn, gone in removed.items() if key_of(gone) == key_of(entry)]
            if len(twins) != 1 or sum(key_of(other) == key_of(entry) for other in added.values()) != 1:
                continue
            gone = removed.pop(twins[0])
            added.pop(urn)
            moved = [
                FieldChange(label, gone.get(key), entry.get(key))
                for label, key in MOVE_FIELDS
                if gone.get(key) != entry.get(key)
            ]
            diff.replaced.append(
                ResourceChange(
                    urn=urn,
                    type=entry["type"],
                    name=entry["name"],
                    fields=(*moved, *_resource_changes(gone, entry)),
                    replace_reason=reason,
                    base_urn=twins[0],
                )
            )
    diff.added = list(added.values())
    diff.removed = list(removed.values())
    for urn in sorted(set(old) & set(new)):
        changes = _resource_changes(old[urn], new[urn])
        if not changes:
            continue
        entry = new[urn]
        forced = replace_reason(entry["type"], changes)
        change = ResourceChange(urn, entry["type"], entry["name"], changes, forced)
        (diff.replaced if forced else diff.changed).append(change)
    diff.replaced.sort(key=lambda change: change.urn)
    diff.settings = field_changes((base or {}).get("spec", {}), (head or {}).get("spec", {}))
    return diff
