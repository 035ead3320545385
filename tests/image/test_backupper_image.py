"""The backupper image, built without Docker, runs a backup round trip from its own root filesystem.

The image comes from backupper/image/build_image.sh (Debian packages + PyPI wheels + crane);
the test reads its config and layers from the OCI layout and runs its entry point as the
image's user in a read-only root, against a real S3 server (moto) on 127.0.0.1:
``run`` with a snapshot source, ``list`` shows the set, ``restore`` gives the same files back.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.image.oci_image import (
    Image,
    build_image,
    build_tools,
    image_for_this_machine,
    run_in_image,
    why_not_buildable,
)

IMAGE_UID = 10001


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    reason = why_not_buildable()
    if reason is not None:
        pytest.skip(f"the backupper image cannot be built on this machine kind: {reason}")
    build_tools()
    layout = tmp_path_factory.mktemp("backupper-image") / "oci"
    digest = build_image(layout)
    built = image_for_this_machine(layout)
    assert digest.startswith("sha256:")
    return built


@pytest.fixture
def rootfs(image: Image, tmp_path: Path) -> Path:
    """A fresh root filesystem per test, unpacked from the image's layers."""
    target = tmp_path / "rootfs"
    image.unpack(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_url() -> Iterator[str]:
    """moto's S3 server on loopback, for this module."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(6000):
            try:
                with urllib.request.urlopen(f"{url}/moto-api/", timeout=1):  # noqa: S310 - loopback http
                    break
            except OSError:
                assert server.poll() is None, "moto server exited"
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait()


def write_secret(directory: Path, s3_url: str, bucket: str) -> None:
    """The files of the s3-bucket-scone-cas-db-backupper Secret, as the Deployment mounts them."""
    directory.mkdir(parents=True)
    values = {
        "AWS_ACCESS_KEY_ID": "AKIAIMAGETESTKEY0001",
        "AWS_SECRET_ACCESS_KEY": "image-test-secret-access-key",
        "BUCKET_NAME": bucket,
        "AWS_REGION": "us-east-1",
        "S3_ENDPOINT": s3_url,
    }
    for key, value in values.items():
        (directory / key).write_text(value)


def tree(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_the_image_config_runs_the_backupper_as_a_non_root_user(image: Image) -> None:
    runtime = image.runtime
    assert runtime["Entrypoint"] == ["scone-backupper"] and runtime["Cmd"] == ["loop"]
    assert runtime["User"] == f"{IMAGE_UID}:{IMAGE_UID}"
    assert image.env()["HOME"] == "/tmp" and image.env()["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "9102/tcp" in runtime["ExposedPorts"]


def test_a_backup_round_trip_runs_from_the_image_root_filesystem(
    image: Image, rootfs: Path, s3_url: str, tmp_path: Path
) -> None:
    bucket = f"image-{uuid.uuid4().hex[:12]}"
    boto3.client(
        "s3", endpoint_url=s3_url, aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1"
    ).create_bucket(Bucket=bucket)
    data = tmp_path / "data"
    snapshot = data / "snapshots" / "last-completed"
    snapshot.mkdir(parents=True)
    (snapshot / "cas.db").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (snapshot / "cas.key-store").write_bytes(b"key store of the image test\n")
    write_secret(data / "secret", s3_url, bucket)
    (data / "restore").mkdir()
    os.chown(data / "restore", IMAGE_UID, IMAGE_UID)
    env = {
        "S3_CREDENTIALS_DIR": "/data/secret",
        "SNAPSHOT_DIR": "/data/snapshots/last-completed",
        "SNAPSHOT_SOURCE_COMMAND": "tar cf - -C {snapshot_dir} .",
        "CAS_VERSION": "5.8.0",
        "METRICS_PORT": "0",
    }

    backup = run_in_image(image, rootfs, data, ["run"], env)
    assert backup.returncode == 0, backup.stderr
    listed = run_in_image(image, rootfs, data, ["list", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    sets: list[dict[str, Any]] = json.loads(listed.stdout)
    assert len(sets) == 1, listed.stdout
    restored = run_in_image(image, rootfs, data, ["restore", "--set", "latest", "--target", "/data/restore"], env)
    assert restored.returncode == 0, restored.stderr

    assert tree(data / "restore") == tree(snapshot)
    assert {path.stat().st_uid for path in (data / "restore").rglob("*")} == {IMAGE_UID}
