"""The backup check of a move: the stack's sets read with the backupper's library from a real S3 server.

A moto S3 server runs on loopback over HTTP; one real `scone-backupper run` (source: real `tar` of a
local snapshot directory) writes a set; the credentials reach scone-ops as the Secret's base64 data.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from scone_backupper.backup import open_store
from scone_ops.backups import backupper_settings, freshness, write_credentials
from scone_ops.stack_target import load_target, stack_file_for

TARGET = load_target(stack_file_for("local"))
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAOPSTEST", "AWS_SECRET_ACCESS_KEY": "ops-secret-never-printed",
         "AWS_REGION": "us-east-1"}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    port = _port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait()


def _secret(url: str, bucket: str) -> dict[str, object]:
    data = {**CREDS, "BUCKET_NAME": bucket, "S3_ENDPOINT": url}
    return {"data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def _bucket(url: str, name: str) -> None:
    boto3.client("s3", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x",
                 region_name="us-east-1").create_bucket(Bucket=name)


def test_secret_data_becomes_private_files_the_backupper_reads(tmp_path: Path, s3: str) -> None:
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    write_credentials(_secret(s3, "ops-private"), creds)
    assert sorted(p.name for p in creds.iterdir()) == sorted([*CREDS, "BUCKET_NAME", "S3_ENDPOINT"])
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in creds.iterdir())
    assert (creds / "AWS_SECRET_ACCESS_KEY").read_text() == CREDS["AWS_SECRET_ACCESS_KEY"]


def test_a_set_written_by_the_backupper_is_found_fresh_then_stale(tmp_path: Path, s3: str) -> None:
    _bucket(s3, "ops-fresh")
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    write_credentials(_secret(s3, "ops-fresh"), creds)
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "cas.db").write_bytes(os.urandom(4096))
    (snapshot / "cas.key-store").write_bytes(os.urandom(64))
    env = {**os.environ, "CAS_NAME": TARGET.cas_name, "CAS_NAMESPACE": TARGET.namespace,
           "BACKUP_PREFIX": TARGET.backup.prefix, "S3_CREDENTIALS_DIR": str(creds), "METRICS_PORT": "0",
           "SNAPSHOT_DIR": str(snapshot), "SNAPSHOT_SOURCE_COMMAND": "tar cf - -C {snapshot_dir} ."}
    run = subprocess.run([sys.executable, "-m", "scone_backupper", "run"], env=env, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stderr
    ctx = open_store(backupper_settings(TARGET, creds), threading.Event())
    complete = ctx.store.list_sets(TARGET.cas_name).complete
    assert len(complete) == 1
    now = dt.datetime.now(dt.UTC)
    fresh = freshness(complete, TARGET.backup.interval_seconds, now)
    assert fresh.ok and fresh.problem() is None
    later = freshness(complete, TARGET.backup.interval_seconds, now + dt.timedelta(hours=2))
    assert not later.ok
    assert f"older than the backup interval ({TARGET.backup.interval_seconds} s)" in str(later.problem())


def test_no_set_at_all_is_named_as_such() -> None:
    fresh = freshness([], 3600, dt.datetime.now(dt.UTC))
    assert not fresh.ok and fresh.problem() == "there is no complete backup set of this CAS"
