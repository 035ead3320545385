"""An OCI registry on loopback holding Helm charts as OCI artifacts, as `helm push` leaves them.

The registry is go-containerregistry's (``crane registry serve``, built by ``e2e/build_tools.sh
image``), a real implementation of the OCI distribution API, serving plain HTTP on 127.0.0.1.
Helm's registry client tries HTTPS first and falls back to HTTP when the answer is not TLS, so
the kubernetes provider's Release pulls from it without any insecure option.

``push_chart`` uploads a chart tgz the way ``helm push`` stores it: a config blob (the chart's
Chart.yaml as JSON, media type ``application/vnd.cncf.helm.config.v1+json``), one layer (the tgz
as released, ``application/vnd.cncf.helm.chart.content.v1.tar+gzip``) and an OCI image manifest
tagged with the chart's version (``+`` becomes ``_``, which a tag cannot hold).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from e2e.harness.loopback_http import LoopbackHttpServer
from e2e.harness.processes import Child, start_child, wait_until
from e2e.harness.tools import BUILD_SCRIPT, cache_dir
from e2e.harness.upstream_charts import chart_metadata

CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
PORT_LINE = re.compile(r"serving on port (\d+)")


def crane_binary() -> Path:
    """The built ``crane``, built first (``build_tools.sh image``, minutes when cold) when it is missing.

    Raises naming the command when the build fails."""
    path = cache_dir() / "bin" / "crane"
    if not path.is_file():
        built = subprocess.run([str(BUILD_SCRIPT), "image"], capture_output=True, text=True, check=False)
        if built.returncode != 0 or not path.is_file():
            raise FileNotFoundError(f"crane is not built (expected at {path}) and `{BUILD_SCRIPT} image` failed:"
                                    f"\n{built.stdout[-3000:]}\n{built.stderr[-3000:]}")
    return path


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class OciRegistry:
    """``with OciRegistry(workdir) as registry: registry.host`` — crane's registry on 127.0.0.1."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.child: Child | None = None
        self.port = 0

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``: the registry part of a reference."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> OciRegistry:
        blobs = self.workdir / "blobs"
        blobs.mkdir(parents=True, exist_ok=True)
        self.child = start_child("oci-registry", [str(crane_binary()), "registry", "serve", "--address",
                                                  "127.0.0.1:0", "--disk", str(blobs)], self.workdir)
        child = self.child

        def port_logged() -> bool:
            found = PORT_LINE.search(child.log_path.read_text(errors="replace"))
            if found:
                self.port = int(found.group(1))
            return found is not None

        wait_until("crane registry serve to report its port", port_logged, [child], attempts=3000, interval=0.1)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self.child is not None:
            self.child.stop()

    def _url(self, path: str) -> str:
        return f"http://{self.host}{path}"

    def _request(self, method: str, url: str, body: bytes = b"", content_type: str = "") -> tuple[int, Any]:
        request = urllib.request.Request(url, data=body if method != "GET" else None, method=method)  # noqa: S310
        if content_type:
            request.add_header("Content-Type", content_type)
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310 (loopback, http only)
            return int(response.status), response.headers

    def _upload_blob(self, repository: str, data: bytes) -> dict[str, Any]:
        digest = _digest(data)
        _, headers = self._request("POST", self._url(f"/v2/{repository}/blobs/uploads/"))
        location = urllib.parse.urljoin(self._url("/"), headers["Location"])
        joiner = "&" if "?" in location else "?"
        status, _ = self._request("PUT", f"{location}{joiner}digest={urllib.parse.quote(digest)}", data,
                                  "application/octet-stream")
        assert status == 201, f"blob upload answered {status}"
        return {"digest": digest, "size": len(data)}

    def push_chart(self, repository: str, tgz: Path) -> str:
        """Push ``tgz`` to ``<host>/<repository>:<chart version>``; return the manifest's digest."""
        meta = chart_metadata(tgz)
        config = json.dumps(meta, separators=(",", ":")).encode()
        chart = tgz.read_bytes()
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {"mediaType": CONFIG_MEDIA_TYPE, **self._upload_blob(repository, config)},
            "layers": [{"mediaType": CHART_MEDIA_TYPE, **self._upload_blob(repository, chart),
                        "annotations": {"org.opencontainers.image.title": tgz.name}}],
            "annotations": {"org.opencontainers.image.title": str(meta["name"]),
                            "org.opencontainers.image.version": str(meta["version"])},
        }
        body = json.dumps(manifest).encode()
        tag = str(meta["version"]).replace("+", "_")
        status, _ = self._request("PUT", self._url(f"/v2/{repository}/manifests/{tag}"), body, MANIFEST_MEDIA_TYPE)
        assert status == 201, f"manifest upload answered {status}"
        return _digest(body)

    def tags(self, repository: str) -> list[str]:
        """The tags the registry lists for ``repository``."""
        with urllib.request.urlopen(self._url(f"/v2/{repository}/tags/list"), timeout=120) as response:  # noqa: S310
            return list(json.load(response).get("tags") or [])


class _QuietServer(ThreadingHTTPServer):
    """Does not print a client that hung up (Helm closes its TLS attempt on the plain-HTTP answer)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoginFront(LoopbackHttpServer):
    """A registry that wants a login: HTTP basic auth on every path in front of ``OciRegistry``.

    Stands for a private registry (a mirror of Scontain's charts): a request without the right
    ``Authorization: Basic`` header gets 401 with a ``WWW-Authenticate: Basic`` challenge, as the
    distribution API's basic-auth registries answer; others are forwarded to crane's registry.
    ``requests`` records (method, path, status) of every request.
    """

    def __init__(self, upstream: OciRegistry, username: str, password: str) -> None:
        self.upstream = upstream
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.requests: list[tuple[str, str, int]] = []
        super().__init__("oci-login-front", _QuietServer)

    def statuses(self) -> list[int]:
        with self._lock:
            return [status for _, _, status in self.requests]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # A request line it cannot parse (a TLS ClientHello) gets a status line, as Go's and
            # most servers answer; Python's default (HTTP/0.9) would send a bare body, and Helm's
            # registry client falls back to plain HTTP only on an answer starting "HTTP/".
            default_request_version = "HTTP/1.0"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.headers.get("Authorization") != front.expected:
                    status, headers, payload = 401, {"WWW-Authenticate": 'Basic realm="scone-mirror"',
                                                     "Content-Type": "application/json"}, b'{"errors":[]}'
                else:
                    status, headers, payload = self._forward(body)
                with front._lock:
                    front.requests.append((self.command, self.path, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload) if self.command != "HEAD" else
                                                       int(headers.get("Content-Length") or 0)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
                connection = http.client.HTTPConnection("127.0.0.1", front.upstream.port, timeout=120)
                try:
                    forwarded = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "authorization")}
                    connection.request(self.command, self.path, body=body or None, headers=forwarded)
                    response = connection.getresponse()
                    payload = response.read()
                    keep = {k: v for k, v in response.getheaders()
                            if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                    return response.status, keep, payload
                finally:
                    connection.close()

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = _serve  # noqa: N815

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


def registry_config(host: str, username: str, password: str, path: Path) -> Path:
    """Helm's registry config (what ``helm registry login <host>`` writes): the login for ``host``."""
    auth = base64.b64encode(f"{username}:{password}".encode()).decode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"auths": {host: {"auth": auth}}}))
    path.chmod(0o600)
    return path
