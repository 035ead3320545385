"""``CasOwner``: wires the CAS owner's resources from ``scone:provisioning`` and exposes the upgrade gate.

Why this shape (dependency order is the point):
- ``upgrade_gate`` (a ``CasVersionGate``) is what the operator release, LAS and SGXPlugin depend on.
  With provisioning enabled it follows ``CasUpgrade`` (pre-upgrade backup + ``--upgrade``), so a
  ``serviceVersion`` bump upgrades CAS first, and if that fails nothing else changes version. Without
  owner credentials the gate still exists and refuses the bump while CAS runs the old version.
- The gate and the upgrade do NOT depend on the CAS CR: the CR needs the operator's CRDs and
  webhooks, and the operator depends on the gate (a cycle otherwise). On a first install there is
  no CAS yet, so the gate passes and nothing is upgraded.
- ``CasProvisioning`` runs after the CAS CR exists (``cas_cr``) and after the gate. Because the CR
  can only be declared after the operator, the stack may build ``CasOwner`` without ``cas_cr`` and
  call ``complete(cas_cr)`` once the CR is declared.
- ``CasRecovery`` only with ``managementState: Unmanaged`` and ``recovery.snapshotDir``;
  switching back to Managed later adopts the recovered CAS (``CasProvisioning`` finds it provisioned).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi

from components.names import MAX_CAS_NAME
from components.options import WaitingComponent, child
from components.owner.config import OwnerSettings, expand_dir
from components.owner.resources import CasProvisioning, CasRecovery, CasUpgrade, CasVersionGate, VaultProvisioning
from components.owner.versions import version_problem

MANAGEMENT_STATES = ("Managed", "Unmanaged")
#: The kubectl the owner's providers run: the one on PATH, pointed at the stack's cluster (``args.kube``).
KUBECTL = "kubectl"
#: The SCONE guide: without your own DCAP API key a default key is used, with no guarantee of
#: validity or availability (kubectl-provision falls back to an all-zero key).
DEFAULT_DCAP_KEY_WARNING = (
    "scone:dcapKey is not set: kubectl-provision will provision CAS with its default DCAP API key "
    "(all zeros), which gives no guarantee of validity or availability of the attestation collateral "
    "(acceptable only with a DCAP caching service such as PCCS, e.g. on Azure). Set your Intel PCS key "
    "with `pulumi config set --secret dcapKey <key>` before CAS is provisioned."
)


@dataclass
class CasOwnerArgs:
    """What the stack hands the owner component (built from the spec in ``components.settings_slices``)."""

    settings: OwnerSettings
    cas_name: str
    namespace: str
    service_version: str
    image_repo: str
    image_prefix: str
    supported_versions: list[str] = field(default_factory=list)  # oldest -> newest
    management_state: str = "Managed"
    dcap_key: pulumi.Output[str] | None = None
    #: The stack's cluster, as properties of every owner resource (``KubeTarget.props``; empty: ambient).
    kube: Mapping[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def identity_backup_warning(settings: OwnerSettings) -> str | None:
    """A warning when the owner identity exists but has no (identical) backup copy; read-only."""
    live = settings.target_path / "identity" / "config.json"
    if not live.is_file():
        return None
    if settings.identity_backup_dir is None:
        return (
            f"The CAS owner identity {live} has no backup copy configured: copy {live.parent} to safe storage "
            "and set provisioning.identityBackupDir to it. Without it, losing this machine loses CAS ownership."
        )
    copy = expand_dir(settings.identity_backup_dir) / "config.json"
    if _sha256(copy) != _sha256(live):
        return (
            f"provisioning.identityBackupDir has no identical copy of {live} (looked for {copy}): refresh your "
            "backup of the owner identity before upgrading or recovering CAS."
        )
    return None


class CasOwner(WaitingComponent):
    """The CAS owner's operations for one CAS: upgrade gate, provisioning, recovery, vault.

    Every owner resource is built with ``options.child``, so each waits for ``waits_for`` (the
    stack guard): no backup, upgrade, provisioning, recovery or vault runs on a change the guard
    refuses.
    """

    upgrade_gate: CasVersionGate
    public_keys: pulumi.Output[Any]
    cas_version: pulumi.Output[Any]
    backup_path: pulumi.Output[Any]
    backup_sha256: pulumi.Output[Any]

    def __init__(
        self,
        name: str,
        args: CasOwnerArgs,
        opts: pulumi.ResourceOptions | None = None,
        waits_for: Sequence[pulumi.Resource] = (),
    ) -> None:
        super().__init__("scone:index:CasOwner", name, waits_for, opts)
        settings = args.settings
        if len(args.cas_name) > MAX_CAS_NAME:
            raise ValueError(
                f"CAS name '{args.cas_name}' is {len(args.cas_name)} characters long: kubectl-provision "
                f"accepts at most {MAX_CAS_NAME}; choose a shorter CAS name"
            )
        if args.management_state not in MANAGEMENT_STATES:
            raise ValueError(f"managementState '{args.management_state}' is not allowed: use Managed or Unmanaged")
        version = version_problem(args.service_version, tuple(args.supported_versions))
        if version:
            raise ValueError(version)
        managed = args.management_state == "Managed"

        if settings.enabled:
            if not settings.target_path.is_dir():
                pulumi.log.warn(
                    f"provisioning.targetDir {settings.target_path} does not exist on this machine: "
                    "owner operations will fail their preflight until it does",
                    resource=self,
                )
            warning = identity_backup_warning(settings)
            if warning:
                pulumi.log.warn(warning, resource=self)
            if args.dcap_key is None and managed:
                pulumi.log.warn(DEFAULT_DCAP_KEY_WARNING, resource=self)
            if managed and settings.recovery.snapshot_dir:
                pulumi.log.warn(
                    "provisioning.recovery.snapshotDir is ignored while managementState is Managed "
                    "(recovery runs only Unmanaged); remove it once a recovery is done",
                    resource=self,
                )

        common = self._common_props(args)
        gate_deps: list[pulumi.Resource] = []
        upgrade: CasUpgrade | None = None
        recovery: CasRecovery | None = None
        if settings.enabled and managed:
            upgrade = CasUpgrade(f"{name}-cas-upgrade", common, child(self))
            gate_deps.append(upgrade)
        if settings.enabled and not managed and settings.recovery.snapshot_dir:
            recovery = CasRecovery(
                f"{name}-cas-recovery",
                {**common, "snapshotDir": str(expand_dir(settings.recovery.snapshot_dir))},
                child(self),
            )
            gate_deps.append(recovery)

        self.upgrade_gate = CasVersionGate(
            f"{name}-cas-version-gate",
            {
                "casName": args.cas_name,
                "namespace": args.namespace,
                "version": args.service_version,
                "ownerManaged": settings.enabled,
                "kubectl": KUBECTL,
                **args.kube,
            },
            child(self, depends_on=gate_deps),
        )
        self._name, self._args, self._common = name, args, common
        self._upgrade, self._recovery = upgrade, recovery
        self._completed = False
        self.backup_path = upgrade.backup_path if upgrade else pulumi.Output.from_input(None)
        self.backup_sha256 = upgrade.backup_sha256 if upgrade else pulumi.Output.from_input(None)
        self.cas_version = self.upgrade_gate.cas_version
        self.public_keys = recovery.public_keys if recovery else pulumi.Output.from_input(None)

    def complete(self, cas_cr: pulumi.Resource | None) -> None:
        """Second phase: provisioning (and vault) once the CAS CR resource exists; registers outputs.

        Why two phases: the CAS CR needs the operator, the operator needs ``upgrade_gate``; so the
        stack builds ``CasOwner`` (gate) first, then the operator and the CAS CR, then calls this.
        """
        if self._completed:
            raise RuntimeError("CasOwner.complete() was already called")
        self._completed = True
        args, settings = self._args, self._args.settings
        if settings.enabled and args.management_state == "Managed":
            deps: list[pulumi.Resource] = [self.upgrade_gate] + ([cas_cr] if cas_cr is not None else [])
            provisioning = CasProvisioning(f"{self._name}-cas-provisioning", self._common, child(self, depends_on=deps))
            self.public_keys = provisioning.public_keys
            # The gate reads CAS before it exists on a first install; provisioning reads it after.
            self.cas_version = pulumi.Output.all(provisioning.cas_version, self.upgrade_gate.cas_version).apply(
                lambda versions: versions[0] or versions[1]
            )
            if settings.vault.enabled:
                VaultProvisioning(
                    f"{self._name}-vault-{settings.vault.name}",
                    {**self._common, "vaultName": settings.vault.name},
                    child(self, depends_on=[provisioning]),
                )
        self.register_outputs(
            {
                "publicKeys": self.public_keys,
                "casVersion": self.cas_version,
                "backupPath": self.backup_path,
                "backupSha256": self.backup_sha256,
            }
        )

    @staticmethod
    def _common_props(args: CasOwnerArgs) -> dict[str, Any]:
        settings = args.settings
        backup = settings.backup_path
        props: dict[str, Any] = {
            "casName": args.cas_name,
            "namespace": args.namespace,
            "version": args.service_version,
            "imageRepo": args.image_repo,
            "imagePrefix": args.image_prefix,
            "targetDir": str(settings.target_path),
            "backupDir": str(backup) if backup else None,
            "workDir": str((backup or settings.target_path) / "work" / f"{args.cas_name}-{args.namespace}"),
            "timeoutSeconds": settings.plugin_timeout_seconds,
            "maxAttempts": settings.max_attempts,
            "backoffSeconds": settings.backoff_seconds,
            "supportedVersions": list(args.supported_versions),
            "kubectl": KUBECTL,
            **args.kube,
        }
        if args.dcap_key is not None:
            props["dcapKey"] = pulumi.Output.secret(args.dcap_key)
        return props
