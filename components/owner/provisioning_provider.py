"""``CasProvisioning``: takes CAS ownership with ``kubectl provision cas``, or adopts a provisioned CAS.

Why it asks before it acts: provisioning an already provisioned CAS is at best a heavy no-op and, for
a CAS that runs another version, a failure. So ``--is-provisioned`` is asked first (with the same
retries as every run); only its definite ``NO`` leads to a provisioning run, an unclear answer fails
with an error. ``read`` (refresh) asks the same question and never records "not provisioned" from an
unclear answer. Without a DCAP key the plugin falls back to its all-zero default key, which the
SCONE guide warns gives no guarantee of validity or availability; the owner component warns about it
in preview and ``up``.
"""

from __future__ import annotations

import time
from typing import Any

from pulumi.dynamic import CheckResult, CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult

from components.owner.cas_queries import is_provisioned, read_public_keys, verify
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


def provision(p: OwnerProps) -> dict[str, Any]:
    """Provision (or adopt an already provisioned) CAS, confirm it, read its public keys."""
    p.preflight(need_identity=False)
    cas = p.cluster().cas(p.cas_name, p.namespace)
    if cas is not None and cas.version not in (p.version, ""):
        raise fail(
            f"CAS '{p.cas_name}' runs {cas.version} but serviceVersion is {p.version}: the CAS-first upgrade "
            "must bring it there first (see the CasUpgrade step), or set serviceVersion to what CAS runs"
        )
    # No CAS CR yet: nothing to ask; the plugin creates the CAS and provisions it.
    adopted = cas is not None and is_provisioned(p)
    if not adopted:
        p.runner().run(cas_args(p), "CAS provisioning")
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
        return CheckResult(news, check_common(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(olds, news, OWNER_KEYS)
        drift = olds.get("provisioned") is False or olds.get("casVersion") not in (None, news.get("version"))
        replaces: list[str] = [k for k in ("casName", "namespace") if k in changed]
        return DiffResult(changes=bool(changed) or drift, replaces=replaces, delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = OwnerProps.of(props)
        return CreateResult(f"{p.namespace}/{p.cas_name}", {**public_outputs(props), **provision(p)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**public_outputs(news), **provision(OwnerProps.of(news))})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh: is CAS still there, provisioned, and on which version? Unclear answers fail the refresh."""
        p = OwnerProps.of(props)
        cas = p.cluster().cas(p.cas_name, p.namespace)
        if cas is not None:
            p.preflight(need_identity=False)  # a missing tool must not read as "not provisioned"
        provisioned = cas is not None and is_provisioned(p)
        return ReadResult(id_, {**props, "provisioned": provisioned, "casVersion": cas.version if cas else None})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None  # CAS stays provisioned: de-provisioning would lose the owner's control over CAS
