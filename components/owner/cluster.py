"""Read-only cluster look-ups with ``kubectl``: CAS CR and its version, the DB PVC, Vault, namespace.

Why: the owner resources must decide *before* running the plugin whether a step is needed or safe
(is CAS already on the target version? does a CAS or its database volume still exist before a
recovery? does the Vault exist, since upstream cannot re-provision it?). These reads run only in
create/update/read, never in check/diff, so a preview touches nothing. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.kube_access import AMBIENT, KubeTarget
from components.live_cluster import CAS_RESOURCE, image_tag, read_json

VAULT_RESOURCE = "vaults.services.scone.cloud"


@dataclass(frozen=True)
class CasState:
    """What the CAS CR says about the running CAS."""

    image: str
    status_version: str | None
    state: str | None

    @property
    def version(self) -> str:
        """The version CAS runs: the tag of ``spec.image`` (the plugin's upgrade sets it last).

        Not ``status.version``: the guide itself shows a CAS provisioned with VERSION=5.8.0 that
        reports ``5.7.0-645-gf7463d920-nikolaus`` there, so it cannot gate anything.
        """
        return image_tag(self.image)


@dataclass(frozen=True)
class Cluster:
    kubectl: str = "kubectl"
    target: KubeTarget = AMBIENT

    def _get(self, resource: str, name: str, namespace: str | None) -> dict[str, Any] | None:
        """One object, or None when it (or its kind) does not exist."""
        args = ["get", resource, name, "--ignore-not-found", *(["-n", namespace] if namespace else [])]
        return read_json(self.kubectl, args, target=self.target)

    def namespace_exists(self, namespace: str) -> bool:
        return self._get("namespaces", namespace, None) is not None

    def cas(self, name: str, namespace: str) -> CasState | None:
        obj = self._get(CAS_RESOURCE, name, namespace)
        if obj is None:
            return None
        status = obj.get("status") or {}
        return CasState(
            image=(obj.get("spec") or {}).get("image", ""),
            status_version=status.get("version"),
            state=status.get("state"),
        )

    def database_pvc_exists(self, cas_name: str, namespace: str) -> bool:
        return self._get("persistentvolumeclaims", f"database-{cas_name}-0", namespace) is not None

    def vault_exists(self, name: str, namespace: str) -> bool:
        return self._get(VAULT_RESOURCE, name, namespace) is not None
