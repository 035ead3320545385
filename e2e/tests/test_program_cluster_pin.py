"""One stack, one cluster: the real engine against the harness's control plane.

The stack names its cluster with ``scone:kubeconfig`` while the ambient ``KUBECONFIG`` points at a
dead API server, so every part that would still follow the ambient one (the Kubernetes provider,
Helm, the guards, the status, the owner's ``kubectl provision``) fails the first ``up``. The stack
records its cluster's identity (the kube-system UID); once that record is forged — as if the kube
context pointed at another cluster — previews and updates are refused with both UIDs, nothing in the
state or the cluster changes and the plugin does not run, until the documented re-pin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from e2e.harness.cluster import LocalCluster
from e2e.harness.dead_cluster import DEAD_KUBECONFIG
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.tools import Tools

FORGED = "00000000-1111-4222-8333-444444444444"
GUARD_TYPE = "pulumi-python:dynamic/scone:StackGuard"


def _export(ws: PulumiWorkspace, *flags: str) -> dict[str, Any]:
    exported: dict[str, Any] = json.loads(ws.run("stack", "export", *flags, check=True).stdout)
    return exported


def _resources(ws: PulumiWorkspace, *flags: str) -> list[dict[str, Any]]:
    resources: list[dict[str, Any]] = _export(ws, *flags).get("deployment", {}).get("resources") or []
    return resources


def _custom_states(ws: PulumiWorkspace) -> dict[str, Any]:
    """Each custom resource's inputs and outputs, decrypted (each save encrypts secrets anew); no timestamps."""
    return {
        r["urn"]: (r.get("inputs"), r.get("outputs")) for r in _resources(ws, "--show-secrets") if r.get("custom")
    }


def _guard(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return next(r for r in resources if r["type"] == GUARD_TYPE)


def _forge_identity(ws: PulumiWorkspace, workdir: Path, uid: str) -> None:
    """Rewrite the identity the stack recorded (inputs and outputs of its guard), as another cluster would be."""
    exported = _export(ws)
    guard = _guard(exported["deployment"]["resources"])
    guard["inputs"]["clusterIdentity"] = uid
    guard["outputs"]["clusterIdentity"] = uid
    path = workdir / "forged.json"
    path.write_text(json.dumps(exported))
    ws.run("stack", "import", "--file", str(path), check=True)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_a_stack_refuses_a_cluster_with_another_identity_and_changes_nothing_until_re_pinned(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path
) -> None:
    dead = tmp_path / "ambient-elsewhere.yaml"
    dead.write_text(DEAD_KUBECONFIG)
    stack = LocalSconeStack(
        e2e_tools, cluster, tmp_path,
        overrides={"kubeconfig": str(cluster.kubeconfig), "provisioning": owner_provisioning(tmp_path)},
    )
    ws = stack.create()
    calls = tmp_path / "provision-calls.jsonl"
    use_fake_plugin(ws, tmp_path, calls)
    ws.extra_env["KUBECONFIG"] = str(dead)

    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(8)
    live = cluster.kubectl("get", "namespace", "kube-system", "-o", "jsonpath={.metadata.uid}").stdout.strip()
    guard = _guard(_resources(ws))
    assert guard["inputs"]["clusterIdentity"] == live and guard["inputs"]["stack"] == "local"
    ran = _lines(calls)
    assert ran > 0  # the owner's plugin reached the stack's cluster through scone:kubeconfig

    _forge_identity(ws, tmp_path, FORGED)
    before = _custom_states(ws)
    expected = (
        f"this is stack local; the kube context points at a cluster (kube-system uid {live}) that is not the one"
        f" this stack was deployed to (uid {FORGED}). Nothing was changed."
    )
    preview = ws.run("preview")
    assert preview.returncode != 0 and expected in preview.output, preview.output[-4000:]
    assert f"pulumi config set clusterIdentity {live} --stack local" in preview.output
    for args in (("up", "--yes"), ("up", "--yes", "--skip-preview")):
        refused = ws.run(*args)
        assert refused.returncode != 0 and expected in refused.output, refused.output[-4000:]
    after = _custom_states(ws)
    changed = {
        urn: sorted(
            f"{part}.{key}"
            for part, (old, new) in zip(("inputs", "outputs"), zip(before[urn], after[urn], strict=True), strict=True)
            for key in set(old or {}) | set(new or {})
            if (old or {}).get(key) != (new or {}).get(key)
        )
        for urn in before
        if before[urn] != after.get(urn)
    }
    assert changed == {} and set(after) == set(before)
    assert _lines(calls) == ran

    ws.run("config", "set", "clusterIdentity", live, check=True)
    repinned = ws.run("up", "--yes", "--skip-preview")
    assert repinned.returncode == 0, repinned.output[-6000:]
    assert _guard(_resources(ws))["inputs"]["clusterIdentity"] == live
    again = ws.run("up", "--yes", "--expect-no-changes")
    assert again.returncode == 0, again.output[-4000:]


def test_a_kubeconfig_setting_naming_a_missing_file_is_refused_naming_the_key(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-kubeconfig.yaml"
    stack = LocalSconeStack(e2e_tools, cluster, tmp_path, stack="missing", overrides={"kubeconfig": str(missing)})
    ws = stack.create()
    preview = ws.run("preview")
    assert preview.returncode != 0
    assert f"scone:kubeconfig: '{missing}' is not a file" in preview.output, preview.output[-4000:]
    assert "Traceback" not in preview.output
    assert _resources(ws) == []
