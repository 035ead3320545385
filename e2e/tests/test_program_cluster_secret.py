"""``scone:kubeconfig`` as secret content with ``scone:kubeContext``: the real engine against the control plane.

The kubeconfig is flattened (its client key embedded, as a CI secret would hold it) and holds two
contexts: the dead cluster, made current, and the harness's control plane, named by
``scone:kubeContext``. The ambient ``KUBECONFIG`` points at the dead cluster too. So the first ``up``
succeeds only if the Kubernetes provider, Helm, the guards, the status and the owner's ``kubectl
provision`` all take the secret content and the named context; and the content (its key above all)
must appear nowhere in plain text: not in the exported state, not in the state files, not in the
output of ``pulumi up``. ``scone-ops reconcile``, which runs the stack with its passphrase, takes the
same secret for its own kubectl calls (the status it writes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.dead_cluster import DEAD_KUBECONFIG, beside_dead_context
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools

CONTEXT = "scone-e2e"  # the harness kubeconfig's only context
GUARD_TYPE = "pulumi-python:dynamic/scone:StackGuard"
OPERATOR_NAMESPACE = "osc-sec-us-scone-operator"  # the spec's default (namespaces.operator)
#: How Pulumi marks a secret value in an exported state (its signature key and value).
SECRET_SIG, SECRET_MARK = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


@dataclass
class Deployed:
    """The stack after its first ``up``: its workspace, that run, and the flattened kubeconfig's parts."""

    stack: LocalSconeStack
    ws: PulumiWorkspace
    up: PulumiRun
    flat: dict[str, Any]

    def secrets(self) -> tuple[str, ...]:
        """Every distinctive part of the content: the embedded key, the real cluster's CA, the dead one's token."""
        return (self.flat["users"][0]["user"]["client-key-data"],
                self.flat["clusters"][0]["cluster"]["certificate-authority-data"], "not-this-cluster")


@pytest.fixture(scope="module")
def deployed(e2e_tools: Tools, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Deployed:
    work = tmp_path_factory.mktemp("secret-stack")
    flat = json.loads(cluster.kubectl("config", "view", "--raw", "--flatten", "-o", "json").stdout)
    dead = work / "ambient-elsewhere.yaml"
    dead.write_text(DEAD_KUBECONFIG)
    stack = LocalSconeStack(
        e2e_tools, cluster, work, stack="secret",
        overrides={"kubeContext": CONTEXT, "provisioning": owner_provisioning(work)},
    )
    ws = stack.create()
    use_fake_plugin(ws, work, work / "provision-calls.jsonl")
    ws.extra_env["KUBECONFIG"] = str(dead)
    # On stdin, as the README tells operators (an argument would show in `ps`).
    ws.run("config", "set", "--secret", "scone:kubeconfig", check=True, stdin=beside_dead_context(flat, CONTEXT))
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(8)
    return Deployed(stack, ws, up, flat)


def test_a_secret_kubeconfig_with_two_contexts_reaches_the_named_context_and_stays_encrypted(
    deployed: Deployed, cluster: LocalCluster
) -> None:
    ws, stack = deployed.ws, deployed.stack
    stack_file = stack.project_dir / "stacks" / f"Pulumi.{stack.stack}.yaml"
    assert "secure:" in stack_file.read_text()
    calls = stack.workdir / "provision-calls.jsonl"
    assert calls.exists() and calls.read_text().strip()  # kubectl provision reached the named context

    live = cluster.kubectl("get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}").stdout.strip()
    exported = ws.run("stack", "export", check=True).stdout
    guard = next(r for r in json.loads(exported)["deployment"]["resources"] if r["type"] == GUARD_TYPE)
    assert guard["inputs"]["clusterIdentity"] == live
    for secret in deployed.secrets():
        assert secret not in exported
        assert secret not in deployed.up.output
        assert secret not in stack_file.read_text()
        for state in ws.state_files():
            assert secret not in state.read_text(errors="replace"), state
    # The provider's kubeconfig is in the state, encrypted.
    provider = next(r for r in json.loads(exported)["deployment"]["resources"]
                    if r["type"] == "pulumi:providers:kubernetes" and "kubeconfig" in (r.get("inputs") or {}))
    assert provider["inputs"]["kubeconfig"].get(SECRET_SIG) == SECRET_MARK
    assert provider["inputs"]["context"] == CONTEXT

    again = ws.run("preview", "--expect-no-changes")
    assert again.returncode == 0, again.output[-4000:]


def test_scone_ops_reconcile_decrypts_the_secret_kubeconfig_and_writes_the_status_there(
    deployed: Deployed, cluster: LocalCluster
) -> None:
    """The reconcile runs the stack with its passphrase anyway: its own kubectl takes the secret through Pulumi."""
    ws = deployed.ws
    argv = [sys.executable, "-m", "scone_ops", "reconcile", "--once", "--stack", deployed.stack.stack, "--cwd",
            str(deployed.stack.project_dir), "--backend-url", f"file://{ws.state_dir / 'backend'}", "-o", "json"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, env=ws.env())  # KUBECONFIG: dead
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert json.loads(done.stdout)["phase"] == "Running"
    status = cluster.kubectl_json("get", "configmap", "scone-status", "-n", OPERATOR_NAMESPACE)["data"]
    assert status["phase"] == "Running" and status.get("lastReconcile")
    for secret in deployed.secrets():
        assert secret not in done.stdout + done.stderr
