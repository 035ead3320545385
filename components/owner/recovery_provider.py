"""``CasRecovery``: one ``--cas-database-recovery`` run — a new CAS from a snapshot, never over an existing one.

Why the refusals come first: upstream creates a new CAS from the snapshot; an existing CAS CR or its
database volume would be in the way (or, for the volume, silently lost), so both must be removed on
purpose by the owner, with the exact steps printed. A recovery happens once; later setting changes
are only recorded. Runs only with managementState Unmanaged (see the owner component).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult

from components.owner.backup import BackupError, check_snapshot_dir, digest_dir
from components.owner.cas_queries import read_public_keys, verify
from components.owner.provider_base import (
    OWNER_KEYS,
    OwnerProps,
    cas_args,
    changed_keys,
    check_common,
    fail,
    public_outputs,
)
from components.provider_errors import user_facing_errors


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
        failures = check_common(news)
        if news.get("snapshotDir") in (None, ""):
            failures.append(CheckFailure("snapshotDir", "provisioning.recovery.snapshotDir is required for a recovery"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces: list[str] = [
            k for k in ("casName", "namespace") if k in changed_keys(olds, news, ("casName", "namespace"))
        ]
        changed = changed_keys(olds, news, (*OWNER_KEYS, "snapshotDir"))
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = OwnerProps.of(props)
        snapshot = Path(str(props["snapshotDir"]))
        p.preflight(need_identity=True)
        cluster = p.cluster()
        cas_exists = cluster.cas(p.cas_name, p.namespace) is not None
        pvc_exists = cluster.database_pvc_exists(p.cas_name, p.namespace)
        if cas_exists or pvc_exists:
            raise fail(recovery_refusal(p, snapshot, cas_exists, pvc_exists))
        try:
            check_snapshot_dir(snapshot)
        except BackupError as exc:
            raise fail(
                f"Refusing to recover CAS '{p.cas_name}': {exc}. Set provisioning.recovery.snapshotDir to a "
                "pre-upgrade backup, a --local-backup copy or a snapshot restored from S3."
            ) from exc
        _sums, sha = digest_dir(snapshot)

        def started() -> str | None:
            if cluster.cas(p.cas_name, p.namespace) is not None or cluster.database_pvc_exists(p.cas_name, p.namespace):
                return "the failed run already created the CAS CR or its volume; a recovery cannot be re-run over it"
            return None

        p.runner().run(
            cas_args(p, "--cas-database-recovery", str(snapshot)), "CAS database recovery", stop_retrying=started
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
