"""Fixtures of the backupper tests: a moto S3 server for the session, a fresh bucket and
snapshot directory per test. Everything runs on 127.0.0.1 and is stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from backupper_harness import Harness, ServerProcess, new_harness, start_moto


@pytest.fixture(scope="session")
def moto() -> Iterator[ServerProcess]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture
def s3_server(moto: ServerProcess) -> ServerProcess:
    return moto


@pytest.fixture
def harness(tmp_path: Path, s3_server: ServerProcess) -> Harness:
    return new_harness(tmp_path, s3_server)
