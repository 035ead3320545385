"""A directory of JSON files that stands in for the few Kubernetes objects the owner code touches.

Why: SCONE's operator, its webhooks and a kube-apiserver do not run on this machine. The unit tests
still need a "cluster" that holds CAS and Vault CRs, PVCs and namespaces, and that reacts like the
SCONE operator would (status fields, the CAS database PVC). Both the fake ``kubectl-provision``
(``dir`` backend) and the loopback API server (``apiserver.py``, used through real ``kubectl``) read
and write this same store, so a test can mix both views.

Layout: ``<root>/<group or core>/<plural>/<namespace or _cluster>/<name>.json``.
Only the standard library is used: the fake plugin runs under whatever ``python3`` is on PATH.
"""

from __future__ import annotations

import copy
import datetime
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.live_cluster import image_tag

CAS_GROUP = "services.scone.cloud"
CAS_VERSION = "v1beta1"


@dataclass(frozen=True)
class Kind:
    """One resource type the store knows: its API group, version, plural, kind and scope."""

    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS: dict[str, Kind] = {
    "namespaces": Kind("", "v1", "namespaces", "Namespace", False),
    "persistentvolumeclaims": Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True),
    "cas": Kind(CAS_GROUP, CAS_VERSION, "cas", "CAS", True),
    "vaults": Kind(CAS_GROUP, CAS_VERSION, "vaults", "Vault", True),
}


