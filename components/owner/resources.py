"""The Pulumi resources for the CAS owner's operations, each bound to its provider in providers.py.

Why stable type tokens: ``module="scone"`` and the class names below make the tokens
``pulumi-python:dynamic/scone:<Name>``; they are part of every deployed stack's URNs, so renaming
a class here needs an alias. Output attributes are declared so that typed ``.apply`` works, and
every output the provider may return is seeded with ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.options import WaitingComponent
from components.owner.providers import (
    CasProvisioningProvider,
    CasRecoveryProvider,
    CasUpgradeProvider,
    CasVersionGateProvider,
    VaultProvisioningProvider,
)

# Belt and braces: the DCAP key never leaves as an output, but if it ever did it would stay secret.
_SECRET_OUTPUTS = ["dcapKey"]


class _OwnerResource(Resource):
    """Pulumi sets one ``Output`` attribute per property under its wire name (``casVersion``);
    the snake_case properties below are typed views of those."""

    def _out(self, key: str) -> pulumi.Output[Any]:
        value: pulumi.Output[Any] = self.__dict__[key]
        return value

    @property
    def cas_version(self) -> pulumi.Output[Any]:
        return self._out("casVersion")


def _opts(opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """The caller's options (built by ``options.child``, so they wait for the stack guard) plus ours."""
    if opts is None or not isinstance(opts.parent, WaitingComponent):
        raise TypeError(
            "an owner resource needs the options of components.options.child(<its CasOwner>): without them it"
            " would not wait for the stack guard"
        )
    return pulumi.ResourceOptions.merge(
        opts or pulumi.ResourceOptions(), pulumi.ResourceOptions(additional_secret_outputs=_SECRET_OUTPUTS)
    )


class CasUpgrade(_OwnerResource, module="scone", name="CasUpgrade"):
    """Backs CAS up and upgrades it to ``version`` before anything else changes version."""

    @property
    def backup_path(self) -> pulumi.Output[Any]:
        return self._out("backupPath")

    @property
    def backup_sha256(self) -> pulumi.Output[Any]:
        return self._out("backupSha256")

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        seeded = {
            "casVersion": None,
            "backupPath": None,
            "backupSha256": None,
            "previousVersion": None,
            "upgraded": None,
            **props,
        }
        super().__init__(CasUpgradeProvider(), name, seeded, _opts(opts))


class CasVersionGate(_OwnerResource, module="scone", name="CasVersionGate"):
    """Fails the update while CAS does not yet run ``version`` (no owner credentials needed)."""

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CasVersionGateProvider(), name, {"casVersion": None, **props}, _opts(opts))


class CasProvisioning(_OwnerResource, module="scone", name="CasProvisioning"):
    """``kubectl provision cas``: takes CAS ownership (or adopts a provisioned CAS) and reads its public keys."""

    @property
    def public_keys(self) -> pulumi.Output[Any]:
        return self._out("publicKeys")

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        seeded = {
            "publicKeys": None,
            "casVersion": None,
            "provisioned": None,
            "adopted": None,
            "provisionedAt": None,
            **props,
        }
        super().__init__(CasProvisioningProvider(), name, seeded, _opts(opts))


class CasRecovery(_OwnerResource, module="scone", name="CasRecovery"):
    """``--cas-database-recovery``: a new CAS from a snapshot directory, refused over an existing CAS or PVC."""

    @property
    def public_keys(self) -> pulumi.Output[Any]:
        return self._out("publicKeys")

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        seeded = {
            "publicKeys": None,
            "snapshotSha256": None,
            "recoveredFrom": None,
            "recoveredAt": None,
            "casVersion": None,
            **props,
        }
        super().__init__(CasRecoveryProvider(), name, seeded, _opts(opts))


class VaultProvisioning(_OwnerResource, module="scone", name="VaultProvisioning"):
    """``kubectl provision vault``, run only when the Vault CR does not exist yet."""

    def __init__(self, name: str, props: Mapping[str, Any], opts: pulumi.ResourceOptions | None = None) -> None:
        seeded = {"vaultProvisioned": None, "adopted": None, **props}
        super().__init__(VaultProvisioningProvider(), name, seeded, _opts(opts))
