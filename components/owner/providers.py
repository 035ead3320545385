"""The stable address of the owner providers: ``components.owner.providers.<Class>``.

Why this module exists although the providers live in one module each (``upgrade_provider``,
``gate_provider``, ``provisioning_provider``, ``recovery_provider``, ``vault_provider``):
Pulumi pickles a dynamic provider with dill BY REFERENCE — module path and class name — into the
``__provider`` input of every resource, and the provider process re-imports that path for every
create, diff, update, read and delete, including for resources created by older versions of this
program. The state of deployed stacks holds ``components.owner.providers.<Class>``. So each provider
class is re-homed here (its ``__module__`` is this module): new pickles stay byte-identical to the
ones in existing state (no ``__provider`` change, nothing to diff), and old state keeps loading.
Never rename this module or these classes. Importing it has no side effects beyond the imports.

The shared pieces (properties, preview-safe comparisons, the plugin questions, the version rules)
are in ``provider_base``, ``cas_queries`` and ``versions``; they are re-exported for callers that
used to import them from here.
"""

from __future__ import annotations

from components.owner.cas_queries import is_provisioned, parse_public_keys, read_public_keys, verify
from components.owner.gate_provider import CasVersionGateProvider
from components.owner.provider_base import OwnerOperationError, OwnerProps, public_outputs
from components.owner.provisioning_provider import CasProvisioningProvider, provision
from components.owner.recovery_provider import CasRecoveryProvider, recovery_refusal
from components.owner.upgrade_provider import CasUpgradeProvider, ensure_cas_version
from components.owner.vault_provider import VaultProvisioningProvider
from components.owner.versions import upgrade_problem, version_problem

PROVIDER_CLASSES: tuple[type, ...] = (
    CasUpgradeProvider,
    CasVersionGateProvider,
    CasProvisioningProvider,
    CasRecoveryProvider,
    VaultProvisioningProvider,
)
for _provider in PROVIDER_CLASSES:
    _provider.__module__ = __name__  # the pickled reference deployed stacks hold (see above)

__all__ = [
    "CasProvisioningProvider",
    "CasRecoveryProvider",
    "CasUpgradeProvider",
    "CasVersionGateProvider",
    "OwnerOperationError",
    "OwnerProps",
    "VaultProvisioningProvider",
    "ensure_cas_version",
    "is_provisioned",
    "parse_public_keys",
    "provision",
    "public_outputs",
    "read_public_keys",
    "recovery_refusal",
    "upgrade_problem",
    "verify",
    "version_problem",
]
