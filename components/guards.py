"""The guard resources: dynamic resources around ``guard_providers``.

Type tokens are stable (``pulumi-python:dynamic/scone:StackGuard`` ...): renaming them
would change URNs in every existing stack.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.guard_providers import CertManagerCheckProvider, DestroyGuardProvider, StackGuardProvider


class StackGuard(Resource, module="scone", name="StackGuard"):
    """Holds the stack's shape; its provider refuses transitions that would lose CAS."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(StackGuardProvider(), name, props, opts)


class DestroyGuard(Resource, module="scone", name="DestroyGuard"):
    """Protected while CAS exists and dependent on every other resource of the stack.

    ``pulumi destroy`` deletes in reverse dependency order, so this is the first delete it
    tries; being protected, it fails, and nothing else is deleted. Without it a destroy
    deletes the backupper, LAS and SGX plugin before it reaches the protected CAS.
    """

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(DestroyGuardProvider(), name, props, opts)


class CertManagerCheck(Resource, module="scone", name="CertManagerCheck"):
    """Fails ``pulumi up`` with a clear message when cert-manager is missing."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CertManagerCheckProvider(), name, props, opts)
