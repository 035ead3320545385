"""Version bumps that must change nothing, with the owner operations on.

- A bump together with a change the stack guard refuses (a CAS rename, an operator move):
  the update fails at the guard and `kubectl-provision` is never started, so no backup,
  upgrade or provisioning runs on a change that is refused.
- A bump whose `kubectl provision ... --upgrade` fails: the update fails, and the stack
  output `deployedVersion` (the guide's `status.deployedVersion`), CAS, LAS and the operator
  stay on the old version.

Why e2e: what runs, and in which order, is the real engine's decision (dependencies, the
dynamic providers in their own process); the fake `kubectl-provision` logs every start and
acts on the real API server, where the simulated operator reports the CAS version. The charts
are Scontain's released 5.8.0-rc.19 and 5.8.0 (the module skips without them).
The stack is installed once at the old version (``installed``); each test puts its stack
file back, and neither moves the stack off the old version, so they pass alone and in any
order. 5.8.0-rc.19 supports Kubernetes up to 1.25 and the harness runs 1.26.13, so the
stack declares no ``kubernetesVersion``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import MISSING, chart_tgz, released_location

OLD, NEW = "5.8.0-rc.19", "5.8.0"
ATTEMPTS = 2


@pytest.fixture(scope="module")
def owner_stack(e2e_tools: Tools, cluster: LocalCluster,
                tmp_path_factory: pytest.TempPathFactory) -> LocalSconeStack:
    location, new_chart = released_location(OLD, NEW), chart_tgz(NEW)
    if location is None or new_chart is None:
        pytest.skip(MISSING)
    cluster.install_cert_manager_crds(new_chart)
    work = tmp_path_factory.mktemp("refused-upgrade")
    overrides: dict[str, Any] = {
        "scone:serviceVersion": OLD,
        "scone:operatorChart": {"location": location},
        # Few, quick attempts: the injected upgrade failure need not wait through the default backoff.
        "scone:provisioning": {**owner_provisioning(work), "maxAttempts": ATTEMPTS, "backoffSeconds": 1},
        "scone:kubernetesVersion": None,
    }
    stack = LocalSconeStack(e2e_tools, cluster, work, overrides=overrides)
    ws = stack.create()
    use_fake_plugin(ws, work, call_log=work / "calls.jsonl")
    return stack


@pytest.fixture(scope="module")
def installed(owner_stack: LocalSconeStack, cluster: LocalCluster) -> str:
    """The stack up at the old version with a provisioned, HEALTHY CAS; the services namespace."""
    ws = _ws(owner_stack)
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-8000:] + "\n" + cluster.dump_logs(8)
    ns: str = ws.outputs()["namespaces"]["services"]
    wait_until("CAS provisioned and HEALTHY", lambda: _cas_status(cluster, ns).get("phase") == "HEALTHY",
               cluster.children, attempts=600)
    assert _cas_status(cluster, ns)["version"] == OLD
    return ns


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _cas_status(cluster: LocalCluster, ns: str) -> dict[str, Any]:
    status: dict[str, Any] = cluster.kubectl_json("get", "cas", "cas", "-n", ns).get("status") or {}
    return status


def _argvs(call_log: Path) -> list[list[str]]:
    if not call_log.exists():
        return []
    return [json.loads(line)["argv"] for line in call_log.read_text().splitlines() if line.strip()]


@contextlib.contextmanager
def _changed(stack: LocalSconeStack, overrides: dict[str, Any], **env: str) -> Iterator[PulumiWorkspace]:
    """The stack file with ``overrides`` and ``env`` on every `pulumi` run; both put back after."""
    ws = _ws(stack)
    original = dict(stack.overrides)
    saved = dict(ws.extra_env)
    stack.reconfigure({**original, **overrides})
    ws.extra_env.update(env)
    try:
        yield ws
    finally:
        stack.reconfigure(original)
        ws.extra_env.clear()
        ws.extra_env.update(saved)


def _assert_everything_on_the_old_version(ws: PulumiWorkspace, cluster: LocalCluster, ns: str) -> None:
    outputs = ws.outputs()
    assert outputs["deployedVersion"] == OLD
    assert _cas_status(cluster, ns)["version"] == OLD
    assert cluster.kubectl_json("get", "cas", "cas", "-n", ns)["spec"]["image"].endswith(f":{OLD}")
    assert cluster.kubectl_json("get", "las", "-o", "json")["items"][0]["spec"]["image"].endswith(f":{OLD}")
    operator = cluster.kubectl_json("get", "deployment", "scone-controller-manager",
                                    "-n", outputs["namespaces"]["operator"])
    assert operator["spec"]["template"]["spec"]["containers"][0]["image"].endswith(f":{OLD}")


@pytest.mark.parametrize(
    "case",
    [
        ({"scone:cas": {"name": "cas2"}}, "casName changed from 'cas' to 'cas2'"),
        ({"scone:namespaces": {"operator": "scone-operator-moved"}}, "operatorNamespace changed from"),
    ],
    ids=["cas-rename", "operator-move"],
)
def test_version_bump_with_a_change_the_guard_refuses_runs_no_owner_operation(
    owner_stack: LocalSconeStack, installed: str, cluster: LocalCluster, tmp_path: Path,
    case: tuple[dict[str, Any], str],
) -> None:
    refused, message = case
    calls = tmp_path / "calls-while-refused.jsonl"
    with _changed(owner_stack, {"scone:serviceVersion": NEW, **refused}, FAKE_SCONE_CALL_LOG=str(calls)) as ws:
        # Straight to the update, no preview first: the guard alone must stop the owner operations.
        up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode != 0, up.output[-8000:]
    assert message in up.output, up.output[-8000:]
    # kubectl-provision was never started: no backup, no upgrade, no provisioning.
    assert _argvs(calls) == []
    _assert_everything_on_the_old_version(_ws(owner_stack), cluster, installed)


def test_a_failed_cas_upgrade_leaves_deployed_version_and_every_service_on_the_old_version(
    owner_stack: LocalSconeStack, installed: str, cluster: LocalCluster, tmp_path: Path,
) -> None:
    calls = tmp_path / "calls.jsonl"
    control = tmp_path / "control.json"
    rule = {"match": "--upgrade", "action": "fail", "message": "injected: the CAS upgrade failed"}
    control.write_text(json.dumps({"rules": [rule]}))
    env = {"FAKE_SCONE_CONTROL": str(control), "FAKE_SCONE_CALL_LOG": str(calls)}
    with _changed(owner_stack, {"scone:serviceVersion": NEW}, **env) as ws:
        up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode != 0, up.output[-8000:]
    assert "injected: the CAS upgrade failed" in up.output, up.output[-8000:]
    argvs = _argvs(calls)
    assert any("--local-backup" in argv for argv in argvs), argvs  # the pre-upgrade backup was taken
    assert len([argv for argv in argvs if "--upgrade" in argv]) == ATTEMPTS, argvs
    _assert_everything_on_the_old_version(_ws(owner_stack), cluster, installed)
