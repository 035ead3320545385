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
from dataclasses import dataclass
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.operator_crds import preinstall_scone_crds_for_release
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
    preinstall_scone_crds_for_release(cluster.kubectl_apply, "scone-operator", OPERATOR_NAMESPACE)
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


def _data_and_crds(cluster: LocalCluster) -> dict[str, bool]:
    """Which of the CAS CR, its PVCs, the services namespace and the SCONE CRDs exist now."""
    return {
        "the CAS CR": _exists(cluster, "cas", "cas", "-n", SERVICES_NAMESPACE),
        **{f"PVC {pvc}": _exists(cluster, "pvc", pvc, "-n", SERVICES_NAMESPACE)
           for pvc in ("database-cas-0", "database-snapshots-cas-0")},
        "the services namespace": _exists(cluster, "namespace", SERVICES_NAMESPACE),
        "the SCONE CRDs": _exists(cluster, "crd", CAS_CRD),
    }


def _all_there(found: dict[str, bool]) -> None:
    assert all(found.values()), f"gone: {[name for name, there in found.items() if not there]}"


@dataclass(frozen=True)
class Stage:
    """One step of the story: the CLI run, what exists right after it, and the stack's resources."""

    run: PulumiRun
    data: dict[str, bool]
    las_left: bool
    resources: list[dict[str, Any]]


def _stage(ws: PulumiWorkspace, cluster: LocalCluster, run: PulumiRun) -> Stage:
    exported = json.loads(ws.run("stack", "export", check=True).stdout)["deployment"].get("resources") or []
    las_left = bool(cluster.kubectl("get", "las", "-o", "name").stdout.strip())
    return Stage(run, _data_and_crds(cluster), las_left, exported)


def _cas_urn(ws: PulumiWorkspace) -> str:
    exported = json.loads(ws.run("stack", "export", check=True).stdout)
    resources = exported["deployment"]["resources"]
    return str(next(r["urn"] for r in resources if r["type"] == "kubernetes:services.scone.cloud/v1beta1:CAS"))


@pytest.fixture(scope="module")
def installed(local: LocalSconeStack, cluster: LocalCluster) -> Stage:
    """The stack installed, its CAS HEALTHY."""
    ws = _ws(local)
    up = _ok(ws.run("up", "--yes", "--skip-preview"), cluster)

    def healthy() -> bool:
        status = cluster.kubectl_json("get", "cas", "cas", "-n", SERVICES_NAMESPACE).get("status") or {}
        return status.get("state") == "HEALTHY"

    wait_until("CAS HEALTHY", healthy, cluster.children, attempts=600)
    return _stage(ws, cluster, up)


@pytest.fixture(scope="module")
def forgotten(local: LocalSconeStack, cluster: LocalCluster, installed: Stage) -> Stage:
    """The stack forgets its CAS the documented way: unprotect it, skipCas + cas.removeFromStack, up."""
    ws = _ws(local)
    ws.run("state", "unprotect", _cas_urn(ws), "--yes", check=True)
    local.reconfigure(FORGET)
    return _stage(ws, cluster, _ok(ws.run("up", "--yes", "--skip-preview"), cluster))


@pytest.fixture(scope="module")
def plain_destroy(local: LocalSconeStack, cluster: LocalCluster, forgotten: Stage) -> Stage:
    """A plain ``pulumi destroy`` of the stack that forgot its CAS."""
    ws = _ws(local)
    return _stage(ws, cluster, ws.run("destroy", "--yes", "--skip-preview"))


@pytest.fixture(scope="module")
def unprotected_destroy(local: LocalSconeStack, cluster: LocalCluster, plain_destroy: Stage) -> Stage:
    """``pulumi destroy`` after ``pulumi state unprotect --all``."""
    ws = _ws(local)
    ws.run("state", "unprotect", "--all", "--yes", check=True)
    return _stage(ws, cluster, ws.run("destroy", "--yes", "--skip-preview"))


@pytest.fixture(scope="module")
def destroy_after_removal(local: LocalSconeStack, cluster: LocalCluster, unprotected_destroy: Stage) -> Stage:
    """The explicit removal (CAS CR and its PVCs deleted by hand), then ``pulumi destroy``."""
    cluster.kubectl("delete", "cas", "cas", "-n", SERVICES_NAMESPACE)
    cluster.kubectl("delete", "pvc", "database-cas-0", "database-snapshots-cas-0", "-n", SERVICES_NAMESPACE,
                    "--wait=false")
    wait_until("CAS CR gone", lambda: not _exists(cluster, "cas", "cas", "-n", SERVICES_NAMESPACE),
               cluster.children, attempts=600)
    ws = _ws(local)
    return _stage(ws, cluster, _ok(ws.run("destroy", "--yes", "--skip-preview"), cluster))


def test_install_runs_a_cas_with_its_volumes(installed: Stage) -> None:
    _all_there(installed.data)


def test_the_stack_forgets_its_cas_the_documented_way_and_the_cas_keeps_running(forgotten: Stage) -> None:
    # The program read the cluster: the CAS still runs, so it keeps the namespace and release protected.
    assert "still run(s) in namespace 'osc-scone-system'" in forgotten.run.output, forgotten.run.output[-4000:]
    assert not any(r["type"].endswith(":CAS") for r in forgotten.resources), "the stack still holds the CAS"
    protected = {r["type"]: r.get("protect", False) for r in forgotten.resources if r["type"] in (
        "kubernetes:core/v1:Namespace", "kubernetes:helm.sh/v3:Release")}
    assert protected == {"kubernetes:core/v1:Namespace": True, "kubernetes:helm.sh/v3:Release": True}
    _all_there(forgotten.data)


def test_destroy_is_refused_with_the_reason_and_the_removal_steps_and_deletes_nothing(plain_destroy: Stage) -> None:
    down = plain_destroy.run
    assert down.returncode != 0, down.output[-4000:]
    assert "CAS cas still exist(s) in namespace 'osc-scone-system'" in down.output, down.output[-4000:]
    for step in ("--local-backup", "kubectl delete cas cas -n osc-scone-system", "database-cas-0", "helm uninstall"):
        assert step in down.output, step
    _all_there(plain_destroy.data)
    assert plain_destroy.las_left, "destroy deleted LAS before refusing"


def test_destroy_is_refused_even_with_every_protection_lifted(unprotected_destroy: Stage) -> None:
    down = unprotected_destroy.run
    assert down.returncode != 0
    assert "CAS cas still exist(s)" in down.output, down.output[-4000:]
    _all_there(unprotected_destroy.data)


def test_after_the_explicit_removal_destroy_goes_through_and_retains_namespace_and_crds(
    destroy_after_removal: Stage,
) -> None:
    data = destroy_after_removal.data
    assert data["the services namespace"], "destroy deleted the services namespace"
    assert data["the SCONE CRDs"], "destroy uninstalled the chart and its CRDs"
    assert not destroy_after_removal.las_left, "LAS should go with the stack"
