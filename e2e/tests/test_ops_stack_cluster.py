"""scone-ops reaches the cluster the stack names, not the shell's: the e2e control plane and a dead one.

The ambient ``KUBECONFIG`` points at the dead cluster (every request refused at once). The stack file
(the committed local stack, plus ``scone:kubeconfig`` and ``scone:kubeContext``) names a kubeconfig
whose current context is the dead cluster too and whose ``scone-e2e`` context is the control plane.
So a command succeeds only when every kubectl call of scone-ops takes both settings; the printed
``--dry-run`` commands carry them. A kubeconfig kept as a secret in the stack file is refused, naming
``scone:kubeconfig`` and ``--kubeconfig``, and works once ``--kubeconfig`` names the cluster's file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from scone_ops.stack_target import stack_file_for

from e2e.harness.cluster import LocalCluster
from e2e.harness.dead_cluster import DEAD_KUBECONFIG, beside_dead_context
from e2e.tests.ops_cluster import REG, install_healthy_cas, snapshot, steady

CONTEXT = "scone-e2e"  # the harness kubeconfig's only context
CIPHERTEXT = "v1:c2VjcmV0LWt1YmVjb25maWctY2lwaGVydGV4dA=="


@pytest.fixture(scope="module")
def cas_cluster(cluster: LocalCluster) -> LocalCluster:
    install_healthy_cas(cluster)
    return cluster


@pytest.fixture()
def dead(tmp_path: Path) -> Path:
    path = tmp_path / "ambient-elsewhere.yaml"
    path.write_text(DEAD_KUBECONFIG)
    return path


def stack_file(tmp_path: Path, cluster: dict[str, object]) -> Path:
    """The committed local stack with the given scone: cluster settings."""
    document = yaml.safe_load(stack_file_for("local").read_text())
    document["config"].update({f"scone:{key}": value for key, value in cluster.items()})
    path = tmp_path / "stacks" / "Pulumi.local.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(yaml.safe_dump(document))
    return path


def scone_ops(ambient: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """scone-ops as an administrator runs it, with KUBECONFIG pointing at ``ambient``."""
    return subprocess.run([sys.executable, "-m", "scone_ops", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "KUBECONFIG": str(ambient)})


def test_cas_nodes_and_the_dry_run_reach_the_stack_cluster_not_the_ambient_one(
        cas_cluster: LocalCluster, tmp_path: Path, dead: Path) -> None:
    where = steady(cas_cluster)
    two = tmp_path / "two-contexts.yaml"
    two.write_text(beside_dead_context(json.loads(cas_cluster.kubeconfig.read_text()), CONTEXT))
    stack = stack_file(tmp_path, {"kubeconfig": str(two), "kubeContext": CONTEXT})

    done = scone_ops(dead, "cas", "nodes", "--stack-file", str(stack), "-o", "json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["cas_node"] == where["node"] and report["candidates"] == [where["partner"]]
    assert report["registration_label"] == REG

    before = snapshot(cas_cluster)
    move = scone_ops(dead, "cas", "move", "--skip-backup-check", "--dry-run", "--stack-file", str(stack), "-o", "json")
    assert move.returncode == 0, move.stderr
    commands = [s["command"] for s in json.loads(move.stdout)["steps"] if s["command"]]
    assert commands and all(c[1:5] == ["--kubeconfig", str(two), "--context", CONTEXT] for c in commands)
    assert snapshot(cas_cluster) == before

    # Without the stack's settings, the same command follows the shell's KUBECONFIG: the dead cluster.
    ambient = scone_ops(dead, "cas", "nodes", "--stack-file", str(stack_file(tmp_path, {})), "-o", "json")
    assert ambient.returncode == 4 and "127.0.0.1:9" in json.loads(ambient.stdout)["error"]


def test_a_secret_kubeconfig_is_refused_until_the_flag_names_the_cluster(
        cas_cluster: LocalCluster, tmp_path: Path, dead: Path) -> None:
    where = steady(cas_cluster)
    stack = stack_file(tmp_path, {"kubeconfig": {"secure": CIPHERTEXT}, "kubeContext": CONTEXT})

    refused = scone_ops(dead, "cas", "nodes", "--stack-file", str(stack), "-o", "json")
    assert refused.returncode == 3, refused.stderr
    error = json.loads(refused.stdout)
    assert f"scone:kubeconfig of {stack} is a secret" in error["error"] and "--kubeconfig PATH" in error["next_step"]
    assert CIPHERTEXT not in refused.stdout + refused.stderr

    done = scone_ops(dead, "cas", "nodes", "--stack-file", str(stack), "--kubeconfig", str(cas_cluster.kubeconfig),
                     "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cas_node"] == where["node"]