class StoreError(Exception):
    """A Kubernetes-style failure: ``code`` is the HTTP status, ``reason`` the Status reason."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message


class ClusterStore:
    """CRUD on JSON files, with a built-in simulation of the SCONE operator's reactions."""

    def __init__(self, root: Path | str, simulate_operator: bool = True) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.simulate_operator = simulate_operator

    # -- paths and locking -------------------------------------------------------------------
    def _dir(self, kind: Kind, namespace: str | None) -> Path:
        return (
            self.root
            / (kind.group or "core")
            / kind.plural
            / (namespace if kind.namespaced and namespace else "_cluster")
        )

    @contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.root / ".lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _path(self, kind: Kind, namespace: str | None, name: str) -> Path:
        return self._dir(kind, namespace) / f"{name}.json"

    def _write(self, kind: Kind, namespace: str | None, obj: dict[str, Any]) -> None:
        path = self._path(kind, namespace, obj["metadata"]["name"])
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True))
        os.replace(tmp, path)

    def _check_namespace(self, kind: Kind, namespace: str | None) -> None:
        if kind.namespaced and not self._path(KINDS["namespaces"], None, namespace or "").exists():
            raise StoreError(404, "NotFound", f'namespaces "{namespace}" not found')

    # -- public API -----------------------------------------------------------------------------
    def get(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        kind = KINDS[plural]
        path = self._path(kind, namespace, name)
        if not path.exists():
            raise StoreError(404, "NotFound", f'{plural}{"." + kind.group if kind.group else ""} "{name}" not found')
        result: dict[str, Any] = json.loads(path.read_text())
        return result

    def exists(self, plural: str, namespace: str | None, name: str) -> bool:
        return self._path(KINDS[plural], namespace, name).exists()

    def list(self, plural: str, namespace: str | None) -> list[dict[str, Any]]:
        kind = KINDS[plural]
        base = self.root / (kind.group or "core") / kind.plural
        dirs = (
            [self._dir(kind, namespace)]
            if (namespace or not kind.namespaced)
            else sorted(p for p in base.glob("*") if p.is_dir())
        )
        items = []
        for directory in dirs:
            for path in sorted(directory.glob("*.json")):
                items.append(json.loads(path.read_text()))
        return items

    def create(self, plural: str, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS[plural]
        obj = copy.deepcopy(obj)
        meta = obj.setdefault("metadata", {})
        name = meta.get("name")
        if not name:
            raise StoreError(422, "Invalid", "metadata.name: Required value")
        with self._lock():
            self._check_namespace(kind, namespace)
            if self._path(kind, namespace, name).exists():
                raise StoreError(
                    409, "AlreadyExists", f'{plural}{"." + kind.group if kind.group else ""} "{name}" already exists'
                )
            obj["apiVersion"] = kind.api_version
            obj["kind"] = kind.kind
            if kind.namespaced:
                meta["namespace"] = namespace
            meta["uid"] = str(uuid.uuid4())
            meta["resourceVersion"] = "1"
            meta["creationTimestamp"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            if kind.plural == "namespaces":
                obj.setdefault("status", {"phase": "Active"})
            self._react(kind, namespace, obj, created=True)
            self._write(kind, namespace, obj)
        return obj

    def replace(self, plural: str, namespace: str | None, obj: dict[str, Any]) -> dict[str, Any]:
        kind = KINDS[plural]
        obj = copy.deepcopy(obj)
        with self._lock():
            old = self.get(plural, namespace, obj["metadata"]["name"])
            meta = obj["metadata"]
            for key in ("uid", "creationTimestamp", "namespace"):
                if key in old["metadata"]:
                    meta[key] = old["metadata"][key]
            meta["resourceVersion"] = str(int(old["metadata"].get("resourceVersion", "1")) + 1)
            obj["apiVersion"] = kind.api_version
            obj["kind"] = kind.kind
            self._react(kind, namespace, obj, created=False)
            self._write(kind, namespace, obj)
        return obj

    def delete(self, plural: str, namespace: str | None, name: str) -> dict[str, Any]:
        kind = KINDS[plural]
        with self._lock():
            obj = self.get(plural, namespace, name)
            self._path(kind, namespace, name).unlink()
        return obj

    # -- the simulated SCONE operator -----------------------------------------------------------
    def _react(self, kind: Kind, namespace: str | None, obj: dict[str, Any], created: bool) -> None:
        """What the SCONE operator would do when a CR is written (instantly, for unit tests).

        CAS: a StatefulSet whose volume claim template creates PVC ``database-<name>-0`` (which
        outlives the CR), and a status whose ``version`` follows ``spec.image``.
        Vault: ``status.state`` HEALTHY.
        """
        if not self.simulate_operator:
            return
        if kind.plural == "cas":
            spec = obj.get("spec", {})
            status = obj.setdefault("status", {})
            status.update({"state": "HEALTHY", "phase": "HEALTHY", "version": image_tag(spec.get("image", ""))})
            pvc_name = f"database-{obj['metadata']['name']}-0"
            pvc_kind = KINDS["persistentvolumeclaims"]
            if created and not self._path(pvc_kind, namespace, pvc_name).exists():
                pvc = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": pvc_name,
                        "namespace": namespace,
                        "uid": str(uuid.uuid4()),
                        "resourceVersion": "1",
                    },
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                    "status": {"phase": "Bound"},
                }
                self._write(pvc_kind, namespace, pvc)
        elif kind.plural == "vaults":
            obj.setdefault("status", {})["state"] = "HEALTHY"


def apply_json_patch(doc: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: PLR0912
    """RFC 6902 ``add``/``replace``/``remove``/``test`` (what ``kubectl patch --type=json`` sends)."""
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        parent: Any = doc
        for part in parts[:-1]:
            if isinstance(parent, list):
                parent = parent[int(part)]
            else:
                if part not in parent:
                    raise StoreError(422, "Invalid", f"missing path {op['path']}")
                parent = parent[part]
        last = parts[-1]
        if op["op"] in ("add", "replace"):
            if isinstance(parent, list):
                if last == "-":
                    parent.append(op["value"])
                else:
                    parent.insert(int(last), op["value"]) if op["op"] == "add" else parent.__setitem__(
                        int(last), op["value"]
                    )
            else:
                if op["op"] == "replace" and last not in parent:
                    raise StoreError(422, "Invalid", f"replace of missing path {op['path']}")
                parent[last] = op["value"]
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        elif op["op"] == "test":
            if parent[int(last) if isinstance(parent, list) else last] != op["value"]:
                raise StoreError(422, "Invalid", f"test failed at {op['path']}")
        else:
            raise StoreError(422, "Invalid", f"unsupported op {op['op']}")
    return doc


def apply_merge_patch(doc: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (``kubectl patch --type=merge``; also used for strategic merge here)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_merge_patch(result.get(key), value)
    return result
