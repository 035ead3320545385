"""A private Helm chart repository on loopback: ``index.yaml`` and chart tgz files behind HTTP basic auth.

Stands for Scontain's private chart repository (or a mirror of it): every request without the
right ``Authorization: Basic`` header gets 401 with a ``WWW-Authenticate`` challenge, as such a
repository answers. ``index.yaml`` is generated from the served tgz files' own Chart.yaml, with
their SHA-256 digests and relative URLs, the way ``helm repo index`` writes it. The served files
are read where they are (never copied). ``requests`` records (path, status) of every request.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import yaml

from e2e.harness.loopback_http import LoopbackHttpServer
from e2e.harness.upstream_charts import chart_metadata


def repository_index(charts: Sequence[Path]) -> bytes:
    """The ``index.yaml`` of a repository serving ``charts`` at their file names."""
    entries: dict[str, list[dict[str, object]]] = {}
    for tgz in charts:
        meta = chart_metadata(tgz)
        entry: dict[str, object] = {
            key: meta[key] for key in ("apiVersion", "name", "version", "appVersion", "description") if key in meta
        }
        entry["dependencies"] = meta.get("dependencies", [])
        entry["digest"] = hashlib.sha256(tgz.read_bytes()).hexdigest()
        entry["urls"] = [tgz.name]
        entry["created"] = datetime.now(UTC).isoformat()
        entries.setdefault(str(meta["name"]), []).append(entry)
    index = {"apiVersion": "v1", "entries": entries, "generated": datetime.now(UTC).isoformat()}
    return yaml.safe_dump(index, sort_keys=False).encode()


class ChartServer(LoopbackHttpServer):
    """``with ChartServer(charts, "user", "pw") as server: server.url`` — a repository on 127.0.0.1."""

    def __init__(self, charts: Sequence[Path], username: str, password: str) -> None:
        self.files = {f"/{tgz.name}": tgz for tgz in charts}
        self.index = repository_index(charts)
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.requests: list[tuple[str, int]] = []
        super().__init__("chart-server")

    @property
    def url(self) -> str:
        """The repository URL (what ``helm repo add`` would be given)."""
        return f"http://{self.host}"

    def statuses(self, path: str) -> list[int]:
        """The status of every request for ``path`` so far, in order."""
        with self._lock:
            return [status for seen, status in self.requests if seen == path]

    def _record(self, path: str, status: int) -> None:
        with self._lock:
            self.requests.append((path, status))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if self.headers.get("Authorization") != server.expected:
                    self._answer(path, 401, b"unauthorized\n", {"WWW-Authenticate": 'Basic realm="charts"'})
                elif path == "/index.yaml":
                    self._answer(path, 200, server.index, {"Content-Type": "application/x-yaml"})
                elif path in server.files:
                    body = server.files[path].read_bytes()
                    self._answer(path, 200, body, {"Content-Type": "application/gzip"})
                else:
                    self._answer(path, 404, b"not found\n", {})

            def _answer(self, path: str, status: int, body: bytes, headers: dict[str, str]) -> None:
                server._record(path, status)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: the test reads ``requests`` instead."""

        return Handler
