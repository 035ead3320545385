"""Owner failures under the real engine, program and cluster: the user reads a message, not a traceback.

Why e2e: the message is formatted by Pulumi's dynamic-provider server, in its own process, and
printed by the CLI; only the real engine shows what the owner sees. The fake kubectl-provision
(e2e/fakes, through real kubectl plugin dispatch) fails on purpose through its control file.
Tests in this module run in order against one stack.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools
from e2e.tests.reconcile_support import status_configmap, status_data


@pytest.fixture(scope="module")
def owner_stack(e2e_tools: Tools, cluster: LocalCluster,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    work = tmp_path_factory.mktemp("owner-errors")
    provisioning = {**owner_provisioning(work), "maxAttempts": 2, "backoffSeconds": 0}
    stack = LocalSconeStack(e2e_tools, cluster, work, overrides={"scone:provisioning": provisioning})
    stack.control = work / "control.json"  # type: ignore[attr-defined]
    ws = stack.create()
    use_fake_plugin(ws, work)
    ws.extra_env["FAKE_SCONE_CONTROL"] = str(stack.control)  # type: ignore[attr-defined]
    yield stack


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


@pytest.fixture(scope="module")
def failed_run(owner_stack: LocalSconeStack) -> PulumiRun:
    """An ``up`` whose reading of the public keys fails on every attempt (the plugin's port-forward drops)."""
    control: Path = owner_stack.control  # type: ignore[attr-defined]
    control.write_text(json.dumps({"rules": [{
        "match": "--print-public-keys", "action": "fail", "times": 2,
        "message": "kubectl port-forward: lost connection to pod",
    }]}))
    return _ws(owner_stack).run("up", "--yes", "--skip-preview")


@pytest.fixture(scope="module")
def status_after_failure(failed_run: PulumiRun, cluster: LocalCluster) -> dict[str, Any]:
    """The status ConfigMap as the failed ``up`` left it (read before the next ``up``)."""
    cm = status_configmap(cluster)
    assert cm is not None, "no ConfigMap scone-status after the failed up"
    return cm


@pytest.fixture(scope="module")
def adopting_run(owner_stack: LocalSconeStack, failed_run: PulumiRun,
                 status_after_failure: dict[str, Any]) -> PulumiRun:
    """The next ``up``, once the plugin answers again."""
    return _ws(owner_stack).run("up", "--yes", "--skip-preview")


@pytest.fixture(scope="module")
def after_adoption(owner_stack: LocalSconeStack, adopting_run: PulumiRun,
                   cluster: LocalCluster) -> tuple[dict[str, Any], dict[str, Any]]:
    """The status ConfigMap's data and the stack outputs right after the adopting ``up`` (before any later step)."""
    return status_data(cluster), _ws(owner_stack).outputs()


@pytest.fixture(scope="module")
def preflight_failure(owner_stack: LocalSconeStack, adopting_run: PulumiRun,
                      after_adoption: tuple[dict[str, Any], dict[str, Any]]) -> Iterator[PulumiRun]:
    """An ``up`` whose owner preflight fails (the owner's target directory is missing); undone afterwards."""
    original = dict(owner_stack.overrides)
    provisioning = {**original["scone:provisioning"], "targetDir": "/nonexistent/owner-target"}
    owner_stack.reconfigure({**original, "scone:provisioning": provisioning})
    try:
        yield _ws(owner_stack).run("up", "--yes", "--skip-preview")
    finally:
        owner_stack.reconfigure(original)


def test_a_failed_plugin_run_reaches_the_user_as_its_message(owner_stack: LocalSconeStack,
                                                             failed_run: PulumiRun) -> None:
    up = failed_run
    assert up.returncode != 0, up.output[-6000:]
    assert "PluginError: reading the CAS public keys failed" in up.output, up.output[-6000:]
    assert "ERROR: kubectl port-forward: lost connection to pod" in up.output
    assert "Traceback" not in up.output and 'File "' not in up.output, up.output[-6000:]
    assert owner_stack.dcap_key not in up.output


def test_the_next_up_adopts_the_cas_the_failed_run_provisioned(owner_stack: LocalSconeStack, cluster: LocalCluster,
                                                               adopting_run: PulumiRun) -> None:
    assert adopting_run.returncode == 0, adopting_run.output[-8000:] + "\n" + cluster.dump_logs(8)
    assert set(_ws(owner_stack).outputs()["owner"]["publicKeys"]) == {
        "casKey", "casSoftwareKey", "casSessionEncryptionKey", "casCert"}


def test_the_failed_up_recorded_error_with_the_plugins_message_and_no_secret(
        owner_stack: LocalSconeStack, status_after_failure: dict[str, Any]) -> None:
    data = status_after_failure["data"]
    assert data["phase"] == "Error", data
    assert "kubectl port-forward: lost connection to pod" in data["lastError"], data["lastError"]
    assert "CasProvisioning" in data["lastError"], data["lastError"]
    text = json.dumps(status_after_failure)
    for name, value in owner_stack.sentinels().items():
        assert value not in text, f"{name} in the status ConfigMap"


def test_the_next_up_records_running_on_what_it_deployed(
        adopting_run: PulumiRun, after_adoption: tuple[dict[str, Any], dict[str, Any]]) -> None:
    assert adopting_run.returncode == 0, adopting_run.output[-8000:]
    data, outputs = after_adoption
    assert data["phase"] == "Running" and data["lastError"] == "", data
    assert data["lastSuccessPhase"] != "Error"
    assert data["deployedSpec"] == outputs["deployedSpec"]


def test_a_preflight_failure_reaches_the_user_as_its_message(preflight_failure: PulumiRun) -> None:
    up = preflight_failure
    assert up.returncode != 0, up.output[-6000:]
    assert "PreflightError: kubectl-provision cannot run here:" in up.output, up.output[-6000:]
    assert "provisioning.targetDir '/nonexistent/owner-target' does not exist" in up.output
    assert "Traceback" not in up.output and 'File "' not in up.output, up.output[-6000:]
