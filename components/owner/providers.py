"""Dynamic providers for the CAS owner's operations: upgrade, version gate, provisioning, recovery, vault.

Why these live here, like this:
- Pulumi pickles each provider BY REFERENCE (``components.owner.providers.<Class>``) and re-imports
  this module in the provider process started in the project root. So: the module path and the class
  names must never change (state of deployed stacks holds them), importing must have no side effects,
  and the providers keep no state on ``self`` — everything arrives in the resource's properties.
- ``check``/``diff`` run during preview: they only compare and validate properties (tolerating the
  UNKNOWN sentinel) and never start the plugin or kubectl. All cluster reads and plugin runs happen in
  ``create``/``update``/``read``, which Pulumi never calls in a preview.
- ``delete`` never de-provisions, deletes or overwrites CAS, its database, a Vault or the owner
  identity: removing those is an explicit, manual step.
- The DCAP key arrives as the secret input ``dcapKey`` and goes only into the plugin's environment;
  it is never copied into outputs, and every text that leaves a provider is ANSI-stripped and redacted.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.runtime.rpc import UNKNOWN

from components.owner.backup import BackupError, check_snapshot_dir, digest_dir, keep_backup, snapshot_source
from components.owner.cluster import Cluster, ClusterError
from components.owner.plugin import PluginEnv, PluginError, PluginResult, PluginRunner, RunPolicy, preflight
from components.provider_errors import UserFacingError, user_facing_errors

SECRET_INPUTS = ("dcapKey",)
_KEY_LINE = re.compile(r'^export (CAS_KEY|CAS_SOFTWARE_KEY|CAS_SESSION_ENCRYPTION_KEY|CAS_CERT)="(.*)"\s*$', re.M)
_KEY_NAMES = {
    "CAS_KEY": "casKey",
    "CAS_SOFTWARE_KEY": "casSoftwareKey",
    "CAS_SESSION_ENCRYPTION_KEY": "casSessionEncryptionKey",
    "CAS_CERT": "casCert",
}


class OwnerOperationError(UserFacingError):
    """A refused or failed owner operation; the text is what the user sees in ``pulumi up``."""


# -- properties ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OwnerProps:
    """The properties every owner resource carries (camelCase keys in Pulumi state)."""

    cas_name: str
    namespace: str
    version: str
    image_repo: str
    image_prefix: str
    target_dir: Path
    work_dir: Path
    backup_dir: Path | None
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    supported_versions: tuple[str, ...]
    kubectl: str
    dcap_key: str | None

    @staticmethod
    def of(props: dict[str, Any]) -> OwnerProps:
        backup = props.get("backupDir")
        return OwnerProps(
            cas_name=str(props["casName"]),
            namespace=str(props["namespace"]),
            version=str(props["version"]),
            image_repo=str(props.get("imageRepo") or ""),
            image_prefix=str(props.get("imagePrefix") or ""),
            target_dir=Path(str(props.get("targetDir") or "")),
            work_dir=Path(str(props.get("workDir") or "")),
            backup_dir=Path(str(backup)) if backup else None,
            timeout_seconds=float(props.get("timeoutSeconds") or 1800),
            max_attempts=int(props.get("maxAttempts") or 5),
            backoff_seconds=float(props["backoffSeconds"] if props.get("backoffSeconds") is not None else 10),
            supported_versions=tuple(str(v) for v in props.get("supportedVersions") or ()),
            kubectl=str(props.get("kubectl") or "kubectl"),
            dcap_key=props.get("dcapKey") or None,
        )

    def runner(self, version: str | None = None) -> PluginRunner:
        env = PluginEnv(version or self.version, self.image_repo, self.image_prefix, self.target_dir, self.dcap_key)
        return PluginRunner(
            env,
            self.work_dir,
            RunPolicy(self.timeout_seconds, self.max_attempts, self.backoff_seconds),
            kubectl=self.kubectl,
        )

    def cluster(self) -> Cluster:
        return Cluster(self.kubectl)

    def preflight(self, need_identity: bool) -> None:
        cluster = self.cluster()
        preflight(
            target_dir=self.target_dir,
            namespace=self.namespace,
            need_identity=need_identity,
            namespace_exists=lambda: cluster.namespace_exists(self.namespace),
            kubectl=self.kubectl,
        )


def public_outputs(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs minus secrets: what may be recorded as outputs."""
    return {k: v for k, v in props.items() if k not in SECRET_INPUTS and not k.startswith("__")}


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def changed_keys(olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]


