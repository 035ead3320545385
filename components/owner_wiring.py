"""Where the stack meets the CAS owner's operations (``components.owner``).

The owner component is built in two phases because of the dependency order (see
``components.owner.component``): its upgrade gate first, before the operator release, LAS
and SGX plugin (CAS-first upgrades); provisioning and vault after the CAS CR exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.owner.component import CasOwner, CasOwnerArgs


@dataclass
class OwnerParts:
    """The owner component of a stack and the outputs it exports from it."""

    owner: CasOwner

    @property
    def gate(self) -> pulumi.Resource:
        """What the operator, LAS and SGX plugin wait for."""
        return self.owner.upgrade_gate

    @property
    def outputs(self) -> dict[str, Any]:
        """Stack outputs about the owner's operations (no secrets: public keys and digests only)."""
        return {
            "casVersion": self.owner.cas_version,
            "publicKeys": self.owner.public_keys,
            "preUpgradeBackupPath": self.owner.backup_path,
            "preUpgradeBackupSha256": self.owner.backup_sha256,
        }


def owner_gate(args: CasOwnerArgs, guard: pulumi.Resource) -> OwnerParts:
    """Phase one: the owner component and its upgrade gate."""
    # Passed as ``waits_for``, not as ``depends_on`` of the component: only that reaches every owner resource.
    return OwnerParts(CasOwner("cas-owner", args, waits_for=[guard]))


def owner_operations(parts: OwnerParts, cas_cr: pulumi.Resource) -> OwnerParts:
    """Phase two: provisioning and vault, once the CAS CR is declared."""
    parts.owner.complete(cas_cr)
    return parts
