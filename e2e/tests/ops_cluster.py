"""Shared set-up of the scone-ops e2e tests: a HEALTHY CAS of the local stack on the kwok nodes.

The CAS custom resource is applied directly (not through `pulumi up`): scone-ops reads only the CR,
its pod and the nodes. The simulated operator makes the StatefulSet, zonal volumes and PDB; the
fake CAS database marks it provisioned; the backup controller's registration label
(`cas-registered-<cas>.<ns>-<version>`), which the simulation does not set, is put on every SGX
node here, as the real backup controller does once it registered the node.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from scone_ops.stack_target import load_target, stack_file_for

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_nodes import ZONE_LABEL
from e2e.harness.operator_crds import SIMULATED_OPERATOR_NAMESPACE, apply_scone_crds
from e2e.harness.processes import wait_until

TARGET = load_target(stack_file_for("local"))
NS, CAS = TARGET.namespace, TARGET.cas_name
REG = TARGET.registration_label
SGX = "sgx.intel.com/capable"


def wait(cluster: LocalCluster, what: str, check: Any) -> None:
    try:
        wait_until(what, check, cluster.children, attempts=1500, interval=0.2)
    except TimeoutError:
        raise AssertionError(f"{what} never happened\n{cluster.dump_logs(10)}") from None


def install_healthy_cas(cluster: LocalCluster) -> None:
    """CRDs (Scontain's released ones when they are beside the repository), the operator's Deployment
    (the simulation acts while it is ready), a provisioned CAS."""
    apply_scone_crds(cluster)
    cluster.kubectl("create", "namespace", NS)
    cluster.kubectl("create", "namespace", SIMULATED_OPERATOR_NAMESPACE)
    cluster.kubectl("create", "deployment", "scone-controller-manager", "-n", SIMULATED_OPERATOR_NAMESPACE,
                    "--image=registry.scontain.com/scone.cloud/k8soperators:5.8.0")
    db = Path(os.environ["FAKE_SCONE_STATE_DIR"]) / "casdb" / NS / f"{CAS}.json"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_text(json.dumps({"provisioned": True}))
    cluster.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "services.scone.cloud/v1beta1", "kind": "CAS", "metadata": {"name": CAS, "namespace": NS},
        "spec": {"image": f"r/cas:{TARGET.version}", "persistence": {"enabled": True},
                 "databaseSnapshots": {"enabled": True, "persistence": {"enabled": True}},
                 "backup-controller": {"enabled": True, "session": "cas-owner/primary-backup/register"}}}))
    steady(cluster)


def sgx_nodes(cluster: LocalCluster) -> list[dict[str, Any]]:
    return [n for n in cluster.kubectl_json("get", "nodes")["items"] if n["metadata"]["labels"].get(SGX) == "true"]


def cas_pod(cluster: LocalCluster) -> dict[str, Any] | None:
    got = cluster.kubectl("get", "pod", f"{CAS}-0", "-n", NS, "-o", "json", check=False)
    return json.loads(got.stdout) if got.returncode == 0 else None


def healthy(cluster: LocalCluster) -> bool:
    got = cluster.kubectl("get", "cas", CAS, "-n", NS, "-o", "json", check=False)
    status = json.loads(got.stdout).get("status", {}) if got.returncode == 0 else {}
    pod = cas_pod(cluster)
    return bool(status.get("state") == status.get("phase") == "HEALTHY" and pod
                and pod["status"].get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp"))


def steady(cluster: LocalCluster) -> dict[str, str]:
    """Every node schedulable and registered, CAS HEALTHY; returns its node, zone and zone partner."""
    for node in cluster.kubectl_json("get", "nodes")["items"]:
        name = node["metadata"]["name"]
        if node["spec"].get("unschedulable"):
            cluster.kubectl("uncordon", name)
        if node["metadata"]["labels"].get(SGX) == "true":
            cluster.kubectl("label", "node", name, f"{REG}=true", "--overwrite")
    wait(cluster, "CAS HEALTHY and running", lambda: healthy(cluster))
    pod = cas_pod(cluster)
    assert pod is not None
    node = pod["spec"]["nodeName"]
    zone = cluster.kubectl_json("get", "node", node)["metadata"]["labels"][ZONE_LABEL]
    partner = next(n["metadata"]["name"] for n in sgx_nodes(cluster)
                   if n["metadata"]["labels"][ZONE_LABEL] == zone and n["metadata"]["name"] != node)
    other_zone = next(n["metadata"]["name"] for n in sgx_nodes(cluster)
                      if n["metadata"]["labels"][ZONE_LABEL] != zone)
    return {"node": node, "zone": zone, "partner": partner, "other_zone_node": other_zone}


def snapshot(cluster: LocalCluster) -> dict[str, Any]:
    """What a refused or dry run must not change: node schedulability and labels, every pod and its node."""
    nodes = {n["metadata"]["name"]: (bool(n["spec"].get("unschedulable")), n["metadata"]["labels"])
             for n in cluster.kubectl_json("get", "nodes")["items"]}
    pods = {f"{p['metadata']['namespace']}/{p['metadata']['name']}": (p["metadata"]["uid"], p["spec"].get("nodeName"))
            for p in cluster.kubectl_json("get", "pods", "-A")["items"]}
    return {"nodes": nodes, "pods": pods}


def ops(cluster: LocalCluster, *args: str, env: dict[str, str] | None = None,
        stack: tuple[str, ...] = ("--stack", "local")) -> subprocess.CompletedProcess[str]:
    """scone-ops as an administrator runs it, against this cluster."""
    return subprocess.run([sys.executable, "-m", "scone_ops", *args, *stack, "--kubeconfig", str(cluster.kubeconfig)],
                          capture_output=True, text=True, check=False, env={**os.environ, **(env or {})})


def ops_argv(cluster: LocalCluster, *args: str) -> list[str]:
    return [sys.executable, "-m", "scone_ops", *args, "--stack", "local", "--kubeconfig", str(cluster.kubeconfig)]