# -- the version rules ----------------------------------------------------------------------------
def version_problem(version: str, supported: tuple[str, ...]) -> str | None:
    if supported and version not in supported:
        return (
            f"serviceVersion '{version}' is not in the support matrix ({', '.join(supported)}): "
            "pick a supported version"
        )
    return None


def upgrade_problem(current: str, desired: str, supported: tuple[str, ...]) -> str | None:  # noqa: PLR0911 - one return per rule
    """The guide's N-2 policy as an upgrade rule: forward, one supported version at a time."""
    if current == desired:
        return None
    problem = version_problem(desired, supported)
    if problem:
        return problem
    if not supported:
        return None
    if current not in supported:
        return (
            f"CAS runs '{current}', which is not in the support matrix ({', '.join(supported)}): "
            "an upgrade path from it cannot be checked; upgrade CAS manually to a supported version first"
        )
    step = supported.index(desired) - supported.index(current)
    if step < 0:
        return (
            f"downgrading CAS from '{current}' to '{desired}' is not supported: "
            f"keep serviceVersion at '{current}' or newer"
        )
    if step > 1:
        skipped = supported[supported.index(current) + 1 : supported.index(desired)]
        return (
            f"upgrading CAS from '{current}' to '{desired}' would skip {', '.join(skipped)}: upgrade one supported "
            f"version at a time (set serviceVersion to '{skipped[0]}', run pulumi up, then continue)"
        )
    return None


# -- plugin helpers -------------------------------------------------------------------------------
def _cas_args(p: OwnerProps, *flags: str) -> list[str]:
    return ["cas", p.cas_name, "-n", p.namespace, *flags]


def _incomplete_keys(result: PluginResult) -> str | None:
    found = {m.group(1) for m in _KEY_LINE.finditer(result.stdout)}
    missing = sorted(set(_KEY_NAMES) - found)
    return f"incomplete output, missing {', '.join(missing)}" if missing else None


def read_public_keys(p: OwnerProps, version: str | None = None) -> dict[str, str]:
    result = p.runner(version).run(
        _cas_args(p, "--print-public-keys"), "reading the CAS public keys", validate=_incomplete_keys
    )
    return {_KEY_NAMES[m.group(1)]: m.group(2) for m in _KEY_LINE.finditer(result.stdout)}


def verify(p: OwnerProps, what: str, version: str | None = None) -> None:
    p.runner(version).run(_cas_args(p, "--verify"), what)


def is_verified(p: OwnerProps) -> bool:
    """One ``--verify`` run, no retries: is this CAS provisioned and attestable right now?"""
    return p.runner().run_once(_cas_args(p, "--verify")).ok


def _fail(message: str) -> OwnerOperationError:
    return OwnerOperationError(message)


# -- CAS-first upgrade ------------------------------------------------------------------------------
def ensure_cas_version(p: OwnerProps, previous: dict[str, Any]) -> dict[str, Any]:
    """Bring a running CAS to ``p.version``: pre-upgrade backup, then ``--upgrade``, then verify."""
    cluster = p.cluster()
    outs = {
        "backupPath": previous.get("backupPath"),
        "backupSha256": previous.get("backupSha256"),
        "previousVersion": previous.get("previousVersion"),
    }
    cas = cluster.cas(p.cas_name, p.namespace)
    if cas is None:
        return {**outs, "casVersion": None, "upgraded": False}
    current = cas.version
    if current == p.version:
        return {**outs, "casVersion": current, "upgraded": False}
    problem = upgrade_problem(current, p.version, p.supported_versions)
    if problem:
        raise _fail(f"Refusing to upgrade CAS '{p.cas_name}': {problem}")
    p.preflight(need_identity=True)
    if p.backup_dir is None:
        raise _fail("Refusing to upgrade CAS: provisioning.backupDir is not set, so no pre-upgrade backup can be kept")
    old = p.runner(current)
    try:
        old.run(_cas_args(p, "--local-backup"), "pre-upgrade backup of the CAS database")
        kept = keep_backup(
            snapshot_source(p.work_dir, p.cas_name, p.namespace), p.backup_dir, p.cas_name, p.namespace, current
        )
    except (PluginError, BackupError) as exc:
        raise _fail(
            f"Refusing to upgrade CAS '{p.cas_name}' from {current} to {p.version}: the pre-upgrade backup "
            f"failed, CAS was not changed.\n{exc}"
        ) from exc

    def reached() -> str | None:
        now = cluster.cas(p.cas_name, p.namespace)
        return f"CAS already runs {p.version}" if now is not None and now.version == p.version else None

    try:
        old.run(
            _cas_args(p, "--upgrade", p.version), f"upgrading CAS from {current} to {p.version}", stop_retrying=reached
        )
    except PluginError as exc:
        if reached() is None:
            raise _fail(
                f"{exc}\nThe pre-upgrade backup is kept at {kept.path} (sha256 {kept.sha256}). "
                "The operator, LAS and SGX plugin were not changed."
            ) from exc
    verify(p, f"verifying CAS after the upgrade to {p.version}", version=p.version)
    return {
        "backupPath": str(kept.path),
        "backupSha256": kept.sha256,
        "previousVersion": current,
        "casVersion": p.version,
        "upgraded": True,
    }


