"""Resource-option rules shared by every component, so they are decided once.

- ``child`` is the one way a component builds its children's options: parented to the
  component, the caller's options merged in, and waiting for what the component waits for
  (``waits_for``, which always holds the stack guard). ``depends_on`` on a component does
  *not* reach its children in the engine's dependency graph, so a component that must come
  after something passes it down this way.
- ``data_bearing=True``: what holds CAS data or backups is protected and retained on delete.
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
    opts: pulumi.ResourceOptions | None = None,
    *,
    depends_on: Sequence[pulumi.Resource] = (),
    data_bearing: bool = False,
    protect: bool | None = None,
    retain_on_delete: bool | None = None,
    ignore_changes: Iterable[str] = (),
    additional_secret_outputs: Sequence[str] = (),
    delete_before_replace: bool | None = None,
) -> pulumi.ResourceOptions:
    """Options for a component's child: the caller's ``opts`` with this module's rules merged over them.

    ``parent`` must be a ``WaitingComponent``: every child then waits for what its component
    waits for, and the stack hands every component the stack guard there, so nothing runs on
    a change the guard refuses. ``data_bearing`` sets protect and retain together.
    """
    if not isinstance(parent, WaitingComponent):
        raise TypeError(
            f"child() needs a WaitingComponent as parent, got {type(parent).__name__}: a child of any other"
            " parent would not wait for the stack guard"
        )
    if data_bearing and (protect is False or retain_on_delete is False):
        raise ValueError("a data-bearing resource is always protected and retained; drop protect/retain_on_delete")
    rule = pulumi.ResourceOptions(
        parent=parent,
        depends_on=[*parent.waits_for, *depends_on],
        protect=True if data_bearing else protect,
        retain_on_delete=True if data_bearing else retain_on_delete,
        ignore_changes=list(ignore_changes) or None,
        additional_secret_outputs=list(additional_secret_outputs) or None,
        delete_before_replace=delete_before_replace,
    )
    return pulumi.ResourceOptions.merge(opts, rule)


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
