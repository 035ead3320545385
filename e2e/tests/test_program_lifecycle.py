"""The real program, the real engine, the local cluster: install, no-op, change,
secrets in state, protection on destroy, skipCas refusal.

Tests in this module share one cluster and one `local` stack, installed once by the
``installed`` fixture; each test passes alone and in any order: a test that changes the
stack file puts it back (and the stack with it) before it ends. The cluster already holds
the operator chart's CRDs (adopted by the release on install), as after an earlier
install; the bare-cluster first install is test_program_first_install.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import S3_SECRET_NAME, S3_SECRET_NAMESPACE, LocalSconeStack
from e2e.harness.operator_crds import preinstall_scone_crds_for_release
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.scone_project import local_stack_version
from e2e.harness.tools import Tools

OPERATOR_NAMESPACE = "osc-sec-us-scone-operator"  # the spec's default (namespaces.operator)


@pytest.fixture(scope="module")
def local(e2e_tools: Tools, cluster: LocalCluster,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    work = tmp_path_factory.mktemp("local-stack")
    preinstall_scone_crds_for_release(cluster.kubectl_apply, "scone-operator", OPERATOR_NAMESPACE)
    stack = LocalSconeStack(e2e_tools, cluster, work)
    # Every kubectl-provision the program runs is recorded here (the fake's call log).
    stack.call_log = work / "provision-calls.jsonl"  # type: ignore[attr-defined]
    ws = stack.create()
    ws.extra_env["FAKE_SCONE_CALL_LOG"] = str(stack.call_log)  # type: ignore[attr-defined]
    ws.extra_env["FAKE_SCONE_STATE_DIR"] = os.environ["FAKE_SCONE_STATE_DIR"]
    yield stack


@pytest.fixture(scope="module")
def installed(local: LocalSconeStack, cluster: LocalCluster) -> PulumiRun:
    """The stack after its first ``up`` (with the CAS HEALTHY); the ``up`` run itself."""
    ws = _ws(local)
    up = _ok(ws.run("up", "--yes", "--skip-preview"), cluster)
    out = ws.outputs()
    ns_svc, cas_name = out["namespaces"]["services"], out["cas"]["name"]

    def cas_running() -> bool:
        status = cluster.kubectl_json("get", "cas", cas_name, "-n", ns_svc).get("status") or {}
        return status.get("state") == "HEALTHY"

    wait_until("CAS HEALTHY", cas_running, cluster.children, attempts=600)
    return up


@pytest.fixture
def restores_stack_file(local: LocalSconeStack, cluster: LocalCluster) -> Iterator[None]:
    """After the test: the committed stack file again, and the stack converged to it."""
    yield
    local.reconfigure({})
    _ok(_ws(local).run("up", "--yes", "--skip-preview"), cluster)


def _ws(local: LocalSconeStack) -> PulumiWorkspace:
    assert local.ws is not None
    return local.ws


def _ok(run: PulumiRun, cluster: LocalCluster) -> PulumiRun:
    assert run.returncode == 0, f"{run.output[-8000:]}\n--- cluster\n{cluster.dump_logs(8)}"
    return run


def _services_ns(local: LocalSconeStack) -> str:
    return str(_ws(local).outputs()["namespaces"]["services"])


def _calls(local: LocalSconeStack) -> list[dict[str, Any]]:
    path: Path = local.call_log  # type: ignore[attr-defined]
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _preview_steps(ws: PulumiWorkspace) -> list[dict[str, Any]]:
    run = ws.run("preview", "--json")
    assert run.returncode == 0, run.output[-6000:]
    doc = json.loads(run.stdout)
    return list(doc.get("steps") or [])


def test_up_creates_operator_services_cas_and_backupper(local: LocalSconeStack, cluster: LocalCluster,
                                                        installed: PulumiRun) -> None:
    ws = _ws(local)
    out = ws.outputs()
    assert out["deployedVersion"] == local_stack_version()
    assert out["operatorRelease"]["status"] == "deployed"
    ns_op, ns_svc = out["namespaces"]["operator"], out["namespaces"]["services"]
    dep = cluster.kubectl_json("get", "deployment", "scone-controller-manager", "-n", ns_op)
    assert (dep["status"].get("readyReplicas") or 0) >= 1
    assert cluster.kubectl("get", "las", "-o", "name").stdout.strip()
    assert cluster.kubectl("get", "sgxplugins", "-o", "name").stdout.strip()
    cas_name = out["cas"]["name"]
    pvc = cluster.kubectl_json("get", "pvc", f"database-{cas_name}-0", "-n", ns_svc)
    assert pvc["status"]["phase"] == "Bound"
    assert installed.seconds > 0


def test_second_up_and_preview_change_nothing_and_run_no_plugin(local: LocalSconeStack, cluster: LocalCluster,
                                                                installed: PulumiRun) -> None:
    ws = _ws(local)
    before = len(_calls(local))
    preview = _ok(ws.run("preview", "--expect-no-changes", "--diff"), cluster)
    noop = _ok(ws.run("up", "--yes", "--skip-preview", "--expect-no-changes"), cluster)
    assert len(_calls(local)) == before, "a no-op preview/up ran kubectl-provision"
    assert "unchanged" in noop.stdout, noop.stdout[-3000:]
    assert preview.returncode == 0


def test_program_cas_moves_within_its_zone_and_its_pdb_refuses_eviction(local: LocalSconeStack,
                                                                       cluster: LocalCluster,
                                                                       installed: PulumiRun) -> None:
    out = _ws(local).outputs()
    ns, cas = out["namespaces"]["services"], out["cas"]["name"]
    pod = cluster.kubectl_json("get", "pod", f"{cas}-0", "-n", ns)
    node = pod["spec"]["nodeName"]
    zone = cluster.kubectl_json("get", "node", node)["metadata"]["labels"]["topology.kubernetes.io/zone"]
    drain = cluster.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=5s",
                            check=False)
    try:
        assert drain.returncode != 0 and "disruption budget" in drain.stderr
        cluster.kubectl("delete", "pod", f"{cas}-0", "-n", ns, "--wait=false")

        def back() -> bool:
            p = cluster.kubectl_json("get", "pod", f"{cas}-0", "-n", ns)
            return bool(p["metadata"]["uid"] != pod["metadata"]["uid"] and p["status"].get("phase") == "Running")

        wait_until("CAS pod back", back, cluster.children, attempts=600)
    finally:
        cluster.kubectl("uncordon", node)
    new = cluster.kubectl_json("get", "pod", f"{cas}-0", "-n", ns)["spec"]["nodeName"]
    assert new != node
    assert cluster.kubectl_json("get", "node", new)["metadata"]["labels"]["topology.kubernetes.io/zone"] == zone
    # Moving CAS is not drift: the stack still sees no change.
    _ok(_ws(local).run("preview", "--expect-no-changes"), cluster)


def test_state_file_has_no_plaintext_secret(local: LocalSconeStack, installed: PulumiRun) -> None:
    ws = _ws(local)
    files = ws.state_files()
    assert files, "the file backend wrote no state"
    for f in files:
        text = f.read_text(errors="replace")
        for name, value in local.sentinels().items():
            assert value not in text, f"{name} in plain text in {f}"


def test_backup_interval_change_updates_only_the_backupper(local: LocalSconeStack, cluster: LocalCluster,
                                                           installed: PulumiRun, restores_stack_file: None) -> None:
    ws = _ws(local)
    local.reconfigure({"scone:backup": {"interval": 7200}})
    steps = _preview_steps(ws)
    changed = [s for s in steps if s.get("op") not in ("same", "read", None)]
    assert changed, "changing backup.interval changed nothing"
    for step in changed:
        urn = step.get("urn", "")
        status = urn.endswith("scone:SconeStatus::scone-status")  # records the new deployed spec
        assert "backupper" in urn.lower() or step.get("op") == "refresh" or status, \
            f"unexpected change: {step.get('op')} {urn}"
    _ok(ws.run("up", "--yes", "--skip-preview"), cluster)
    assert ws.outputs()["backup"]["interval"] == 7200


def test_destroy_is_refused_while_cas_is_protected_and_deletes_nothing(local: LocalSconeStack,
                                                                      cluster: LocalCluster,
                                                                      installed: PulumiRun) -> None:
    """Found by this tier first: destroy used to delete the backupper, LAS and SGX plugin before
    the protected CAS stopped it; the stack's destroy guard now makes it delete nothing."""
    ws = _ws(local)
    out = ws.outputs()
    ns_svc, cas_name = out["namespaces"]["services"], out["cas"]["name"]
    down = ws.run("destroy", "--yes", "--skip-preview")
    assert down.returncode != 0
    assert "protect" in down.output.lower()
    assert cluster.kubectl("get", "cas", cas_name, "-n", ns_svc, check=False).returncode == 0
    assert cluster.kubectl_json("get", "pvc", f"database-{cas_name}-0", "-n", ns_svc)["status"]["phase"] == "Bound"
    assert cluster.kubectl("get", "secret", S3_SECRET_NAME, "-n", S3_SECRET_NAMESPACE, check=False).returncode == 0
    bucket_secret = out["backup"]["secretName"]
    assert cluster.kubectl("get", "secret", bucket_secret, "-n", ns_svc, check=False).returncode == 0
    after = ws.run("preview", "--expect-no-changes", "--diff")
    assert after.returncode == 0, after.output[-3000:]


def test_skip_cas_on_a_stack_with_cas_fails_with_the_explicit_steps(local: LocalSconeStack, cluster: LocalCluster,
                                                                    installed: PulumiRun,
                                                                    restores_stack_file: None) -> None:
    ws = _ws(local)
    local.reconfigure({"scone:skipCas": True})
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode != 0
    text = up.output
    assert "skipCas" in text
    out_ns = ws.outputs()["namespaces"]["services"]
    assert cluster.kubectl("get", "cas", "-n", out_ns, "-o", "name").stdout.strip()
