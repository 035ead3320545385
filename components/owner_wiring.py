"""Where the stack meets the CAS owner's operations (``components.owner``).

Interim: the owner resources are being built in ``components.owner``; until they are
wired here the stack declares no owner operations (provisioning stays a manual
``kubectl provision`` step, as in the guide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi

from components.spec import SconeSpec
from components.spec_loader import StackSecrets


@dataclass
class OwnerParts:
    """The owner resources a stack holds and the outputs it exports from them."""

    gate: pulumi.Resource | None
    outputs: dict[str, Any] = field(default_factory=dict)


def owner_gate(spec: SconeSpec, secrets: StackSecrets, opts: pulumi.ResourceOptions) -> pulumi.Resource | None:
    """The resource the operator, LAS and SGX plugin wait for (CAS-first upgrades)."""
    return None


def owner_operations(
    spec: SconeSpec,
    secrets: StackSecrets,
    cas_cr: pulumi.Resource,
    gate: pulumi.Resource | None,
    opts: pulumi.ResourceOptions,
) -> OwnerParts | None:
    """Provisioning, recovery and vault for the stack's CAS."""
    return None
