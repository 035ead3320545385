"""Fixtures: the built tools, a fresh local cluster, Pulumi workspaces.

Why module-scoped clusters: the program installs cluster-scoped things (CRDs, LAS,
SGXPlugin), so each test module gets its own control plane (about 8 s to start) and
tests inside a module run in order against it. Missing tools fail loudly with the
command that builds them; nothing is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.operator_crds import apply_scone_crds
from e2e.harness.tools import Tools, ToolsMissingError


def _locate(need_pulumi: bool) -> Tools:
    problem = ""
    try:
        return Tools.locate(need_pulumi=need_pulumi)
    except ToolsMissingError as err:
        problem = str(err)
    pytest.fail(problem, pytrace=False)


@pytest.fixture(scope="session")
def e2e_tools() -> Tools:
    """Everything, including the Pulumi CLI and plugins."""
    return _locate(need_pulumi=True)


@pytest.fixture(scope="session")
def cluster_tools() -> Tools:
    """Only what the control plane needs (harness tests run without Pulumi)."""
    return _locate(need_pulumi=False)


@pytest.fixture(scope="module")
def cluster_options() -> dict[str, Any]:
    """Settings of ``LocalCluster`` for this module's control plane; a module overrides this fixture."""
    return {}


@pytest.fixture(scope="module")
def cluster(
    cluster_tools: Tools, cluster_options: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalCluster]:
    work = tmp_path_factory.mktemp("cluster")
    # The fake kubectl-provision keeps each CAS's database stand-in here; the
    # simulated operator reads it to report `provisioned`.
    old = os.environ.get("FAKE_SCONE_STATE_DIR")
    os.environ["FAKE_SCONE_STATE_DIR"] = str(work / "fake-scone")
    c = LocalCluster(cluster_tools, workdir=work / "cp", **cluster_options)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        if old is None:
            os.environ.pop("FAKE_SCONE_STATE_DIR", None)
        else:
            os.environ["FAKE_SCONE_STATE_DIR"] = old


@pytest.fixture(scope="module")
def harness_crds(cluster: LocalCluster) -> None:
    """The SCONE CRDs the local stack's chart brings (Scontain's released chart's when it is beside
    the repository, else the stand-in's), applied and established."""
    apply_scone_crds(cluster)


@pytest.fixture()
def state_dir(tmp_path: Path) -> Path:
    d = tmp_path / "pulumi-state"
    d.mkdir()
    return d
