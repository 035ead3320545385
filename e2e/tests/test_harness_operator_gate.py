"""The simulated operator acts only while an operator Deployment is ready, as the real one
would only once its chart is installed. A module of its own: it needs a cluster on which no
test has started an operator yet.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_nodes import DEFAULT_NODES
from e2e.harness.processes import wait_until
from e2e.harness.zonal_provisioner import SELECTED_NODE

NS = "operator-gate"


def _wait(cluster: LocalCluster, what: str, check: Callable[[], bool]) -> None:
    try:
        wait_until(what, check, cluster.children, attempts=600, interval=0.2)
    except TimeoutError:
        raise AssertionError(f"{what} never happened\n{cluster.dump_logs(10)}") from None


def simulator_pass_done(cluster: LocalCluster, witness: str) -> None:
    """Return once the simulators' loop has made one more pass.

    The loop runs the zonal provisioner, then the operator; a claim that names its node is
    given a volume by the provisioner. Once a second witness claim has its volume, the
    operator has run at least once since the first claim was made.
    """
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
             "metadata": {"name": witness, "namespace": NS,
                          "annotations": {SELECTED_NODE: DEFAULT_NODES[0].name}},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}
    cluster.kubectl("apply", "-f", "-", input=json.dumps(claim))
    uid = cluster.kubectl_json("get", "pvc", witness, "-n", NS)["metadata"]["uid"]
    _wait(cluster, f"a volume for {witness}",
          lambda: cluster.kubectl("get", "pv", f"pvc-{uid}", check=False).returncode == 0)


def test_operator_sim_does_nothing_until_the_operator_deployment_is_ready(
    cluster: LocalCluster, harness_crds: None,
) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(
        {"apiVersion": "base.scone.cloud/v1beta1", "kind": "LAS",
         "metadata": {"name": "las"}, "spec": {"image": "r/las:5.8.0", "dcapKey": "x"}}))
    cluster.kubectl("create", "namespace", NS)
    simulator_pass_done(cluster, "witness-1")
    simulator_pass_done(cluster, "witness-2")
    # The operator has reconciled with the LAS present; without an operator Deployment, no status.
    assert "status" not in cluster.kubectl_json("get", "las", "las")
    cluster.start_operator_deployment(NS)
    _wait(cluster, "LAS HEALTHY",
          lambda: cluster.kubectl_json("get", "las", "las").get("status", {}).get("state") == "HEALTHY")
    status = cluster.kubectl_json("get", "las", "las")["status"]
    assert status["version"] == "5.8.0"
    assert status["desiredNumberScheduled"] == status["numberAvailable"] == 4
