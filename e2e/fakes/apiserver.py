"""A loopback HTTP server that speaks enough of the Kubernetes API for real ``kubectl``.

Why: the owner code reads the cluster with real ``kubectl`` (namespace present? CAS CR and its
version? PVC ``database-<name>-0``? Vault CR?), and the fake ``kubectl-provision`` can act through
real ``kubectl`` too. No kube-apiserver runs in the unit-test environment, so this serves a
``ClusterStore`` (a directory of JSON files) over HTTP on 127.0.0.1: legacy discovery, GET/LIST,
POST, PUT, PATCH (json, merge, strategic-as-merge) and DELETE for namespaces, PVCs, CAS and Vault.
CAS and Vault have a status subresource as in the real CRDs: writes to the main resource keep the
stored status.

Use ``FakeApiServer(store_dir).start()`` then ``write_kubeconfig(path)``; ``stop()`` at the end.
Standard library only.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from e2e.fakes.cluster_store import KINDS, ClusterStore, StoreError, apply_json_patch, apply_merge_patch

_PATH = re.compile(
    r"^/(?:api/v1|apis/(?P<group>[^/]+)/(?P<version>[^/]+))"
    r"(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>status))?$"
)
_NS_PATH = re.compile(r"^/api/v1/namespaces(?:/(?P<name>[^/]+))?$")
_STATUS_SUBRESOURCE = {"cas", "vaults"}
_SHORT_NAMES = {"namespaces": ["ns"], "persistentvolumeclaims": ["pvc"]}


def _resource_list(group_version: str, plurals: list[str]) -> dict[str, Any]:
    resources = []
    for plural in plurals:
        kind = KINDS[plural]
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        resources.append(
            {
                "name": plural,
                "singularName": kind.kind.lower(),
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": verbs,
                "shortNames": _SHORT_NAMES.get(plural, []),
            }
        )
        if plural in _STATUS_SUBRESOURCE:
            resources.append(
                {
                    "name": f"{plural}/status",
                    "singularName": "",
                    "namespaced": True,
                    "kind": kind.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _status(self, err: StoreError) -> None:
        self._send(
            err.code,
            {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": err.message,
                "reason": err.reason,
                "code": err.code,
            },
        )

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _route(self) -> tuple[str, str | None, str | None, str | None] | None:
        path = urlparse(self.path).path.rstrip("/")
        match = _NS_PATH.match(path)
        if match:
            return "namespaces", None, match.group("name"), None
        match = _PATH.match(path)
        if not match or match.group("plural") not in KINDS:
            return None
        return match.group("plural"), match.group("ns"), match.group("name"), match.group("sub")

    def _discovery(self, path: str) -> bool:
        port = self.server.server_address[1]
        if path == "/version":
            self._send(200, {"major": "1", "minor": "26", "gitVersion": "v1.26.15", "platform": "linux/amd64"})
        elif path == "/api":
            self._send(
                200,
                {
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{port}"}],
                },
            )
        elif path == "/apis":
            self._send(
                200,
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        {
                            "name": "services.scone.cloud",
                            "versions": [{"groupVersion": "services.scone.cloud/v1beta1", "version": "v1beta1"}],
                            "preferredVersion": {"groupVersion": "services.scone.cloud/v1beta1", "version": "v1beta1"},
                        }
                    ],
                },
            )
        elif path == "/api/v1":
            self._send(200, _resource_list("v1", ["namespaces", "persistentvolumeclaims"]))
        elif path == "/apis/services.scone.cloud/v1beta1":
            self._send(200, _resource_list("services.scone.cloud/v1beta1", ["cas", "vaults"]))
        else:
            return False
        return True

    def do_GET(self) -> None:
        path = urlparse(self.path).path.rstrip("/") or "/"
        if self._discovery(path):
            return
        route = self._route()
        if route is None:
            self._status(StoreError(404, "NotFound", f"the server could not find the requested resource ({path})"))
            return
        plural, ns, name, _sub = route
        store = self.server.store
        try:
            if name:
                self._send(200, store.get(plural, ns, name))
            else:
                kind = KINDS[plural]
                self._send(
                    200,
                    {
                        "kind": f"{kind.kind}List",
                        "apiVersion": kind.api_version,
                        "metadata": {"resourceVersion": "1"},
                        "items": store.list(plural, ns),
                    },
                )
        except StoreError as err:
            self._status(err)

    def do_POST(self) -> None:
        route = self._route()
        if route is None or route[2]:
            self._status(StoreError(405, "MethodNotAllowed", "POST only on collections"))
            return
        plural, ns, _name, _sub = route
        try:
            self._send(201, self.server.store.create(plural, ns, self._body()))
        except StoreError as err:
            self._status(err)

    def _write(self, new_obj_from: Any) -> None:
        route = self._route()
        if route is None or not route[2]:
            self._status(StoreError(405, "MethodNotAllowed", "write needs a named object"))
            return
        plural, ns, name, sub = route
        name = name or ""
        store = self.server.store
        try:
            old = store.get(plural, ns, name)
            new = new_obj_from(old)
            if plural in _STATUS_SUBRESOURCE:
                if sub == "status":
                    new = {**old, "status": new.get("status", {})}
                else:
                    new["status"] = old.get("status", {})
            new.setdefault("metadata", {})["name"] = name
            self._send(200, store.replace(plural, ns, new))
        except StoreError as err:
            self._status(err)

    def do_PUT(self) -> None:
        body = self._body()
        self._write(lambda _old: body)

    def do_PATCH(self) -> None:
        body = self._body()
        ctype = (self.headers.get("Content-Type") or "").split(";")[0]
        if ctype == "application/json-patch+json":
            self._write(lambda old: apply_json_patch(old, body))
        else:  # merge-patch and strategic-merge-patch (no list merge keys on these kinds)
            self._write(lambda old: apply_merge_patch(old, body))

    def do_DELETE(self) -> None:
        route = self._route()
        if route is None or not route[2]:
            self._status(StoreError(405, "MethodNotAllowed", "DELETE needs a named object"))
            return
        plural, ns, name, _sub = route
        name = name or ""
        self._body()  # DeleteOptions; read so the connection stays in sync
        try:
            self._send(200, self.server.store.delete(plural, ns, name))
        except StoreError as err:
            self._status(err)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, store: ClusterStore) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.store = store


class FakeApiServer:
    """Start/stop wrapper; ``url`` and ``write_kubeconfig`` tell real kubectl where to go."""

    def __init__(self, store_dir: Path | str) -> None:
        self.store = ClusterStore(store_dir)
        self._server = _Server(self.store)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeApiServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }
        path.write_text(json.dumps(config))
        return path
