"""Prometheus metrics: a tiny /metrics HTTP endpoint and/or an atomically written textfile.

Why hand-rolled: five metrics do not justify a dependency, and the names are a contract with the
monitoring component's alerts, so they are spelled out here exactly once.
"""

from __future__ import annotations

import os
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .errors import FAILURE_KINDS

LAST_SUCCESS = "scone_backupper_last_success_timestamp_seconds"
LAST_SIZE = "scone_backupper_last_backup_size_bytes"
LAST_DURATION = "scone_backupper_last_run_duration_seconds"
FAILURES = "scone_backupper_failures_total"
RUNS = "scone_backupper_runs_total"
RUN_RESULTS = ("uploaded", "skipped", "failed")


class Metrics:
    """Thread-safe metric values of this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_success = 0.0
        self.last_size = 0.0
        self.last_duration = 0.0
        self.failures: dict[str, int] = dict.fromkeys(FAILURE_KINDS, 0)
        self.runs: dict[str, int] = dict.fromkeys(RUN_RESULTS, 0)

    def record_run(
        self,
        result: str,
        duration: float,
        finished_at: float,
        size: int | None = None,
        failure_kind: str | None = None,
    ) -> None:
        """Record one finished run (uploaded, skipped or failed)."""
        with self._lock:
            self.runs[result] = self.runs.get(result, 0) + 1
            self.last_duration = duration
            if result in ("uploaded", "skipped"):
                self.last_success = finished_at
                if size is not None:
                    self.last_size = float(size)
            if failure_kind is not None:
                self.failures[failure_kind] = self.failures.get(failure_kind, 0) + 1

    def record_failure(self, kind: str) -> None:
        """Count a failure that did not fail the run (e.g. retention)."""
        with self._lock:
            self.failures[kind] = self.failures.get(kind, 0) + 1

    def render(self) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        with self._lock:
            lines = [
                f"# HELP {LAST_SUCCESS} Unix time of the last run that uploaded or skipped.",
                f"# TYPE {LAST_SUCCESS} gauge",
                f"{LAST_SUCCESS} {self.last_success:.3f}",
                f"# HELP {LAST_SIZE} Plain bytes of the snapshot in the last successful run.",
                f"# TYPE {LAST_SIZE} gauge",
                f"{LAST_SIZE} {self.last_size:.0f}",
                f"# HELP {LAST_DURATION} Duration of the last run in seconds.",
                f"# TYPE {LAST_DURATION} gauge",
                f"{LAST_DURATION} {self.last_duration:.3f}",
                f"# HELP {FAILURES} Failures by kind.",
                f"# TYPE {FAILURES} counter",
            ]
            lines += [f'{FAILURES}{{kind="{k}"}} {v}' for k, v in sorted(self.failures.items())]
            lines += [f"# HELP {RUNS} Runs by result.", f"# TYPE {RUNS} counter"]
            lines += [f'{RUNS}{{result="{k}"}} {v}' for k, v in sorted(self.runs.items())]
        return "\n".join(lines) + "\n"

    def write_textfile(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a collector never reads half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".metrics-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(self.render())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def start_metrics_server(metrics: Metrics, address: str, port: int) -> ThreadingHTTPServer:
    """Serve GET /metrics in a daemon thread; returns the server (its port if 0 was asked)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/healthz":  # liveness: the process and its HTTP thread answer
                body, content_type = b"ok\n", "text/plain; charset=utf-8"
            elif path in ("/metrics", "/"):
                body = metrics.render().encode()
                content_type = "text/plain; version=0.0.4; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return  # scrapes are not worth a log line

    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server
