"""The harness itself, checked with the real kubectl: nodes, CRDs, the simulated
operator's CAS workload and status, and CAS moving within its zone under a PDB.

Why: every program e2e test trusts these behaviours; when one breaks, these tests
say it is the harness and not the program.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.charts import package_chart
from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_nodes import DEFAULT_NODES, ZONE_LABEL
from e2e.harness.processes import wait_until

NS = "harness-test"
CAS_SPEC: dict[str, Any] = {
    "persistence": {"enabled": True},
    "databaseSnapshots": {"enabled": True, "persistence": {"enabled": True}},
}


def _apply(cluster: LocalCluster, obj: dict[str, Any]) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(obj))


def _cas(cluster: LocalCluster, name: str) -> dict[str, Any]:
    got: dict[str, Any] = cluster.kubectl_json("get", "cas", name, "-n", NS)
    return got


def _wait(cluster: LocalCluster, what: str, check: Any) -> None:
    try:
        wait_until(what, check, cluster.children, attempts=600, interval=0.2)
    except TimeoutError:
        raise AssertionError(f"{what} never happened\n{cluster.dump_logs(10)}") from None


@pytest.fixture(scope="module")
def operator(cluster: LocalCluster, harness_crds: None) -> None:
    """The CRDs, the test namespace and a ready operator Deployment: the simulated operator acts."""
    cluster.start_operator_deployment(NS)


def make_cas(cluster: LocalCluster, name: str) -> dict[str, Any]:
    """A CAS of its own for one test, once the simulated operator reports it Unprovisioned."""
    _apply(cluster, {"apiVersion": "services.scone.cloud/v1beta1", "kind": "CAS",
                     "metadata": {"name": name, "namespace": NS},
                     "spec": {"image": "r/cas:5.8.0", **CAS_SPEC}})
    _wait(cluster, f"CAS {name} Unprovisioned",
          lambda: _cas(cluster, name).get("status", {}).get("phase") == "Unprovisioned")
    return _cas(cluster, name)


def test_fake_nodes_are_ready_in_two_zones_with_scone_labels(cluster: LocalCluster) -> None:
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert set(by_name) == {n.name for n in DEFAULT_NODES}
    sgx = [n for n in nodes if n["metadata"]["labels"].get("sgx.intel.com/capable") == "true"]
    assert {n["metadata"]["labels"][ZONE_LABEL] for n in sgx} == {"zone-a", "zone-b"}
    for n in sgx:
        labels = n["metadata"]["labels"]
        assert labels["las.scontain.com/capable"] == "true" and labels["las.scontain.com/ok"] == "true"
    for n in nodes:
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        assert ready == "True"
        for addr in n["status"].get("addresses", []):
            assert addr["address"].startswith("127.") or addr["type"] == "Hostname"


def test_crds_have_upstream_groups_kinds_scope_and_status_subresource(
    cluster: LocalCluster, harness_crds: None,
) -> None:
    expected = {
        "cas.services.scone.cloud": ("CAS", "Namespaced"),
        "vaults.services.scone.cloud": ("Vault", "Namespaced"),
        "las.base.scone.cloud": ("LAS", "Cluster"),
        "sgxplugins.base.scone.cloud": ("SGXPlugin", "Cluster"),
        "signedpolicies.cas.scone.cloud": ("SignedPolicy", "Namespaced"),
        "encryptedpolicies.cas.scone.cloud": ("EncryptedPolicy", "Namespaced"),
    }
    for name, (kind, scope) in expected.items():
        crd = cluster.kubectl_json("get", "crd", name)
        assert crd["spec"]["names"]["kind"] == kind
        assert crd["spec"]["scope"] == scope
        assert [v["name"] for v in crd["spec"]["versions"]] == ["v1beta1"]
        assert crd["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_cas_gets_statefulset_zonal_volumes_pdb_and_unprovisioned_status(
    cluster: LocalCluster, operator: None,
) -> None:
    status = make_cas(cluster, "cas-fresh")["status"]
    assert status["state"] == "HEALTHY" and status["provisioned"] == "No"
    assert status["snapshotStatus"] == "Persisted" and status["migrationNodeRatio"] == "Disabled"
    assert status["version"] == "5.8.0" and status["podDisruptionBudgetAlert"] == 0
    pvc = cluster.kubectl_json("get", "pvc", "database-cas-fresh-0", "-n", NS)
    assert pvc["status"]["phase"] == "Bound"
    pv = cluster.kubectl_json("get", "pv", pvc["spec"]["volumeName"])
    pod = cluster.kubectl_json("get", "pod", "cas-fresh-0", "-n", NS)
    node = cluster.kubectl_json("get", "node", pod["spec"]["nodeName"])
    assert pv["metadata"]["labels"][ZONE_LABEL] == node["metadata"]["labels"][ZONE_LABEL]
    assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert not pod["status"]["podIP"].startswith("127.")


def test_provisioned_cas_with_backup_controller_passes_enabling_migration_to_healthy(
    cluster: LocalCluster, operator: None,
) -> None:
    make_cas(cluster, "cas-prov")
    db = Path(os.environ["FAKE_SCONE_STATE_DIR"]) / "casdb" / NS / "cas-prov.json"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_text(json.dumps({"provisioned": True}))
    cluster.kubectl("patch", "cas", "cas-prov", "-n", NS, "--type=merge", "-p", json.dumps(
        {"spec": {"backup-controller": {"enabled": True, "session": "cas-owner/primary-backup/register"}}}))
    seen: set[str] = set()

    def healthy() -> bool:
        st = _cas(cluster, "cas-prov").get("status", {})
        seen.add(st.get("phase", ""))
        return bool(st.get("phase") == "HEALTHY" and st.get("migrationNodeRatio") == "4/4")

    _wait(cluster, "CAS HEALTHY with every node registered", healthy)
    assert "EnablingMigration" in seen, seen
    st = _cas(cluster, "cas-prov")["status"]
    assert st["provisioned"] == "Yes" and st["migrationNodeRatio"] == "4/4" and st["migrationNodeAlert"] == 0
    assert "HEALTHY" in cluster.kubectl("get", "cas", "cas-prov", "-n", NS).stdout


def test_cas_eviction_is_refused_by_pdb_and_a_deleted_pod_returns_in_its_zone(
    cluster: LocalCluster, operator: None,
) -> None:
    make_cas(cluster, "cas-move")
    pod = cluster.kubectl_json("get", "pod", "cas-move-0", "-n", NS)
    old_node = pod["spec"]["nodeName"]
    zone = cluster.kubectl_json("get", "node", old_node)["metadata"]["labels"][ZONE_LABEL]

    drain = cluster.kubectl("drain", old_node, "--ignore-daemonsets", "--delete-emptydir-data",
                            "--timeout=5s", check=False)
    assert drain.returncode != 0
    assert "disruption budget" in drain.stderr
    assert cluster.kubectl_json("get", "pod", "cas-move-0", "-n", NS)["metadata"]["uid"] == pod["metadata"]["uid"]

    # The node stays cordoned by the drain attempt; the admin deletes the pod explicitly.
    assert cluster.kubectl_json("get", "node", old_node)["spec"].get("unschedulable") is True
    cluster.kubectl("delete", "pod", "cas-move-0", "-n", NS, "--wait=false")

    def rescheduled() -> bool:
        p = cluster.kubectl_json("get", "pod", "cas-move-0", "-n", NS)
        return bool(p["metadata"]["uid"] != pod["metadata"]["uid"] and p["status"].get("phase") == "Running")

    try:
        _wait(cluster, "cas-move-0 running again", rescheduled)
    finally:
        cluster.kubectl("uncordon", old_node)
    new_node = cluster.kubectl_json("get", "pod", "cas-move-0", "-n", NS)["spec"]["nodeName"]
    assert new_node != old_node
    assert cluster.kubectl_json("get", "node", new_node)["metadata"]["labels"][ZONE_LABEL] == zone


def test_deleting_cas_removes_its_workload_but_keeps_its_volumes(cluster: LocalCluster, operator: None) -> None:
    make_cas(cluster, "cas-del")
    cluster.kubectl("delete", "cas", "cas-del", "-n", NS, "--wait=false")
    _wait(cluster, "StatefulSet garbage-collected",
          lambda: cluster.kubectl("get", "sts", "cas-del", "-n", NS, check=False).returncode != 0)
    assert cluster.kubectl_json("get", "pvc", "database-cas-del-0", "-n", NS)["status"]["phase"] == "Bound"


def test_packaged_chart_carries_the_requested_version(tmp_path: Path) -> None:
    import tarfile

    tgz = package_chart("5.8.0-rc.19", tmp_path)
    assert tgz.name == "scone-operator-5.8.0-rc.19.tgz"
    with tarfile.open(tgz) as tar:
        chart = tar.extractfile("scone-operator/Chart.yaml").read().decode()  # type: ignore[union-attr]
        values = tar.extractfile("scone-operator/values.yaml").read().decode()  # type: ignore[union-attr]
        names = tar.getnames()
    assert "version: 5.8.0-rc.19" in chart and "appVersion: 5.8.0-rc.19" in chart
    assert "k8soperators:5.8.0-rc.19" in values
    assert "scone-operator/templates/crds.yaml" in names
    with pytest.raises(ValueError, match=r"expected X\.Y\.Z"):
        package_chart("latest", tmp_path)
