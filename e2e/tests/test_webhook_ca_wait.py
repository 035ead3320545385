"""The first `pulumi up` on a cluster whose cert-manager injects the webhooks' CA late.

Scontain's chart creates its webhook configurations (``failurePolicy: Fail``) without a CA;
cert-manager's CA injector adds it some time later. Until then the API server cannot call the
webhooks and refuses every SCONE CR ("x509: certificate signed by unknown authority"). Here the
simulated injector waits ``INJECTION_DELAY_SECONDS`` after Helm created each configuration, far
longer than Helm needs to report the operator ready (the module skips without Scontain's
real chart, whose webhooks are the ones injected): the ``up`` succeeds only because the program
waits for the CA before it writes a CR.

Why its own module (own cluster): the injector's delay is a setting of the control plane's
simulators.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.scone_project import local_stack_version
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import MISSING, chart_tgz

INJECTION_DELAY_SECONDS = 20.0


@pytest.fixture(scope="module")
def cluster_options() -> dict[str, Any]:
    return {"ca_injection_delay_seconds": INJECTION_DELAY_SECONDS}


def created(obj: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))


def test_scone_crs_are_written_only_after_the_injector_gave_every_webhook_its_ca(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path,
) -> None:
    if chart_tgz(local_stack_version()) is None:
        pytest.skip(MISSING)
    stack = LocalSconeStack(e2e_tools, cluster, tmp_path)
    ws = stack.create()
    ws.extra_env["FAKE_SCONE_STATE_DIR"] = os.environ["FAKE_SCONE_STATE_DIR"]
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(8)
    configurations = json.loads(cluster.kubectl(
        "get", "validatingwebhookconfigurations,mutatingwebhookconfigurations", "-o", "json").stdout)["items"]
    scone = [c for c in configurations
             if "cert-manager.io/inject-ca-from" in (c["metadata"].get("annotations") or {})]
    assert scone, "the real chart's webhook configurations are annotated for CA injection"
    assert all(hook["clientConfig"].get("caBundle") for c in scone for hook in c["webhooks"])
    services = ws.outputs()["namespaces"]["services"]
    las = json.loads(cluster.kubectl("get", "las", "-o", "json").stdout)["items"]
    cas = json.loads(cluster.kubectl("get", "cas", "-n", services, "-o", "json").stdout)["items"]
    assert las and cas
    newest_configuration = max(created(c) for c in scone)
    for cr in [*las, *cas]:
        waited = (created(cr) - newest_configuration).total_seconds()
        assert waited >= INJECTION_DELAY_SECONDS - 1, (cr["kind"], waited)  # timestamps have whole seconds
