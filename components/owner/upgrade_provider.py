"""``CasUpgrade``: the CAS-first upgrade — pre-upgrade backup, ``--upgrade``, then ``--verify`` at the new version.

Why first: the operator, LAS and SGX plugin wait (through the version gate) until CAS runs the stack's
``serviceVersion``; if the backup or the upgrade fails, nothing else changes version. Every backup run
starts from a work directory cleared of earlier snapshot copies (moved into the kept history), so the
copy kept as the pre-upgrade backup is always the one this run wrote.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.owner.backup import BackupError, KeptBackup, clear_work_snapshots, keep_backup, snapshot_source
from components.owner.cas_queries import verify
from components.owner.plugin import PluginError, PluginRunner
from components.owner.provider_base import (
    OWNER_KEYS,
    OwnerProps,
    cas_args,
    changed_keys,
    check_common,
    fail,
    is_unknown,
    public_outputs,
)
from components.owner.versions import upgrade_problem
from components.provider_errors import user_facing_errors


def take_local_backup(p: OwnerProps, runner: PluginRunner, current: str) -> KeptBackup:
    """``--local-backup`` into a cleared work directory, then keep the copy it wrote under ``backupDir``."""
    assert p.backup_dir is not None
    backup_dir = p.backup_dir
    source = snapshot_source(p.work_dir, p.cas_name, p.namespace)

    def clear() -> None:
        clear_work_snapshots(p.work_dir, backup_dir, p.cas_name, p.namespace)

    runner.run(cas_args(p, "--local-backup"), "pre-upgrade backup of the CAS database", before_each=clear)
    if not source.exists():
        raise BackupError(
            f"`kubectl provision ... --local-backup` reported success but wrote no snapshot at {source} "
            "(kubectl cp can exit 0 without copying anything)"
        )
    return keep_backup(source, backup_dir, p.cas_name, p.namespace, current)


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
        raise fail(f"Refusing to upgrade CAS '{p.cas_name}': {problem}")
    p.preflight(need_identity=True)
    if p.backup_dir is None:
        raise fail("Refusing to upgrade CAS: provisioning.backupDir is not set, so no pre-upgrade backup can be kept")
    old = p.runner(current)
    try:
        kept = take_local_backup(p, old, current)
    except (PluginError, BackupError) as exc:
        raise fail(
            f"Refusing to upgrade CAS '{p.cas_name}' from {current} to {p.version}: the pre-upgrade backup "
            f"failed, CAS was not changed.\n{exc}"
        ) from exc

    def reached() -> str | None:
        now = cluster.cas(p.cas_name, p.namespace)
        return f"CAS already runs {p.version}" if now is not None and now.version == p.version else None

    try:
        old.run(
            cas_args(p, "--upgrade", p.version), f"upgrading CAS from {current} to {p.version}", stop_retrying=reached
        )
    except PluginError as exc:
        if reached() is None:
            raise fail(
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


@user_facing_errors
class CasUpgradeProvider(ResourceProvider):
    """CAS-first upgrade: runs before the operator, LAS and SGX plugin change version."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        return CheckResult(news, check_common(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, OWNER_KEYS)
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
                    raise fail(f"Refusing to plan a CAS upgrade: {problem}")
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
