"""The Scone status written by a plain `pulumi up` (no scone-ops involved), on the real engine and
control plane: Running with the deployed facts after an up, a no-op up that stays a no-op in its
preview, and a stale status put right by the next up. (A failed operation's Error is shown in
test_owner_errors.py, where the fake kubectl-provision fails on purpose.)

The module's stack is brought up once; every test starts from `settled` (the committed local stack
file, `pulumi up` done, status Running), so the tests pass alone and in any order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from scone_ops.reconciler import NOT_CHANGES

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.tools import Tools
from e2e.tests.reconcile_support import OPERATOR_NAMESPACE, deployed_stack, status_configmap, status_data, up, ws_of

STATUS_TYPE = "pulumi-python:dynamic/scone:SconeStatus"


@pytest.fixture(scope="module")
def deployed(e2e_tools: Tools, cluster: LocalCluster,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    yield deployed_stack(e2e_tools, cluster, tmp_path_factory.mktemp("status-stack"))


@pytest.fixture()
def settled(deployed: LocalSconeStack) -> Iterator[LocalSconeStack]:
    deployed.reconfigure({})
    up(deployed)
    yield deployed
    deployed.reconfigure({})


def scone_ops_status(stack: LocalSconeStack) -> tuple[int, dict[str, Any]]:
    argv = [sys.executable, "-m", "scone_ops", "status", "--stack-file",
            str(stack.project_dir / "stacks" / "Pulumi.local.yaml"), "--kubeconfig", str(stack.cluster.kubeconfig),
            "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else {"stderr": done.stderr})


def preview_steps(stack: LocalSconeStack) -> dict[str, str]:
    """The preview's step per resource type that would change (`same` and reads left out)."""
    run = ws_of(stack).run("preview", "--json", check=True)
    steps = json.loads(run.stdout).get("steps") or []
    return {step["urn"].rsplit("::", 2)[-2].split(":")[-1]: step["op"] for step in steps
            if step["op"] not in NOT_CHANGES}


def test_a_plain_up_records_running_with_the_deployed_version_and_spec(settled: LocalSconeStack) -> None:
    code, status = scone_ops_status(settled)
    outputs = ws_of(settled).outputs()
    assert code == 0, status
    assert status["phase"] == "Running" and status["namespace"] == OPERATOR_NAMESPACE
    assert status["deployedVersion"] == outputs["deployedVersion"]
    assert status["deployedSpec"] == outputs["deployedSpec"]
    assert status["managementState"] == outputs["managementState"] == "Managed"
    assert int(status["observedGeneration"]) >= 1 and status["lastUpdate"].endswith("Z")
    assert status["lastError"] == ""
    document = json.loads(status["deployedSpecDocument"])
    assert document["serviceVersion"] == outputs["deployedVersion"]


def test_a_noop_up_stays_a_noop_in_its_preview_and_leaves_the_status_alone(settled: LocalSconeStack,
                                                                           cluster: LocalCluster) -> None:
    before = status_configmap(cluster)
    assert before is not None
    assert preview_steps(settled) == {}
    run = ws_of(settled).run("up", "--yes", "--expect-no-changes")
    assert run.returncode == 0, run.output[-4000:]
    after = status_configmap(cluster)
    assert after is not None
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_a_stack_file_change_applied_by_up_moves_deployed_spec_and_generation(settled: LocalSconeStack,
                                                                              cluster: LocalCluster) -> None:
    before = status_data(cluster)
    settled.reconfigure({"scone:backup": {"interval": 7200}})
    up(settled)
    after = status_data(cluster)
    assert after["phase"] == "Running"
    assert after["deployedSpec"] == ws_of(settled).outputs()["deployedSpec"] != before["deployedSpec"]
    assert int(after["observedGeneration"]) == int(before["observedGeneration"]) + 1
    assert json.loads(after["deployedSpecDocument"])["backup"]["interval"] == 7200


def test_a_stale_status_shows_in_the_preview_and_the_next_up_records_running(settled: LocalSconeStack,
                                                                             cluster: LocalCluster) -> None:
    cluster.kubectl("patch", "configmap", "scone-status", "-n", OPERATOR_NAMESPACE, "--type=merge",
                    "-p", json.dumps({"data": {"phase": "Error", "lastError": "left by a failed reconcile"}}))
    assert preview_steps(settled) == {"SconeStatus": "update"}
    up(settled)
    data = status_data(cluster)
    assert data["phase"] == "Running" and data["lastError"] == ""
    assert data["lastSuccessPhase"] != "Error"
    cluster.kubectl("delete", "configmap", "scone-status", "-n", OPERATOR_NAMESPACE)
    assert preview_steps(settled) == {"SconeStatus": "update"}
    up(settled)
    assert status_data(cluster)["phase"] == "Running"


def test_the_status_is_one_resource_declared_after_everything_it_reports_on(settled: LocalSconeStack) -> None:
    exported = json.loads(ws_of(settled).run("stack", "export", check=True).stdout)
    resources = exported["deployment"]["resources"]
    status = [r for r in resources if r["type"] == STATUS_TYPE]
    assert len(status) == 1
    deps = set(status[0].get("dependencies") or [])
    assert any("SconeOperator" in urn or "scone-operator" in urn for urn in deps), deps
    guard = next(r for r in resources if r["type"].endswith(":DestroyGuard"))
    assert status[0]["urn"] in guard.get("dependencies", []), "a destroy must reach its guard before the status"
