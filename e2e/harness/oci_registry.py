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

import hashlib
import json
import re
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from e2e.harness.processes import Child, start_child, wait_until
from e2e.harness.tools import BUILD_SCRIPT, cache_dir
from e2e.harness.upstream_charts import chart_metadata

CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json"
CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json"
PORT_LINE = re.compile(r"serving on port (\d+)")


def crane_binary() -> Path:
    """The built ``crane``; raises naming the command that builds it."""
    path = cache_dir() / "bin" / "crane"
    if not path.is_file():
        raise FileNotFoundError(f"crane is not built (expected at {path}); build it with: {BUILD_SCRIPT} image")
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
