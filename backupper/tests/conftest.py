"""Fixtures of the backupper tests: S3 servers for the session (moto always; versitygw, a real
S3 server, for the modules that set ``BOTH_S3_SERVERS = True``), a fresh bucket and snapshot
directory per test. Everything runs on 127.0.0.1 and is stopped at the end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from backupper_harness import (
    VERSITYGW,
    FaultProxy,
    Harness,
    ServerProcess,
    new_harness,
    start_moto,
    start_versitygw,
)


@pytest.fixture(scope="session")
def moto() -> Iterator[ServerProcess]:
    server = start_moto()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def versitygw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    if not VERSITYGW.exists():
        pytest.skip(
            f"versitygw is not built ({VERSITYGW} missing): run `e2e/build_tools.sh versitygw` "
            "to run these tests against a real S3 server as well as moto"
        )
    server = start_versitygw(tmp_path_factory.mktemp("versitygw"))
    yield server
    server.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Modules that opt in run every store test against both servers (they disagree in places:
    moto neither checks nor echoes part checksums, versitygw does)."""
    if "s3_server" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_S3_SERVERS", False):
        metafunc.parametrize("s3_server", ["moto", "versitygw"], indirect=True)


@pytest.fixture
def s3_server(request: pytest.FixtureRequest) -> ServerProcess:
    name = getattr(request, "param", "moto")
    server: ServerProcess = request.getfixturevalue(name)
    return server


@pytest.fixture
def harness(tmp_path: Path, s3_server: ServerProcess) -> Harness:
    return new_harness(tmp_path, s3_server)


@pytest.fixture
def proxy(s3_server: ServerProcess) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of the test's S3 server."""
    server = FaultProxy(s3_server)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def faulty(tmp_path: Path, s3_server: ServerProcess, proxy: FaultProxy) -> Harness:
    """A harness whose Secret points at the fault proxy instead of the store itself."""
    return new_harness(tmp_path, s3_server, endpoint=proxy.url)
