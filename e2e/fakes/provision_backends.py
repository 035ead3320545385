"""Where the fake kubectl-provision reads and writes the cluster: real kubectl, or the JSON-file store."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any, ClassVar

from e2e.fakes.cluster_store import ClusterStore, StoreError, apply_json_patch
from e2e.fakes.provision_cli import Exit


class DirBackend:
    def __init__(self, root: str) -> None:
        self.store = ClusterStore(root)

    def namespace_exists(self, ns: str) -> bool:
        return self.store.exists("namespaces", None, ns)

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return self.store.get(plural, ns, name)
        except StoreError:
            return None

    def create(self, plural: str, ns: str, obj: dict[str, Any]) -> None:
        self.store.create(plural, ns, obj)

    def patch_json(self, plural: str, ns: str, name: str, ops: list[dict[str, Any]]) -> None:
        old = self.store.get(plural, ns, name)
        new = apply_json_patch(old, ops)
        new["status"] = old.get("status", {})
        self.store.replace(plural, ns, new)


class KubectlBackend:
    """Real ``kubectl``; the resource names are fully qualified so no other CRD can shadow them."""

    QUALIFIED: ClassVar[dict[str, str]] = {
        "cas": "cas.services.scone.cloud",
        "vaults": "vaults.services.scone.cloud",
        "persistentvolumeclaims": "persistentvolumeclaims",
        "namespaces": "namespaces",
    }

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", *args], input=stdin, check=False, capture_output=True, text=True)

    def namespace_exists(self, ns: str) -> bool:
        return self._run(["get", "namespace", ns, "-o", "name"]).returncode == 0

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        result = self._run(["get", self.QUALIFIED[plural], name, "-n", ns, "-o", "json", "--ignore-not-found"])
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise Exit(result.returncode)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def create(self, plural: str, ns: str, obj: dict[str, Any]) -> None:
        result = self._run(["create", "--validate=false", "-n", ns, "-f", "-"], stdin=json.dumps(obj))
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise Exit(result.returncode)
        print(result.stdout, end="")

    def patch_json(self, plural: str, ns: str, name: str, ops: list[dict[str, Any]]) -> None:
        for _attempt in range(5):  # upstream retries the CR patch 5 times
            result = self._run(["patch", self.QUALIFIED[plural], name, "-n", ns, "--type=json", "-p", json.dumps(ops)])
            if result.returncode == 0:
                print(result.stdout, end="")
                return
            time.sleep(0.2)
        sys.stderr.write(result.stderr)
        raise Exit(result.returncode)
