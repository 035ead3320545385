"""An existing stack moves from the ambient kubeconfig to ``scone:kubeconfig`` naming the same cluster.

The resources move from the default Kubernetes provider to the explicit one. Pulumi replaces a
resource whose provider changes unless the new provider's config diff says the cluster is the same,
so this is where a wrong provider declaration would plan to replace every Kubernetes resource, CAS
included. The kubeconfig set here holds two contexts, the dead cluster's being current, and
``scone:kubeContext`` names the control plane's: the switch is proven to follow the named context.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e.harness.cluster import LocalCluster
from e2e.harness.dead_cluster import beside_dead_context
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools

CONTEXT = "scone-e2e"  # the harness kubeconfig's only context
CAS_TYPE = "kubernetes:services.scone.cloud/v1beta1:CAS"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
REPLACING = {"replace", "create-replacement", "delete-replaced", "discard-replaced", "import-replacement"}


def _ok(run: PulumiRun, cluster: LocalCluster) -> PulumiRun:
    assert run.returncode == 0, f"{run.output[-8000:]}\n--- cluster\n{cluster.dump_logs(8)}"
    return run


def _resources(ws: PulumiWorkspace) -> list[dict[str, Any]]:
    exported = json.loads(ws.run("stack", "export", check=True).stdout)
    resources: list[dict[str, Any]] = exported["deployment"].get("resources") or []
    return resources


def _uids(cluster: LocalCluster, resources: list[dict[str, Any]]) -> dict[str, str]:
    """The live uid of the CAS CR and of each namespace the stack manages, by URN."""
    uids = {}
    for r in resources:
        if r["type"] == CAS_TYPE:
            meta = r["outputs"]["metadata"]
            live = cluster.kubectl_json("get", "cas", meta["name"], "-n", meta["namespace"])
        elif r["type"] == NAMESPACE_TYPE:
            live = cluster.kubectl_json("get", "namespace", r["outputs"]["metadata"]["name"])
        else:
            continue
        uids[r["urn"]] = live["metadata"]["uid"]
    return uids


def test_setting_kubeconfig_to_the_same_cluster_replaces_and_deletes_nothing(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path
) -> None:
    overrides: dict[str, Any] = {"provisioning": owner_provisioning(tmp_path)}
    stack = LocalSconeStack(e2e_tools, cluster, tmp_path, stack="switch", overrides=overrides)
    ws = stack.create()
    use_fake_plugin(ws, tmp_path, tmp_path / "provision-calls.jsonl")
    _ok(ws.run("up", "--yes", "--skip-preview"), cluster)  # the ambient KUBECONFIG: the harness's cluster
    before = _resources(ws)
    uids = _uids(cluster, before)
    assert any(r["type"] == CAS_TYPE for r in before) and len(uids) >= 2
    cas = next(r for r in before if r["type"] == CAS_TYPE)["outputs"]["metadata"]
    wait_until("CAS HEALTHY", lambda: (cluster.kubectl_json("get", "cas", cas["name"], "-n", cas["namespace"])
                                       .get("status") or {}).get("state") == "HEALTHY",
               cluster.children, attempts=600)

    two = tmp_path / "two-contexts.yaml"
    two.write_text(beside_dead_context(json.loads(cluster.kubeconfig.read_text()), CONTEXT))
    stack.reconfigure({**overrides, "kubeconfig": str(two), "kubeContext": CONTEXT})

    diff = _ok(ws.run("preview", "--diff"), cluster)
    preview = _ok(ws.run("preview", "--json", "--show-sames"), cluster)
    steps = json.loads(preview.stdout).get("steps") or []
    replaced = sorted(f"{s['op']} {s['urn']}" for s in steps if s["op"] in REPLACING)
    deleted = sorted(s["urn"] for s in steps if s["op"] == "delete" and "::" + PROVIDER_TYPE + "::" not in s["urn"])
    assert replaced == [] and deleted == [], diff.output[-8000:]
    touched = {s["urn"]: s["op"] for s in steps if s["urn"] in uids}
    assert set(touched) == set(uids) and set(touched.values()) <= {"same", "update"}, touched
    # The resources did move to the explicit provider (what made the replacement possible at all).
    assert any(s["op"] == "create" and "::" + PROVIDER_TYPE + "::" in s["urn"] for s in steps), diff.output[-4000:]

    _ok(ws.run("up", "--yes", "--skip-preview"), cluster)
    after = _resources(ws)
    assert _uids(cluster, after) == uids
    assert {r["urn"] for r in after if r.get("custom") and r["type"] != PROVIDER_TYPE} == {
        r["urn"] for r in before if r.get("custom") and r["type"] != PROVIDER_TYPE
    }
    moved = {r["provider"].rsplit("::", 1)[0].rsplit("::", 1)[-1] for r in after if r["type"] == CAS_TYPE}
    assert all(not name.startswith("default") for name in moved), moved
    _ok(ws.run("preview", "--expect-no-changes"), cluster)
