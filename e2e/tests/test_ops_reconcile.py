"""`scone-ops reconcile` and `status` against the real engine and control plane: drift repaired,
a stack file change detected and applied, a failing change bounded to 5 attempts, two reconcilers
on one stack (the second finds the backend's lock held and exits 9 having changed nothing), and a
status that holds no secret.

Every test starts from the `in_sync` fixture (the committed local stack converged and Running),
so the tests pass alone and in any order on the module's cluster and stack.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.tools import Tools
from e2e.tests.reconcile_support import (
    FAST,
    OPERATOR_NAMESPACE,
    converged,
    deployed_stack,
    held_stack_lock,
    las_names,
    reconcile,
    status_configmap,
    status_data,
    ws_of,
)

UNREACHABLE_CHART = "http://127.0.0.1:9/charts/scone-operator-{version}.tgz"  # discard port: refused


@pytest.fixture(scope="module")
def deployed(e2e_tools: Tools, cluster: LocalCluster,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    yield deployed_stack(e2e_tools, cluster, tmp_path_factory.mktemp("reconcile-stack"))


@pytest.fixture()
def in_sync(deployed: LocalSconeStack) -> Iterator[LocalSconeStack]:
    yield from converged(deployed)


class PhaseWatch:
    """`kubectl get configmap scone-status --watch`: every phase the ConfigMap passed through, read as
    the watch prints it, so a test waits for the phase it expects instead of for a while."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(cluster.kubeconfig), "get", "configmap", "scone-status", "-n",
             OPERATOR_NAMESPACE, "--watch", "-o", "jsonpath={.data.phase}{\"\\n\"}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.strip():
                self.lines.append(line.strip())

    def phases(self) -> list[str]:
        phases: list[str] = []
        for line in list(self.lines):
            if not phases or phases[-1] != line:
                phases.append(line)
        return phases

    def stop(self) -> list[str]:
        self.proc.terminate()
        self.proc.communicate()
        self.reader.join()
        return self.phases()


def test_noop_reconcile_is_running_and_changes_nothing(in_sync: LocalSconeStack, cluster: LocalCluster) -> None:
    before = status_configmap(cluster)
    assert before is not None
    history = len(json.loads(ws_of(in_sync).run("stack", "history", "--json", check=True).stdout))
    done = reconcile(in_sync, "--once", *FAST)
    assert done.code == 0, done.stderr[-3000:]
    assert done.result["phase"] == "Running" and done.result["phases"] == ["Running"]
    assert done.result["applied"] is False and done.result["changes"] == {}
    assert len(json.loads(ws_of(in_sync).run("stack", "history", "--json", check=True).stdout)) == history
    after = status_data(cluster)
    assert after["lastReconcile"] >= before["data"]["lastReconcile"]
    assert after["deployedSpec"] == ws_of(in_sync).outputs()["deployedSpec"]


def test_deleted_las_is_repaired_through_repairing_and_the_status_says_so(in_sync: LocalSconeStack,
                                                                          cluster: LocalCluster) -> None:
    generation = int(status_data(cluster)["observedGeneration"])
    las = las_names(cluster)
    assert las
    cluster.kubectl("delete", *las, "--wait=true")
    assert not las_names(cluster)
    watch = PhaseWatch(cluster)
    done = reconcile(in_sync, "--once", *FAST)
    wait_until("the watch to show Repairing, then Running", lambda: watch.phases()[-2:] == ["Repairing", "Running"],
               cluster.children, attempts=3000, interval=0.2)
    seen = watch.stop()
    assert done.code == 0, done.stderr[-4000:]
    assert done.result["phases"] == ["Repairing", "Running"], done.result
    assert "Repairing" in seen and seen[-1] == "Running", seen
    assert seen.index("Repairing") < len(seen) - 1
    assert las_names(cluster) == las
    data = status_data(cluster)
    assert data["lastSuccessPhase"] == "Repairing"
    assert int(data["observedGeneration"]) == generation, "a repair deploys the same spec: same generation"
    assert data["lastUpdate"] == data["lastReconcile"], "the repair's update is the last update"
    assert data["lastError"] == ""


def test_stack_file_change_is_detected_only_then_applied_with_a_new_deployed_spec(
        in_sync: LocalSconeStack, cluster: LocalCluster) -> None:
    ws = ws_of(in_sync)
    spec_before = ws.outputs()["deployedSpec"]
    cm_before = status_configmap(cluster)
    assert cm_before is not None
    in_sync.reconfigure({"scone:backup": {"interval": 7200}})
    detected = reconcile(in_sync, "--once", "--detect-only", *FAST)
    assert detected.code == 11, detected.stderr[-4000:]
    assert detected.result["phase"] == "Updating" and detected.result["applied"] is False
    assert detected.result["changes"], detected.result
    assert ws.outputs()["deployedSpec"] == spec_before
    cm_after = status_configmap(cluster)
    assert cm_after is not None
    assert cm_after["metadata"]["resourceVersion"] == cm_before["metadata"]["resourceVersion"]
    assert ws.run("preview", "--expect-no-changes").returncode != 0, "detect-only applied the change"

    applied = reconcile(in_sync, "--once", *FAST)
    assert applied.code == 0, applied.stderr[-4000:]
    assert applied.result["phases"] == ["Updating", "Running"], applied.result
    spec_after = ws.outputs()["deployedSpec"]
    assert spec_after != spec_before
    assert ws.outputs()["backup"]["interval"] == 7200
    data = status_data(cluster)
    assert data["deployedSpec"] == spec_after and data["lastSuccessPhase"] == "Updating"


