"""A CAS deleted out of band is never re-created by `scone-ops reconcile`: a new, empty CAS would
be a new trust anchor. The reconcile stops in `Error` with the recovery steps, runs no update, and
leaves the CAS in the stack's state (a refresh would have dropped it, and the next `up` would
create an empty one). Its own module: the test leaves the cluster without its CAS.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.tools import Tools
from e2e.tests.reconcile_support import FAST, deployed_stack, reconcile, status_data, ws_of

CAS_TYPE = "kubernetes:services.scone.cloud/v1beta1:CAS"


@pytest.fixture(scope="module")
def deployed(e2e_tools: Tools, cluster: LocalCluster,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    yield deployed_stack(e2e_tools, cluster, tmp_path_factory.mktemp("reconcile-cas-stack"))


def test_a_deleted_cas_is_not_recreated_and_the_error_gives_the_recovery_steps(
        deployed: LocalSconeStack, cluster: LocalCluster) -> None:
    ws = ws_of(deployed)
    out = ws.outputs()
    name, ns = out["cas"]["name"], out["cas"]["namespace"]
    first = reconcile(deployed, "--once", *FAST)
    assert first.code == 0, first.stderr[-4000:]
    history = len(json.loads(ws.run("stack", "history", "--json", check=True).stdout))
    cluster.kubectl("delete", "cas", name, "-n", ns, "--wait=true")

    for args in (("--detect-only",), ()):
        done = reconcile(deployed, "--once", *args, *FAST)
        assert done.code == 13, done.stderr[-4000:]
        assert done.result["phase"] == "Error" and done.result["applied"] is False
        assert "not re-created" in done.result["error"]
        assert "Unmanaged" in done.result["next_step"] and "snapshotDir" in done.result["next_step"]
    assert cluster.kubectl("get", "cas", name, "-n", ns, check=False).returncode != 0, "CAS was re-created"
    assert len(json.loads(ws.run("stack", "history", "--json", check=True).stdout)) == history, "an update ran"
    state = json.loads(ws.run("stack", "export", check=True).stdout)
    assert any(r["type"] == CAS_TYPE for r in state["deployment"]["resources"]), "the CAS left the state"
    data = status_data(cluster)
    assert data["phase"] == "Error" and "recovery" in data["lastError"].lower()
    assert data["lastSuccessPhase"] == "Running"
    for sentinel_name, value in deployed.sentinels().items():
        assert value not in json.dumps(data), sentinel_name