_OWNER_KEYS = (
    "casName",
    "namespace",
    "version",
    "imageRepo",
    "imagePrefix",
    "targetDir",
    "workDir",
    "backupDir",
    "timeoutSeconds",
    "maxAttempts",
    "backoffSeconds",
    "supportedVersions",
    "kubectl",
)


def _check_common(news: dict[str, Any]) -> list[CheckFailure]:
    failures = []
    for key in ("casName", "namespace", "version"):
        if news.get(key) in (None, ""):
            failures.append(CheckFailure(key, f"{key} is required"))
    name = news.get("casName")
    if isinstance(name, str) and not is_unknown(name) and len(name) > 15:
        failures.append(
            CheckFailure("casName", f"CAS name '{name}' is longer than 15 characters, which kubectl-provision refuses")
        )
    version, supported = news.get("version"), news.get("supportedVersions")
    if (
        isinstance(version, str)
        and not is_unknown(version)
        and isinstance(supported, list)
        and not any(map(is_unknown, supported))
    ):
        problem = version_problem(version, tuple(supported))
        if problem:
            failures.append(CheckFailure("version", problem))
    return failures


@user_facing_errors
class CasUpgradeProvider(ResourceProvider):
    """CAS-first upgrade: runs before the operator, LAS and SGX plugin change version."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, _check_common(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, _OWNER_KEYS)
        drift = olds.get("casVersion") not in (None, news.get("version"))
        version = news.get("version")
        current = olds.get("casVersion") or olds.get("version")
        if (
            ("version" in changed or drift)
            and isinstance(current, str)
            and isinstance(version, str)
            and not is_unknown(version)
        ):
            supported = news.get("supportedVersions")
            if isinstance(supported, list) and not any(map(is_unknown, supported)):
                problem = upgrade_problem(current, version, tuple(supported))
                if problem:
                    raise _fail(f"Refusing to plan a CAS upgrade: {problem}")
        return DiffResult(changes=bool(changed) or drift, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = OwnerProps.of(props)
        return CreateResult(f"{p.namespace}/{p.cas_name}", {**public_outputs(props), **ensure_cas_version(p, {})})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**public_outputs(news), **ensure_cas_version(OwnerProps.of(news), olds)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = OwnerProps.of(props)
        cas = p.cluster().cas(p.cas_name, p.namespace)
        return ReadResult(id_, {**props, "casVersion": cas.version if cas else None})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # nothing to undo: an upgrade is never rolled back by deleting this record


# -- the gate --------------------------------------------------------------------------------------
@user_facing_errors
class CasVersionGateProvider(ResourceProvider):
    """Holds the operator, LAS and SGX plugin back until CAS runs the stack's serviceVersion.

    Needs no owner credentials: it only reads the CAS CR with kubectl (in create/update/read).
    """

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [
            CheckFailure(k, f"{k} is required")
            for k in ("casName", "namespace", "version")
            if news.get(k) in (None, "")
        ]
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, ("casName", "namespace", "version", "ownerManaged", "kubectl"))
        drift = olds.get("casVersion") not in (None, news.get("version"))
        return DiffResult(changes=bool(changed) or drift, replaces=[], delete_before_replace=False)

    def _pass(self, props: dict[str, Any]) -> dict[str, Any]:
        name, namespace, version = str(props["casName"]), str(props["namespace"]), str(props["version"])
        try:
            cas = Cluster(str(props.get("kubectl") or "kubectl")).cas(name, namespace)
        except ClusterError as exc:
            raise _fail(f"Cannot check which version CAS '{name}' runs: {exc}") from exc
        if cas is not None and cas.version != version:
            if props.get("ownerManaged"):
                hint = (
                    "the CAS upgrade (CasUpgrade) did not bring it there; see the error above and "
                    "provisioning.backupDir for the pre-upgrade backup"
                )
            else:
                hint = (
                    "set provisioning.enabled: true (with targetDir and backupDir) in this stack's config and run "
                    "pulumi up from the trusted machine holding the CAS owner identity"
                )
            raise _fail(
                f"CAS still runs {cas.version}; its owner must upgrade it first: {hint}. "
                f"The operator, LAS and SGX plugin stay on their current version until CAS runs {version}."
            )
        return {**public_outputs(props), "casVersion": cas.version if cas else None}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['namespace']}/{props['casName']}", self._pass(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._pass(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        cas = Cluster(str(props.get("kubectl") or "kubectl")).cas(str(props["casName"]), str(props["namespace"]))
        return ReadResult(id_, {**props, "casVersion": cas.version if cas else None})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


# -- provisioning ----------------------------------------------------------------------------------
def provision(p: OwnerProps) -> dict[str, Any]:
    """Provision (or adopt an already provisioned) CAS, confirm it, read its public keys."""
    p.preflight(need_identity=False)
    cas = p.cluster().cas(p.cas_name, p.namespace)
    if cas is not None and cas.version not in (p.version, ""):
        raise _fail(
            f"CAS '{p.cas_name}' runs {cas.version} but serviceVersion is {p.version}: the CAS-first upgrade "
            "must bring it there first (see the CasUpgrade step), or set serviceVersion to what CAS runs"
        )
    adopted = is_verified(p)
    if not adopted:
        p.runner().run(_cas_args(p), "CAS provisioning")
        verify(p, "confirming that CAS is provisioned and attestable")
    return {
        "provisioned": True,
        "adopted": adopted,
        "casVersion": p.version,
        "publicKeys": read_public_keys(p),
        "provisionedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


@user_facing_errors
class CasProvisioningProvider(ResourceProvider):
    """Takes CAS ownership with ``kubectl provision cas``; adopts a CAS that is already provisioned."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, _check_common(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, _OWNER_KEYS)
        drift = olds.get("provisioned") is False or olds.get("casVersion") not in (None, news.get("version"))
        replaces: list[str] = [k for k in ("casName", "namespace") if k in changed]
        return DiffResult(changes=bool(changed) or drift, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = OwnerProps.of(props)
        return CreateResult(f"{p.namespace}/{p.cas_name}", {**public_outputs(props), **provision(p)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**public_outputs(news), **provision(OwnerProps.of(news))})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: is CAS still there, provisioned and attestable, and on which version?"""
        p = OwnerProps.of(props)
        cas = p.cluster().cas(p.cas_name, p.namespace)
        if cas is not None:
            p.preflight(need_identity=False)  # a missing tool must not read as "not provisioned"
        provisioned = cas is not None and is_verified(p)
        return ReadResult(id_, {**props, "provisioned": provisioned, "casVersion": cas.version if cas else None})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # CAS stays provisioned: de-provisioning would lose the owner's control over CAS


# -- recovery --------------------------------------------------------------------------------------
def recovery_refusal(p: OwnerProps, snapshot: Path, cas_exists: bool, pvc_exists: bool) -> str:
    found = []
    if cas_exists:
        found.append(f"the CAS CR cas.services.scone.cloud/{p.cas_name}")
    if pvc_exists:
        found.append(f"its database volume persistentvolumeclaim/database-{p.cas_name}-0")
    return (
        f"Refusing to recover CAS '{p.cas_name}' in namespace '{p.namespace}' from {snapshot}: {' and '.join(found)} "
        "still exist(s); a recovery creates a NEW CAS and never overwrites an existing one. Steps:\n"
        "  1. keep scone:managementState: Unmanaged in this stack (so nothing re-creates the CAS CR);\n"
        f"  2. make sure {snapshot} holds cas.db and cas.key-store you trust (keep a copy elsewhere);\n"
        f"  3. kubectl delete cas.services.scone.cloud {p.cas_name} -n {p.namespace}\n"
        f"  4. kubectl delete pvc database-{p.cas_name}-0 -n {p.namespace}   # deletes the old database for good\n"
        "  5. run pulumi up again from this trusted machine."
    )


@user_facing_errors
class CasRecoveryProvider(ResourceProvider):
    """One-shot ``--cas-database-recovery``: a new CAS from a snapshot, never over an existing one."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _check_common(news)
        if news.get("snapshotDir") in (None, ""):
            failures.append(CheckFailure("snapshotDir", "provisioning.recovery.snapshotDir is required for a recovery"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces: list[str] = [
            k for k in ("casName", "namespace") if k in changed_keys(olds, news, ("casName", "namespace"))
        ]
        changed = changed_keys(olds, news, (*_OWNER_KEYS, "snapshotDir"))
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = OwnerProps.of(props)
        snapshot = Path(str(props["snapshotDir"]))
        p.preflight(need_identity=True)
        cluster = p.cluster()
        cas_exists = cluster.cas(p.cas_name, p.namespace) is not None
        pvc_exists = cluster.database_pvc_exists(p.cas_name, p.namespace)
        if cas_exists or pvc_exists:
            raise _fail(recovery_refusal(p, snapshot, cas_exists, pvc_exists))
        try:
            check_snapshot_dir(snapshot)
        except BackupError as exc:
            raise _fail(
                f"Refusing to recover CAS '{p.cas_name}': {exc}. Set provisioning.recovery.snapshotDir to a "
                "pre-upgrade backup, a --local-backup copy or a snapshot restored from S3."
            ) from exc
        _sums, sha = digest_dir(snapshot)

        def started() -> str | None:
            if cluster.cas(p.cas_name, p.namespace) is not None or cluster.database_pvc_exists(p.cas_name, p.namespace):
                return "the failed run already created the CAS CR or its volume; a recovery cannot be re-run over it"
            return None

        p.runner().run(
            _cas_args(p, "--cas-database-recovery", str(snapshot)), "CAS database recovery", stop_retrying=started
        )
        verify(p, "confirming that the recovered CAS is provisioned and attestable")
        outs = {
            "recoveredFrom": str(snapshot),
            "snapshotSha256": sha,
            "casVersion": p.version,
            "publicKeys": read_public_keys(p),
            "recoveredAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        return CreateResult(f"{p.namespace}/{p.cas_name}", {**public_outputs(props), **outs})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        # A recovery happens once; later setting changes are only recorded, never re-run over a live CAS.
        kept = {k: olds.get(k) for k in ("recoveredFrom", "snapshotSha256", "casVersion", "publicKeys", "recoveredAt")}
        return UpdateResult({**public_outputs(news), **kept})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # the recovered CAS stays; switching back to Managed adopts it


# -- vault -----------------------------------------------------------------------------------------
@user_facing_errors
class VaultProvisioningProvider(ResourceProvider):
    """``kubectl provision vault`` guarded by an existence check (upstream fails on a second run)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = _check_common(news)
        if news.get("vaultName") in (None, ""):
            failures.append(CheckFailure("vaultName", "provisioning.vault.name is required"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, (*_OWNER_KEYS, "vaultName"))
        replaces: list[str] = [k for k in ("vaultName", "namespace") if k in changed]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def _ensure(self, props: dict[str, Any]) -> dict[str, Any]:
        p = OwnerProps.of(props)
        vault = str(props["vaultName"])
        cluster = p.cluster()
        if cluster.vault_exists(vault, p.namespace):
            return {"vaultProvisioned": True, "adopted": True}
        p.preflight(need_identity=False)

        def exists_now() -> str | None:
            return "the Vault CR now exists" if cluster.vault_exists(vault, p.namespace) else None

        try:
            p.runner().run(
                ["vault", vault, "-n", p.namespace, "--cas", f"{p.cas_name}.{p.namespace}"],
                f"provisioning Vault '{vault}'",
                stop_retrying=exists_now,
            )
        except PluginError:
            if exists_now() is None:  # upstream creates the Vault CR as its last step
                raise
        return {"vaultProvisioned": True, "adopted": False}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(
            f"{props['namespace']}/{props['vaultName']}", {**public_outputs(props), **self._ensure(props)}
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**public_outputs(news), **self._ensure(news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = OwnerProps.of(props)
        exists = p.cluster().vault_exists(str(props["vaultName"]), p.namespace)
        return ReadResult(id_ if exists else "", props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # the Vault holds data; deleting it is an explicit manual step