def test_a_change_that_keeps_failing_stops_after_5_attempts_in_error_and_a_fix_runs_again(
        in_sync: LocalSconeStack, cluster: LocalCluster) -> None:
    spec_before = ws_of(in_sync).outputs()["deployedSpec"]
    in_sync.reconfigure({"scone:operatorChart": {"location": UNREACHABLE_CHART}})
    failed = reconcile(in_sync, "--once", *FAST)
    assert failed.code == 13, failed.stderr[-4000:]
    assert failed.result["phase"] == "Error" and failed.result["attempts"] == 5
    for attempt in range(1, 6):
        assert f"attempt {attempt}/5 failed" in failed.stderr
    assert "attempt 6" not in failed.stderr
    data = status_data(cluster)
    assert data["phase"] == "Error" and data["attempts"] == "5"
    assert data["lastError"] and "127.0.0.1:9" in data["lastError"], data["lastError"]
    assert data["deployedSpec"] == spec_before, "a failed update must not move deployedSpec"
    for name, value in in_sync.sentinels().items():
        assert value not in json.dumps(data) and value not in failed.stdout + failed.stderr, name

    in_sync.reconfigure({})
    fixed = reconcile(in_sync, "--once", *FAST)
    assert fixed.code == 0, fixed.stderr[-4000:]
    assert fixed.result["phase"] == "Running" and fixed.result["attempts"] == 1
    data = status_data(cluster)
    assert data["phase"] == "Running" and data["lastError"] == ""
    assert data["lastSuccessPhase"] != "Error"


def test_a_second_reconciler_while_the_lock_is_held_exits_9_changing_nothing_and_the_state_stays_valid(
        in_sync: LocalSconeStack, cluster: LocalCluster) -> None:
    ws = ws_of(in_sync)
    before = json.loads(ws.run("stack", "export", check=True).stdout)["deployment"]
    las = las_names(cluster)
    cluster.kubectl("delete", *las, "--wait=true")
    status_before = status_configmap(cluster)
    assert status_before is not None
    with held_stack_lock(ws.state_dir / "backend", "scone", in_sync.stack):
        busy = reconcile(in_sync, "--once", *FAST)
        assert busy.code == 9, (busy.code, busy.stderr[-3000:])
        assert busy.result["busy"] is True and busy.result["applied"] is False, busy.result
        assert busy.result["attempts"] == 1, "a held lock is not an error to retry"
        assert "busy: another update holds the stack's lock; this reconcile changed nothing" in busy.stderr
        assert not las_names(cluster), "the busy reconciler repaired the LAS anyway"
        status_held = status_configmap(cluster)
        assert status_held is not None
        assert status_held["metadata"]["resourceVersion"] == status_before["metadata"]["resourceVersion"]
    after = json.loads(ws.run("stack", "export", check=True).stdout)["deployment"]
    assert not after.get("pending_operations"), after["pending_operations"]
    assert [r["urn"] for r in after["resources"]] == [r["urn"] for r in before["resources"]]

    released = reconcile(in_sync, "--once", *FAST)
    assert released.code == 0, released.stderr[-4000:]
    assert released.result["phases"] == ["Repairing", "Running"], released.result
    assert las_names(cluster) == las
    assert ws.run("preview", "--expect-no-changes").returncode == 0
    assert status_data(cluster)["phase"] == "Running"


def test_status_command_prints_the_phase_and_exits_with_its_code(in_sync: LocalSconeStack,
                                                                 cluster: LocalCluster) -> None:
    stack_file = in_sync.project_dir / "stacks" / "Pulumi.local.yaml"
    argv = [sys.executable, "-m", "scone_ops", "status", "--stack-file", str(stack_file), "--kubeconfig",
            str(cluster.kubeconfig)]
    table = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert table.returncode == 0, table.stderr
    assert "Running" in table.stdout and "local" in table.stdout
    as_json = subprocess.run([*argv, "-o", "json"], capture_output=True, text=True, check=False)
    doc = json.loads(as_json.stdout)
    assert doc["phase"] == "Running" and doc["namespace"] == OPERATOR_NAMESPACE
    cluster.kubectl("patch", "configmap", "scone-status", "-n", OPERATOR_NAMESPACE, "--type=merge",
                    "-p", json.dumps({"data": {"phase": "Error"}}))
    assert subprocess.run(argv, capture_output=True, text=True, check=False).returncode == 13


def test_the_status_configmap_never_holds_a_secret(in_sync: LocalSconeStack, cluster: LocalCluster) -> None:
    got = cluster.kubectl("get", "configmap", "scone-status", "-n", OPERATOR_NAMESPACE, "-o", "json",
                          "--show-managed-fields")
    cm = json.loads(got.stdout)
    assert cm["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "scone-stack"
    managers = {entry["manager"] for entry in cm["metadata"].get("managedFields") or []}
    assert managers == {"scone-status"}, managers
    text = json.dumps(cm)
    for name, value in in_sync.sentinels().items():
        assert value not in text, f"{name} in the status ConfigMap"
