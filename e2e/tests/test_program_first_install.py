"""`pulumi up` of the local stack on a bare cluster (no SCONE CRDs yet), from nothing.

Why its own module (own cluster): this is the one case where nothing SCONE exists,
not even the CRDs the operator chart brings; every resource the program reads before
the chart is installed must cope with that.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.scone_project import local_stack_version
from e2e.harness.tools import Tools


def test_first_up_on_a_bare_cluster_creates_everything_and_a_second_up_changes_nothing(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path,
) -> None:
    stack = LocalSconeStack(e2e_tools, cluster, tmp_path)
    ws = stack.create()
    ws.extra_env["FAKE_SCONE_STATE_DIR"] = os.environ["FAKE_SCONE_STATE_DIR"]
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(8)
    out = ws.outputs()
    assert out["operatorRelease"]["status"] == "deployed"
    assert cluster.kubectl("get", "cas", "-n", out["namespaces"]["services"], "-o", "name").stdout.strip()
    again = ws.run("up", "--yes", "--skip-preview", "--expect-no-changes")
    assert again.returncode == 0, again.output[-4000:]
    outputs = json.loads(ws.run("stack", "output", "--json", check=True).stdout)
    assert outputs["deployedVersion"] == local_stack_version()
