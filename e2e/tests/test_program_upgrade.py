"""A `serviceVersion` bump with the owner operations on: CAS is provisioned by the
fake kubectl-provision, then 5.8.0-rc.19 -> 5.8.0 backs CAS up, upgrades it, and only
then upgrades the operator release, LAS and the SGX plugin. The charts are Scontain's released
5.8.0-rc.19 and 5.8.0 (their CRDs differ), with the real CRD schemas, cert-manager's CRDs and the
operator's ``failurePolicy: Fail`` webhooks (served by the simulators); the module skips when the
released charts are not beside the repository.

Why e2e: the ordering is the engine's (dependencies, dynamic providers in their own
process), and the fake plugin acts on the real API server through real kubectl, while
the simulated operator rolls the CAS StatefulSet and reports the new version.
5.8.0-rc.19 supports Kubernetes up to 1.25 and the harness runs 1.26.13, so the stack at
the old version declares no ``kubernetesVersion`` (the support-matrix check applies only to a
declared one), as an operator of such a cluster would have to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import MISSING, chart_tgz, released_location

OLD, NEW = "5.8.0-rc.19", "5.8.0"


@pytest.fixture(scope="module")
def owner_stack(e2e_tools: Tools, cluster: LocalCluster,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    location, new_chart = released_location(OLD, NEW), chart_tgz(NEW)
    if location is None or new_chart is None:
        pytest.skip(MISSING)
    cluster.install_cert_manager_crds(new_chart)
    work = tmp_path_factory.mktemp("upgrade")
    overrides: dict[str, Any] = {
        "scone:serviceVersion": OLD,
        "scone:operatorChart": {"location": location},
        "scone:provisioning": owner_provisioning(work),
        "scone:kubernetesVersion": None,
    }
    stack = LocalSconeStack(e2e_tools, cluster, work, overrides=overrides)
    stack.call_log = work / "calls.jsonl"  # type: ignore[attr-defined]
    ws = stack.create()
    use_fake_plugin(ws, work, call_log=stack.call_log)  # type: ignore[attr-defined]
    yield stack


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _argvs(stack: LocalSconeStack) -> list[list[str]]:
    path: Path = stack.call_log  # type: ignore[attr-defined]
    if not path.exists():
        return []
    return [json.loads(line)["argv"] for line in path.read_text().splitlines() if line.strip()]


def _cas_status(cluster: LocalCluster, ns: str) -> dict[str, Any]:
    status: dict[str, Any] = cluster.kubectl_json("get", "cas", "cas", "-n", ns).get("status") or {}
    return status


@dataclass(frozen=True)
class Stage:
    """One ``up`` of the story and the kubectl-provision calls it made."""

    up: PulumiRun
    calls: list[list[str]]
    cas_status: dict[str, Any]


@pytest.fixture(scope="module")
def installed_old(owner_stack: LocalSconeStack, cluster: LocalCluster) -> Stage:
    """The stack installed at the old version, CAS provisioned by its owner and HEALTHY."""
    ws = _ws(owner_stack)
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-8000:] + "\n" + cluster.dump_logs(8)
    ns = ws.outputs()["namespaces"]["services"]
    wait_until("CAS provisioned and HEALTHY", lambda: _cas_status(cluster, ns).get("phase") == "HEALTHY",
               cluster.children, attempts=600)
    return Stage(up, _argvs(owner_stack), _cas_status(cluster, ns))


@pytest.fixture(scope="module")
def bumped(owner_stack: LocalSconeStack, cluster: LocalCluster, installed_old: Stage) -> Stage:
    """The same stack after ``serviceVersion`` was raised to the new version (``up --json``)."""
    owner_stack.reconfigure({**owner_stack.overrides, "scone:serviceVersion": NEW})
    # `up --json` streams the engine's events, one JSON object per line, in order.
    up = _ws(owner_stack).run("up", "--yes", "--skip-preview", "--json")
    errors = [line[:3000] for line in up.output.splitlines() if '"severity":"error"' in line and "debug" not in line]
    assert up.returncode == 0, "\n".join(errors[:20]) + "\n" + up.output[-3000:] + "\n" + cluster.dump_logs(8)
    ns = _ws(owner_stack).outputs()["namespaces"]["services"]
    return Stage(up, _argvs(owner_stack)[len(installed_old.calls):], _cas_status(cluster, ns))


def test_install_at_the_old_version_provisions_cas_through_kubectl_provision(
    owner_stack: LocalSconeStack, installed_old: Stage,
) -> None:
    ws = _ws(owner_stack)
    assert any("--local-backup" not in a and a[:2] == ["cas", "cas"] for a in installed_old.calls), installed_old.calls
    status = installed_old.cas_status
    assert status["provisioned"] == "Yes" and status["version"] == OLD
    for f in ws.state_files():
        assert owner_stack.dcap_key not in f.read_text(errors="replace"), f


def test_version_bump_backs_up_and_upgrades_cas_before_operator_las_and_sgx_plugin(
    owner_stack: LocalSconeStack, cluster: LocalCluster, bumped: Stage,
) -> None:
    ws = _ws(owner_stack)
    calls, up = bumped.calls, bumped.up
    backup = next(i for i, a in enumerate(calls) if "--local-backup" in a)
    upgrade = next(i for i, a in enumerate(calls) if "--upgrade" in a)
    assert backup < upgrade, calls
    assert calls[upgrade][calls[upgrade].index("--upgrade") + 1] == NEW

    # Engine events: when did each CR/release update start and finish?
    order: list[tuple[str, str, str]] = []
    for line in up.stdout.splitlines():
        if not line.startswith("{"):
            continue
        ev = json.loads(line)
        for kind in ("resourcePreEvent", "resOutputsEvent"):
            if kind in ev:
                meta = ev[kind]["metadata"]
                if meta.get("op") in ("update", "replace", "create-replacement"):
                    order.append((kind, meta["type"], meta["urn"]))

    def first(kind: str, type_suffix: str) -> int:
        return next(i for i, (k, t, _) in enumerate(order) if k == kind and t.endswith(type_suffix))

    release_start = first("resourcePreEvent", "helm.sh/v3:Release")
    las_start = first("resourcePreEvent", "base.scone.cloud/v1beta1:LAS")
    sgx_start = first("resourcePreEvent", "base.scone.cloud/v1beta1:SGXPlugin")
    ns = ws.outputs()["namespaces"]["services"]
    # CAS already runs the new version when the operator and the services start moving.
    assert _cas_status(cluster, ns)["version"] == NEW
    cas_cr = cluster.kubectl_json("get", "cas", "cas", "-n", ns)
    assert cas_cr["spec"]["image"].endswith(f":{NEW}")
    upgrade_done = first("resOutputsEvent", "scone:CasUpgrade")
    gate_done = first("resOutputsEvent", "scone:CasVersionGate")
    assert upgrade_done < gate_done < min(release_start, las_start, sgx_start), order
    out = ws.outputs()
    assert out["deployedVersion"] == NEW
    las = cluster.kubectl_json("get", "las", "-o", "json")["items"][0]
    assert las["spec"]["image"].endswith(f":{NEW}")


def test_the_bump_installs_the_real_new_chart_and_its_changed_crds(
    owner_stack: LocalSconeStack, cluster: LocalCluster, installed_old: Stage, bumped: Stage,
) -> None:
    namespace = _ws(owner_stack).outputs()["namespaces"]["operator"]
    operator = cluster.kubectl_json("get", "deployment", "scone-controller-manager", "-n", namespace)
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "GLOBAL_SCONE_VERSION", "value": NEW} in env  # set by Scontain's chart of that version
    crd = cluster.kubectl("get", "crd", "cas.services.scone.cloud", "-o", "json").stdout
    # A description 5.8.0's CAS CRD added over 5.8.0-rc.19's.
    assert "duration indicating how often the snapshots should" in crd
