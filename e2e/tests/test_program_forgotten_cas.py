"""A CAS the stack forgot (skipCas + cas.removeFromStack) survives a later `pulumi destroy`.

Real engine, real kube-apiserver: install the local stack, let the CAS run, make the stack
forget it the documented way (unprotect its URN, skipCas + removeFromStack, `up`), then
`destroy`. `pulumi destroy` does not run the program, so only the destroy guard's own live
read stands between the stack and the namespace holding the CAS volumes and the chart whose
CRDs hold every CAS. Before that read (and the always-retained namespace and release), this
destroy deleted the services namespace and uninstalled the operator release.
Tests run in order against one cluster and one stack, as an operator would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from e2e.harness.charts import preinstall_crds_for_release
from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools

OPERATOR_NAMESPACE = "osc-sec-us-scone-operator"
SERVICES_NAMESPACE = "osc-scone-system"
CAS_CRD = "cas.services.scone.cloud"
FORGET = {"scone:skipCas": True, "scone:cas": {"removeFromStack": True}}


@pytest.fixture(scope="module")
def local(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalSconeStack]:
    work = tmp_path_factory.mktemp("forgotten-cas")
    preinstall_crds_for_release(cluster.kubectl_apply, "scone-operator", OPERATOR_NAMESPACE)
    stack = LocalSconeStack(e2e_tools, cluster, work)
    stack.create()
    yield stack


def _ws(local: LocalSconeStack) -> PulumiWorkspace:
    assert local.ws is not None
    return local.ws


def _ok(run: PulumiRun, cluster: LocalCluster) -> PulumiRun:
    assert run.returncode == 0, f"{run.output[-8000:]}\n--- cluster\n{cluster.dump_logs(8)}"
    return run


def _exists(cluster: LocalCluster, *args: str) -> bool:
    return cluster.kubectl("get", *args, check=False).returncode == 0


def _data_and_crds_are_there(cluster: LocalCluster) -> None:
    assert _exists(cluster, "cas", "cas", "-n", SERVICES_NAMESPACE), "the CAS CR is gone"
    for pvc in ("database-cas-0", "database-snapshots-cas-0"):
        assert _exists(cluster, "pvc", pvc, "-n", SERVICES_NAMESPACE), f"PVC {pvc} is gone"
    assert _exists(cluster, "namespace", SERVICES_NAMESPACE), "the services namespace is gone"
    assert _exists(cluster, "crd", CAS_CRD), "the SCONE CRDs are gone"


def _cas_urn(ws: PulumiWorkspace) -> str:
    exported = json.loads(ws.run("stack", "export", check=True).stdout)
    resources = exported["deployment"]["resources"]
    return str(next(r["urn"] for r in resources if r["type"] == "kubernetes:services.scone.cloud/v1beta1:CAS"))


def test_install_runs_a_cas_with_its_volumes(local: LocalSconeStack, cluster: LocalCluster) -> None:
    _ok(_ws(local).run("up", "--yes", "--skip-preview"), cluster)

    def healthy() -> bool:
        status = cluster.kubectl_json("get", "cas", "cas", "-n", SERVICES_NAMESPACE).get("status") or {}
        return status.get("state") == "HEALTHY"

    wait_until("CAS HEALTHY", healthy, cluster.children, attempts=600)
    _data_and_crds_are_there(cluster)


def test_the_stack_forgets_its_cas_the_documented_way_and_the_cas_keeps_running(
    local: LocalSconeStack, cluster: LocalCluster
) -> None:
    ws = _ws(local)
    ws.run("state", "unprotect", _cas_urn(ws), "--yes", check=True)
    local.reconfigure(FORGET)
    up = _ok(ws.run("up", "--yes", "--skip-preview"), cluster)
    # The program read the cluster: the CAS still runs, so it keeps the namespace and release protected.
    assert "still run(s) in namespace 'osc-scone-system'" in up.output, up.output[-4000:]
    exported = json.loads(ws.run("stack", "export", check=True).stdout)["deployment"]["resources"]
    assert not any(r["type"].endswith(":CAS") for r in exported), "the stack still holds the CAS"
    protected = {r["type"]: r.get("protect", False) for r in exported if r["type"] in (
        "kubernetes:core/v1:Namespace", "kubernetes:helm.sh/v3:Release")}
    assert protected == {"kubernetes:core/v1:Namespace": True, "kubernetes:helm.sh/v3:Release": True}
    _data_and_crds_are_there(cluster)


def test_destroy_is_refused_with_the_reason_and_the_removal_steps_and_deletes_nothing(
    local: LocalSconeStack, cluster: LocalCluster
) -> None:
    ws = _ws(local)
    down = ws.run("destroy", "--yes", "--skip-preview")
    assert down.returncode != 0, down.output[-4000:]
    text = down.output
    assert "CAS cas still exist(s) in namespace 'osc-scone-system'" in text, text[-4000:]
    for step in ("--local-backup", "kubectl delete cas cas -n osc-scone-system", "database-cas-0", "helm uninstall"):
        assert step in text, step
    _data_and_crds_are_there(cluster)
    assert cluster.kubectl("get", "las", "-o", "name").stdout.strip(), "destroy deleted LAS before refusing"


def test_destroy_is_refused_even_with_every_protection_lifted(local: LocalSconeStack, cluster: LocalCluster) -> None:
    ws = _ws(local)
    ws.run("state", "unprotect", "--all", "--yes", check=True)
    down = ws.run("destroy", "--yes", "--skip-preview")
    assert down.returncode != 0
    assert "CAS cas still exist(s)" in down.output, down.output[-4000:]
    _data_and_crds_are_there(cluster)


def test_after_the_explicit_removal_destroy_goes_through_and_retains_namespace_and_crds(
    local: LocalSconeStack, cluster: LocalCluster
) -> None:
    cluster.kubectl("delete", "cas", "cas", "-n", SERVICES_NAMESPACE)
    cluster.kubectl("delete", "pvc", "database-cas-0", "database-snapshots-cas-0", "-n", SERVICES_NAMESPACE,
                    "--wait=false")
    wait_until("CAS CR gone", lambda: not _exists(cluster, "cas", "cas", "-n", SERVICES_NAMESPACE),
               cluster.children, attempts=600)
    _ok(_ws(local).run("destroy", "--yes", "--skip-preview"), cluster)
    assert _exists(cluster, "namespace", SERVICES_NAMESPACE), "destroy deleted the services namespace"
    assert _exists(cluster, "crd", CAS_CRD), "destroy uninstalled the chart and its CRDs"
    assert not cluster.kubectl("get", "las", "-o", "name").stdout.strip(), "LAS should go with the stack"
