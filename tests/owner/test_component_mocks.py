"""``CasOwner`` registration under Pulumi mocks (tools/mock_engine.py's recording monitor)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime import MockResourceArgs

from components.owner.component import CasOwner, CasOwnerArgs
from components.owner.config import OwnerSettings
from tools.mock_engine import Evaluation, SconeMocks, StackConfig, contains_plain, evaluate

T = "pulumi-python:dynamic/scone:"
SENTINEL = "SENTINEL-DCAP-for-mocks-0042"
SUPPORTED = ["5.8.0", "5.8.1"]


def owner_args(settings: OwnerSettings, **overrides: Any) -> CasOwnerArgs:
    values: dict[str, Any] = {
        "settings": settings,
        "cas_name": "cas",
        "namespace": "scone-system",
        "service_version": "5.8.1",
        "image_repo": "registry.example/scone",
        "image_prefix": "osc-",
        "supported_versions": SUPPORTED,
        "management_state": "Managed",
        "dcap_key": pulumi.Output.secret(SENTINEL),
    }
    values.update(overrides)
    return CasOwnerArgs(**values)


def run(build: Any, preview: bool = False, mocks: SconeMocks | None = None) -> Evaluation:
    config = StackConfig(stack="owner-test", values={}, secret_keys=frozenset())
    return evaluate(config, preview=preview, program=build, mocks=mocks)


class CasVersionsSeen(SconeMocks):
    """Answers the gate and provisioning with the CAS versions each would read live."""

    def __init__(self, gate: str | None, provisioning: str | None) -> None:
        super().__init__()
        self.seen_by_name = {"owner-cas-version-gate": gate, "owner-cas-provisioning": provisioning}

    def new_resource(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        id_, state = super().new_resource(args)
        if args.name in self.seen_by_name:
            state["casVersion"] = self.seen_by_name[args.name]
        return id_, state


def enabled(tmp_path: Path, **extra: Any) -> OwnerSettings:
    (tmp_path / "target").mkdir(exist_ok=True)
    return OwnerSettings.model_validate(
        {"enabled": True, "targetDir": str(tmp_path / "target"), "backupDir": str(tmp_path / "backups"), **extra}
    )


def test_disabled_provisioning_registers_only_the_credential_free_gate() -> None:
    def build() -> dict[str, Any]:
        owner = CasOwner("owner", owner_args(OwnerSettings(), dcap_key=None))
        return {"casVersion": owner.cas_version}

    ev = run(build)
    assert ev.error is None
    assert sorted(r.type for r in ev.registrations) == [f"{T}CasVersionGate", "scone:index:CasOwner"]
    gate = ev.one(f"{T}CasVersionGate")
    assert gate.inputs["ownerManaged"] is False and gate.dependencies == ()
    assert gate.parent == ev.one("scone:index:CasOwner").urn


def test_enabled_wires_upgrade_before_gate_and_provisioning_after_cas_cr(tmp_path: Path) -> None:
    def build() -> dict[str, Any]:
        owner = CasOwner("owner", owner_args(enabled(tmp_path, vault={"enabled": True})))
        owner.complete(pulumi.CustomResource("kubernetes:services.scone.cloud/v1beta1:CAS", "cas-cr", {}))
        return {"publicKeys": owner.public_keys, "backupPath": owner.backup_path}

    ev = run(build, preview=True)
    assert ev.error is None
    upgrade, gate = ev.one(f"{T}CasUpgrade"), ev.one(f"{T}CasVersionGate")
    provisioning, vault = ev.one(f"{T}CasProvisioning"), ev.one(f"{T}VaultProvisioning")
    cas_cr = ev.one("kubernetes:services.scone.cloud/v1beta1:CAS")
    assert gate.dependencies == (upgrade.urn,)
    assert set(provisioning.dependencies) == {gate.urn, cas_cr.urn}
    assert vault.dependencies == (provisioning.urn,)
    assert upgrade.dependencies == ()  # never on the CAS CR: that would close a cycle through the operator
    assert upgrade.inputs["supportedVersions"] == SUPPORTED and upgrade.inputs["version"] == "5.8.1"
    assert upgrade.inputs["workDir"].startswith(str(tmp_path / "backups"))


def test_two_phase_build_lets_the_cas_cr_depend_on_the_gate(tmp_path: Path) -> None:
    def build() -> dict[str, Any]:
        owner = CasOwner("owner", owner_args(enabled(tmp_path)))
        operator = pulumi.CustomResource(
            "kubernetes:helm.sh/v3:Release", "operator", {}, pulumi.ResourceOptions(depends_on=[owner.upgrade_gate])
        )
        cas_cr = pulumi.CustomResource(
            "kubernetes:services.scone.cloud/v1beta1:CAS", "cas-cr", {}, pulumi.ResourceOptions(depends_on=[operator])
        )
        owner.complete(cas_cr)
        return {"publicKeys": owner.public_keys}

    ev = run(build)
    assert ev.error is None
    gate = ev.one(f"{T}CasVersionGate")
    assert ev.one("kubernetes:helm.sh/v3:Release").dependencies == (gate.urn,)
    provisioning = ev.one(f"{T}CasProvisioning")
    assert ev.one("kubernetes:services.scone.cloud/v1beta1:CAS").urn in provisioning.dependencies


@pytest.mark.parametrize(
    ("gate", "provisioning", "expected"),
    [(None, "5.8.1", "5.8.1"), ("5.8.0", "5.8.1", "5.8.1"), ("5.8.1", None, "5.8.1")],
    ids=["first-install-gate-saw-no-cas", "provisioning-read-after-the-upgrade", "provisioning-unknown"],
)
def test_cas_version_output_is_what_provisioning_read_after_cas_exists(
    tmp_path: Path, gate: str | None, provisioning: str | None, expected: str
) -> None:
    def build() -> dict[str, Any]:
        owner = CasOwner("owner", owner_args(enabled(tmp_path)))
        owner.complete(pulumi.CustomResource("kubernetes:services.scone.cloud/v1beta1:CAS", "cas-cr", {}))
        return {"casVersion": owner.cas_version}

    ev = run(build, mocks=CasVersionsSeen(gate, provisioning))
    assert ev.error is None
    assert ev.outputs["casVersion"] == expected


def test_dcap_key_is_a_secret_input_and_never_a_plain_value(tmp_path: Path) -> None:
    def build() -> dict[str, Any]:
        owner = CasOwner("owner", owner_args(enabled(tmp_path)))
        owner.complete(None)
        return {"publicKeys": owner.public_keys}

    ev = run(build)
    for registration in ev.registrations:
        assert not contains_plain(registration.inputs, SENTINEL), registration.type
        if registration.type.startswith(T) and registration.type != f"{T}CasVersionGate":
            assert "dcapKey" in registration.inputs
            assert "dcapKey" in registration.additional_secret_outputs
    assert SENTINEL not in json.dumps(ev.outputs, default=str)
    assert not any(SENTINEL in line for line in ev.logs)


def test_unmanaged_with_snapshot_registers_recovery_and_no_provisioning(tmp_path: Path) -> None:
    snapshot = tmp_path / "snapshot"

    def build() -> dict[str, Any]:
        owner = CasOwner(
            "owner",
            owner_args(enabled(tmp_path, recovery={"snapshotDir": str(snapshot)}), management_state="Unmanaged"),
        )
        owner.complete(None)
        return {"publicKeys": owner.public_keys}

    ev = run(build)
    recovery = ev.one(f"{T}CasRecovery")
    assert recovery.inputs["snapshotDir"] == str(snapshot)
    assert ev.one(f"{T}CasVersionGate").dependencies == (recovery.urn,)
    assert not ev.by_type(f"{T}CasProvisioning") and not ev.by_type(f"{T}CasUpgrade")


def test_preview_warns_when_owner_identity_has_no_backup_copy(tmp_path: Path) -> None:
    settings = enabled(tmp_path)
    (tmp_path / "target" / "identity").mkdir()
    (tmp_path / "target" / "identity" / "config.json").write_text("{}")

    def build() -> dict[str, Any]:
        owner = CasOwner("owner", owner_args(settings))
        owner.complete(None)
        return {}

    ev = run(build, preview=True)
    assert any("has no backup copy configured" in line for line in ev.logs), ev.logs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"cas_name": "a-very-long-cas-name"}, "kubectl-provision accepts at most 15"),
        ({"service_version": "6.0.0"}, "serviceVersion '6.0.0' is not in the support matrix"),
        ({"management_state": "Removed"}, "managementState 'Removed' is not allowed"),
    ],
)
def test_bad_arguments_are_refused_clearly(overrides: dict[str, Any], message: str) -> None:
    def build() -> dict[str, Any]:
        CasOwner("owner", owner_args(OwnerSettings(), **overrides))
        return {}

    with pytest.raises(Exception, match=message):
        run(build)


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_provisioning_without_a_dcap_key_warns_that_the_default_key_is_used(tmp_path: Path, preview: bool) -> None:
    def build(dcap_key: pulumi.Output[str] | None) -> Any:
        def program() -> dict[str, Any]:
            owner = CasOwner("owner", owner_args(enabled(tmp_path), dcap_key=dcap_key))
            owner.complete(None)
            return {}

        return program

    without = run(build(None), preview=preview)
    assert any("scone:dcapKey is not set" in line and "default DCAP API key" in line for line in without.logs), (
        without.logs
    )
    assert any("pulumi config set --secret dcapKey" in line for line in without.logs)
    with_key = run(build(pulumi.Output.secret(SENTINEL)), preview=preview)
    assert not any("dcapKey is not set" in line for line in with_key.logs)

    def ci_preview() -> dict[str, Any]:
        CasOwner("owner", owner_args(OwnerSettings(), dcap_key=None))
        return {}

    not_owner = run(ci_preview, preview=preview)
    assert not any("dcapKey is not set" in line for line in not_owner.logs)  # CI previews need no key
