"""A moto S3 server on loopback for the e2e tests that need an S3-compatible store."""

from __future__ import annotations

import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from e2e.harness.processes import Child, free_port, start_child, wait_until


@contextmanager
def moto_s3(logs: Path) -> Iterator[str]:
    """Start moto on a free loopback port, yield its endpoint URL, stop it afterwards."""
    port = free_port()
    child: Child = start_child("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], logs)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=2):  # noqa: S310 - loopback http
            return True

    try:
        wait_until("moto S3 server", up, [child])
        yield url
    finally:
        child.stop()
