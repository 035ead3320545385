"""``CasVersionGate``: holds the operator, LAS and SGX plugin back until CAS runs the stack's serviceVersion.

Why it needs no owner credentials: it only reads the CAS CR with kubectl (in create/update/read, never
in a preview), so a stack without the owner still refuses a version bump its CAS has not made yet.
"""

from __future__ import annotations

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

from components.kube_access import KubeTarget
from components.live_cluster import ClusterError
from components.owner.cluster import Cluster
from components.owner.provider_base import changed_keys, fail, public_outputs
from components.provider_errors import user_facing_errors


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
            cas = Cluster(str(props.get("kubectl") or "kubectl"), KubeTarget.of(props)).cas(name, namespace)
        except ClusterError as exc:
            raise fail(f"Cannot check which version CAS '{name}' runs: {exc}") from exc
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
            raise fail(
                f"CAS still runs {cas.version}; its owner must upgrade it first: {hint}. "
                f"The operator, LAS and SGX plugin stay on their current version until CAS runs {version}."
            )
        return {**public_outputs(props), "casVersion": cas.version if cas else None}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['namespace']}/{props['casName']}", self._pass(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._pass(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        cas = Cluster(str(props.get("kubectl") or "kubectl"), KubeTarget.of(props)).cas(
            str(props["casName"]), str(props["namespace"])
        )
        return ReadResult(id_, {**props, "casVersion": cas.version if cas else None})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
