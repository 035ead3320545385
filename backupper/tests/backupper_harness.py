"""Helpers of the backupper tests (used by conftest.py and the tests): a real S3-compatible
server (moto in server mode) on loopback, real `tar`
snapshot streams from real directories, and the backupper run as a real process.

Every server is started here and stopped at the end; nothing outside 127.0.0.1 is contacted.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

BACKUPPER_DIR = Path(__file__).resolve().parents[1]
if str(BACKUPPER_DIR) not in sys.path:
    sys.path.insert(0, str(BACKUPPER_DIR))

ACCESS_KEY = "AKIATESTSECRETKEYID42"
SECRET_KEY = "s3cr3t-Access-Key-that-must-never-leak"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Any, what: str, attempts: int = 2400, pause: float = 0.05) -> Any:
    """Bounded poll: call `condition` until it returns something truthy."""
    for _ in range(attempts):
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"gave up waiting for {what}")


def _http_ok(url: str) -> bool:
    """The server answers HTTP (an S3 server refusing an unsigned request answers, too)."""
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status < 500)
    except urllib.error.HTTPError as exc:
        return exc.code < 500
    except OSError:
        return False


class ServerProcess:
    """A server we start as a child process and can kill like a crash."""

    def __init__(self, argv: list[str], port: int, ready_path: str) -> None:
        self.argv = argv
        self.port = port
        self.ready_path = ready_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        wait_until(lambda: _http_ok(self.url + self.ready_path), f"server on {self.port}")

    def kill(self) -> None:
        """SIGKILL: the process dies at once, its connections are reset by the kernel."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_moto() -> ServerProcess:
    port = free_port()
    server = ServerProcess(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        port,
        "/moto-api/",
    )
    server.start()
    return server


E2E_CACHE = Path(
    os.environ.get("SCONE_E2E_CACHE", str(Path.home() / ".cache" / "scone-stack" / "e2e"))
)
VERSITYGW = E2E_CACHE / "bin" / "versitygw"


def start_versitygw(data_dir: Path) -> ServerProcess:
    """versitygw (a real S3 server in Go, posix backend) with the tests' credentials as root.

    Unlike moto it checks signatures and checksums, keeps data on disk across a restart, and
    answers like a production gateway; built by `e2e/build_tools.sh versitygw`.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = ServerProcess(
        [
            str(VERSITYGW),
            "--access",
            ACCESS_KEY,
            "--secret",
            SECRET_KEY,
            "--port",
            f"127.0.0.1:{port}",
            "posix",
            str(data_dir),
        ],
        port,
        "/",
    )
    server.start()
    return server


def s3_client(url: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )


class FaultProxy(ServerProcess):
    """tests/faultproxy.py as a child process in front of an S3 server."""

    def __init__(self, upstream: ServerProcess) -> None:
        port = free_port()
        super().__init__(
            [
                sys.executable,
                str(Path(__file__).with_name("faultproxy.py")),
                "--port",
                str(port),
                "--upstream",
                f"127.0.0.1:{upstream.port}",
            ],
            port,
            "/__faults__",
        )

    def set_rules(self, rules: list[dict[str, Any]]) -> None:
        request = urllib.request.Request(
            self.url + "/__faults__", data=json.dumps(rules).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):
            pass

    def events(self) -> list[dict[str, Any]]:
        with urllib.request.urlopen(self.url + "/__faults__", timeout=5) as response:
            return list(json.loads(response.read()))


@dataclass
class Harness:
    """One test's world: a bucket, a snapshot directory, a credentials Secret directory."""

    root: Path
    s3_url: str
    bucket: str
    admin: Any  # boto3 client talking straight to the S3 server (the test's independent view)
    env: dict[str, str] = field(default_factory=dict)

    @property
    def snapshot_dir(self) -> Path:
        return self.root / "snapshots" / "last-completed"

    @property
    def creds_dir(self) -> Path:
        return self.root / "secret"

    @property
    def direct_creds_dir(self) -> Path:
        """A second Secret pointing straight at the store (bypassing any fault proxy)."""
        return self.root / "secret-direct"

    def write_secret(
        self, endpoint: str | None = None, directory: Path | None = None, **extra: str
    ) -> None:
        directory = directory or self.creds_dir
        directory.mkdir(parents=True, exist_ok=True)
        values = {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "BUCKET_NAME": self.bucket,
            "AWS_REGION": "us-east-1",
            "S3_ENDPOINT": endpoint or self.s3_url,
            **extra,
        }
        for key, value in values.items():
            (directory / key).write_text(value)

    def write_snapshot(self, db: bytes, key_store: bytes) -> None:
        self.snapshot_dir.mkdir(parents=True, exist_ok=True)
        (self.snapshot_dir / "cas.db").write_bytes(db)
        (self.snapshot_dir / "cas.key-store").write_bytes(key_store)

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "S3_", "BACKUP_"))}
        env.update(
            {
                "PYTHONPATH": str(BACKUPPER_DIR),
                "S3_CREDENTIALS_DIR": str(self.creds_dir),
                "SNAPSHOT_DIR": str(self.snapshot_dir),
                "SNAPSHOT_SOURCE_COMMAND": "tar cf - -C {snapshot_dir} .",
                "CAS_VERSION": "5.8.0",
                "METRICS_PORT": "0",
                "S3_RETRY_BASE_SECONDS": "0.05",
                "S3_RETRY_MAX_SECONDS": "0.5",
                "BACKUP_ORPHAN_GRACE_SECONDS": "0",
                "BACKUP_PART_SIZE_MIB": "5",
            }
        )
        env.update(self.env)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "scone_backupper", *args]

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        merged = self.base_env()
        merged.update(env or {})
        return subprocess.run(
            self.command(*args),
            env=merged,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        merged = self.base_env()
        merged.update(env or {})
        return subprocess.Popen(
            self.command(*args),
            env=merged,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            stdin=subprocess.DEVNULL,
        )

    def object_keys(self, prefix: str = "") -> list[str]:
        pages = self.admin.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        return sorted(item["Key"] for page in pages for item in page.get("Contents", []))

    def manifests(self) -> list[dict[str, Any]]:
        return [
            json.loads(self.admin.get_object(Bucket=self.bucket, Key=k)["Body"].read())
            for k in self.object_keys()
            if k.endswith("/manifest.json")
        ]

    def direct(self) -> dict[str, str]:
        """Env for a CLI call that talks to the store directly (the test's own view)."""
        return {"S3_CREDENTIALS_DIR": str(self.direct_creds_dir)}

    def listed(self, *extra: str) -> list[dict[str, Any]]:
        result = self.run("list", "--json", *extra, env=self.direct())
        assert result.returncode == 0, result.stderr
        return list(json.loads(result.stdout))

    def uploads(self) -> list[dict[str, Any]]:
        return list(self.admin.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))


def new_harness(root: Path, s3: ServerProcess, endpoint: str | None = None) -> Harness:
    bucket = f"cas-backups-{uuid.uuid4().hex[:12]}"
    admin = s3_client(s3.url)
    admin.create_bucket(Bucket=bucket)
    harness = Harness(root=root, s3_url=s3.url, bucket=bucket, admin=admin)
    harness.write_secret(endpoint=endpoint)
    harness.write_secret(directory=harness.direct_creds_dir)
    return harness


def log_lines(stderr: str) -> list[dict[str, Any]]:
    """The JSON log records on stderr (every line must be JSON)."""
    return [json.loads(line) for line in stderr.splitlines() if line.strip()]
