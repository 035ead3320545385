"""``scone:kubeconfig`` as secret content with ``scone:kubeContext``: the real engine against the control plane.

The kubeconfig is flattened (its client key embedded, as a CI secret would hold it) and holds two
contexts: the dead cluster, made current, and the harness's control plane, named by
``scone:kubeContext``. The ambient ``KUBECONFIG`` points at the dead cluster too. So the first ``up``
succeeds only if the Kubernetes provider, Helm, the guards, the status and the owner's ``kubectl
provision`` all take the secret content and the named context; and the content (its key above all)
must appear nowhere in plain text: not in the exported state, not in the state files, not in the
output of ``pulumi up``.
"""

from __future__ import annotations

import json
from pathlib import Path

from e2e.harness.cluster import LocalCluster
from e2e.harness.dead_cluster import DEAD_KUBECONFIG, beside_dead_context
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.tools import Tools

CONTEXT = "scone-e2e"  # the harness kubeconfig's only context
GUARD_TYPE = "pulumi-python:dynamic/scone:StackGuard"
#: How Pulumi marks a secret value in an exported state (its signature key and value).
SECRET_SIG, SECRET_MARK = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"


def test_a_secret_kubeconfig_with_two_contexts_reaches_the_named_context_and_stays_encrypted(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path
) -> None:
    flat = json.loads(cluster.kubectl("config", "view", "--raw", "--flatten", "-o", "json").stdout)
    key_data = flat["users"][0]["user"]["client-key-data"]
    content = beside_dead_context(flat, CONTEXT)
    dead = tmp_path / "ambient-elsewhere.yaml"
    dead.write_text(DEAD_KUBECONFIG)
    stack = LocalSconeStack(
        e2e_tools, cluster, tmp_path, stack="secret",
        overrides={"kubeContext": CONTEXT, "provisioning": owner_provisioning(tmp_path)},
    )
    ws = stack.create()
    calls = tmp_path / "provision-calls.jsonl"
    use_fake_plugin(ws, tmp_path, calls)
    ws.extra_env["KUBECONFIG"] = str(dead)
    # On stdin, as the README tells operators (an argument would show in `ps`).
    ws.run("config", "set", "--secret", "scone:kubeconfig", check=True, stdin=content)
    stack_file = stack.project_dir / "stacks" / f"Pulumi.{stack.stack}.yaml"
    assert key_data not in stack_file.read_text() and "secure:" in stack_file.read_text()

    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(8)
    assert calls.exists() and calls.read_text().strip()  # kubectl provision reached the named context

    live = cluster.kubectl("get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}").stdout.strip()
    exported = ws.run("stack", "export", check=True).stdout
    guard = next(r for r in json.loads(exported)["deployment"]["resources"] if r["type"] == GUARD_TYPE)
    assert guard["inputs"]["clusterIdentity"] == live
    # Every distinctive part of the content: the embedded key, the real cluster's CA, the dead one's token.
    ca_data = flat["clusters"][0]["cluster"]["certificate-authority-data"]
    for secret in (key_data, ca_data, "not-this-cluster"):
        assert secret not in exported
        assert secret not in up.output
        for state in ws.state_files():
            assert secret not in state.read_text(errors="replace"), state
    # The provider's kubeconfig is in the state, encrypted.
    provider = next(r for r in json.loads(exported)["deployment"]["resources"]
                    if r["type"] == "pulumi:providers:kubernetes" and "kubeconfig" in (r.get("inputs") or {}))
    assert provider["inputs"]["kubeconfig"].get(SECRET_SIG) == SECRET_MARK
    assert provider["inputs"]["context"] == CONTEXT

    again = ws.run("preview", "--expect-no-changes")
    assert again.returncode == 0, again.output[-4000:]
