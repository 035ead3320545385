"""Providers are pickled BY REFERENCE and must load in a fresh provider process started in the project root."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.owner import providers
from components.owner.resources import CasProvisioning, CasRecovery, CasUpgrade, CasVersionGate, VaultProvisioning
from tests.owner.world import ROOT

PROVIDERS = [
    providers.CasProvisioningProvider,
    providers.CasUpgradeProvider,
    providers.CasVersionGateProvider,
    providers.CasRecoveryProvider,
    providers.VaultProvisioningProvider,
]

LOADER = """
import base64, sys, dill
provider = dill.loads(base64.b64decode(sys.stdin.read()))
print(type(provider).__module__ + "." + type(provider).__name__)
print(hasattr(provider, "create") and hasattr(provider, "diff"))
"""


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_provider_unpickles_in_a_fresh_python_started_in_the_project_root(cls: type) -> None:
    blob = serialize_provider(cls())
    assert len(base64.b64decode(blob)) < 200, "pickled by value: the provider module must stay importable"
    result = subprocess.run(
        [sys.executable, "-c", LOADER],
        input=blob,
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"components.owner.providers.{cls.__name__}", "True"]


def test_provider_module_import_has_no_side_effects() -> None:
    probe = (
        "import sys, components.owner.providers as p; "
        "print(sorted(m for m in sys.modules if m.startswith('components')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    loaded = eval(result.stdout)  # noqa: S307 - our own subprocess printed a list literal
    assert loaded == [
        "components",
        "components.kube_access",
        "components.live_cluster",
        "components.names",
        "components.owner",
        "components.owner.backup",
        "components.owner.cas_queries",
        "components.owner.cluster",
        "components.owner.gate_provider",
        "components.owner.plugin",
        "components.owner.provider_base",
        "components.owner.providers",
        "components.owner.provisioning_provider",
        "components.owner.recovery_provider",
        "components.owner.upgrade_provider",
        "components.owner.vault_provider",
        "components.owner.versions",
        "components.provider_errors",
    ]


# ``__provider`` as the state of stacks deployed before the providers were split into one module each
# holds it (serialize_provider of the single-module providers.py, captured before the split).
STATE_BEFORE_THE_SPLIT = {
    "CasUpgradeProvider": (
        "gASVOAAAAAAAAACMGmNvbXBvbmVudHMub3duZXIucHJvdmlkZXJzlIwSQ2Fz"
        "VXBncmFkZVByb3ZpZGVylJOUKYGULg=="
    ),
    "CasVersionGateProvider": (
        "gASVPAAAAAAAAACMGmNvbXBvbmVudHMub3duZXIucHJvdmlkZXJzlIwWQ2Fz"
        "VmVyc2lvbkdhdGVQcm92aWRlcpSTlCmBlC4="
    ),
    "CasProvisioningProvider": (
        "gASVPQAAAAAAAACMGmNvbXBvbmVudHMub3duZXIucHJvdmlkZXJzlIwXQ2Fz"
        "UHJvdmlzaW9uaW5nUHJvdmlkZXKUk5QpgZQu"
    ),
    "CasRecoveryProvider": (
        "gASVOQAAAAAAAACMGmNvbXBvbmVudHMub3duZXIucHJvdmlkZXJzlIwTQ2Fz"
        "UmVjb3ZlcnlQcm92aWRlcpSTlCmBlC4="
    ),
    "VaultProvisioningProvider": (
        "gASVPwAAAAAAAACMGmNvbXBvbmVudHMub3duZXIucHJvdmlkZXJzlIwZVmF1"
        "bHRQcm92aXNpb25pbmdQcm92aWRlcpSTlCmBlC4="
    ),
}


@pytest.mark.parametrize("cls", PROVIDERS, ids=lambda c: c.__name__)
def test_split_providers_pickle_exactly_as_deployed_stacks_hold_them(cls: type) -> None:
    """Same bytes as before the split: no ``__provider`` change to diff, and old state still loads."""
    assert serialize_provider(cls()) == STATE_BEFORE_THE_SPLIT[cls.__name__]


def test_type_tokens_are_stable() -> None:
    tokens = {
        cls.__name__: cls._resource_type_name
        for cls in (CasProvisioning, CasRecovery, CasUpgrade, CasVersionGate, VaultProvisioning)
    }
    assert tokens == {name: f"dynamic/scone:{name}" for name in tokens}  # engine type: "pulumi-python:" + this
