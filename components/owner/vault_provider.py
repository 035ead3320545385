"""``VaultProvisioning``: ``kubectl provision vault``, run only while the Vault CR does not exist.

Why the existence check: upstream is not idempotent for a Vault — a second run exits 1 ("We currently
do not support re-provisioning an existing vault"). A run that fails after creating the Vault CR (its
last step) is not retried into that error. Deleting this resource never deletes the Vault.
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

from components.owner.plugin import PluginError
from components.owner.provider_base import OWNER_KEYS, OwnerProps, changed_keys, check_common, public_outputs
from components.provider_errors import user_facing_errors


@user_facing_errors
class VaultProvisioningProvider(ResourceProvider):
    """``kubectl provision vault`` guarded by an existence check (upstream fails on a second run)."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = check_common(news)
        if news.get("vaultName") in (None, ""):
            failures.append(CheckFailure("vaultName", "provisioning.vault.name is required"))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, (*OWNER_KEYS, "vaultName"))
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
