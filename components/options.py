"""Resource-option rules shared by every component, so they are decided once.

- ``child``: every child is parented to its component and waits for what the component
  waits for (``waits_for``). ``depends_on`` on a component does *not* delay its children
  in Pulumi, so a component that must come after something passes it down this way.
- ``data_bearing``: what holds CAS data or backups is protected and retained on delete.
  ``retain_on_delete`` is not inherited from a parent in the Python SDK, so it is set on
  each such resource explicitly.
- ``frozen``: under ``managementState: Unmanaged`` the SCONE services are still declared
  (so nothing is deleted) but every input is ignored (so nothing changes). Pulumi has no
  ``ignoreChanges: ["*"]``; the top-level input keys are listed instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pulumi

#: Top-level inputs of a Kubernetes object declared with apiVersion/kind/metadata/spec.
OBJECT_INPUTS: tuple[str, ...] = ("apiVersion", "kind", "metadata", "spec")

#: Top-level inputs of the helm.v3.Release this program sets.
RELEASE_INPUTS: tuple[str, ...] = (
    "chart",
    "version",
    "name",
    "namespace",
    "values",
    "timeout",
    "atomic",
    "cleanupOnFail",
    "maxHistory",
    "skipAwait",
    "createNamespace",
)


def child(
    parent: pulumi.Resource,
    *,
    depends_on: Sequence[pulumi.Resource] = (),
    protect: bool | None = None,
    retain_on_delete: bool | None = None,
    ignore_changes: Iterable[str] = (),
    additional_secret_outputs: Sequence[str] = (),
    delete_before_replace: bool | None = None,
) -> pulumi.ResourceOptions:
    """Options for a component's child."""
    return pulumi.ResourceOptions(
        parent=parent,
        depends_on=[*getattr(parent, "waits_for", ()), *depends_on],
        protect=protect,
        retain_on_delete=retain_on_delete,
        ignore_changes=list(ignore_changes) or None,
        additional_secret_outputs=list(additional_secret_outputs) or None,
        delete_before_replace=delete_before_replace,
    )


def frozen(unmanaged: bool, inputs: Sequence[str]) -> list[str]:
    """All of ``inputs`` when the stack is Unmanaged, else nothing."""
    return list(inputs) if unmanaged else []


def metadata(name: str, namespace: str | None, labels: Mapping[str, str]) -> Any:
    """ObjectMeta for an object we create (typed Any: the SDK wants its TypedDict, not a dict)."""
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


class WaitingComponent(pulumi.ComponentResource):
    """A component whose children all wait for ``waits_for`` (see ``child``)."""

    waits_for: list[pulumi.Resource]

    def __init__(
        self,
        type_: str,
        name: str,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        self.waits_for = list(waits_for)
        super().__init__(type_, name, None, opts)
