"""Smoke test of the toolchain itself: the built CLI, our Python language host, the
built pulumi-kubernetes provider, Python dynamic providers and helm.v3.Release of
the operator chart (Scontain's released chart when it is beside the repository, with
cert-manager's CRDs it needs; the stand-in chart otherwise), all offline against the
local cluster with a file backend.

Why separate from the program's tests: when the program's e2e tests fail, this
says whether the engine/plugins work at all.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from e2e.harness.charts import CHART_DIR
from e2e.harness.cluster import LocalCluster
from e2e.harness.pulumi_env import VENV, PulumiWorkspace
from e2e.harness.scone_project import local_stack_version
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import chart_tgz

PROGRAM = textwrap.dedent('''
    import pulumi
    import pulumi_kubernetes as k8s
    from pulumi.dynamic import CreateResult, Resource, ResourceProvider

    class Marker(ResourceProvider):
        """A dynamic provider: runs in pulumi-resource-pulumi-python's process."""
        def create(self, props):
            return CreateResult(id_="marker-" + props["name"], outs={"name": props["name"], "len": len(props["name"])})

    class MarkerResource(Resource):
        def __init__(self, name, opts=None):
            super().__init__(Marker(), name, {"name": name, "len": None}, opts)

    cfg = pulumi.Config()
    ns = k8s.core.v1.Namespace("smoke", metadata={"name": "smoke"})
    cm = k8s.core.v1.ConfigMap("cm", metadata={"name": "cm", "namespace": ns.metadata["name"]},
                               data={"greeting": cfg.require("greeting")})
    secret = k8s.core.v1.Secret("sec", metadata={"name": "sec", "namespace": ns.metadata["name"]},
                                string_data={"key": cfg.require_secret("sentinel")})
    rel = k8s.helm.v3.Release("op", chart=cfg.require("chart"), namespace=ns.metadata["name"],
                              name="scone-operator", values={"nodeSelector": {"sgx.intel.com/capable": "true"}})
    m = MarkerResource("hello")
    pulumi.export("cm_uid", cm.metadata["uid"])
    pulumi.export("marker_len", m.len)
    pulumi.export("release_status", rel.status["status"])
''')


def _project(tmp: Path) -> Path:
    d = tmp / "smoke-project"
    d.mkdir()
    (d / "Pulumi.yaml").write_text(
        "name: smoke\nruntime:\n  name: python\n  options:\n    toolchain: pip\n"
        f"    virtualenv: {VENV}\n")
    (d / "__main__.py").write_text(PROGRAM)
    return d


def _operator_chart(cluster: LocalCluster) -> Path:
    """Scontain's released chart of the local stack's version (its cert-manager CRDs applied first,
    as a cluster with cert-manager has them), or the stand-in chart when it is not here."""
    released = chart_tgz(local_stack_version())
    if released is None:
        return CHART_DIR
    cluster.install_cert_manager_crds(released)
    return released


def test_up_with_kubernetes_dynamic_provider_and_operator_chart_then_noop_and_destroy(
    e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path, state_dir: Path,
) -> None:
    chart = _operator_chart(cluster)
    ws = PulumiWorkspace(e2e_tools, _project(tmp_path), state_dir, cluster.kubeconfig)
    ws.stack_init("dev")
    ws.run("config", "set", "greeting", "hi", check=True)
    ws.run("config", "set", "--secret", "sentinel", "SENTINEL-smoke-4d1f", check=True)
    ws.run("config", "set", "chart", str(chart), check=True)

    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output + "\n" + cluster.dump_logs(10)
    out = ws.outputs()
    assert out["marker_len"] == 5
    assert out["release_status"] == "deployed"
    cm = cluster.kubectl_json("get", "configmap", "cm", "-n", "smoke")
    assert cm["data"] == {"greeting": "hi"} and cm["metadata"]["uid"] == out["cm_uid"]
    dep = cluster.kubectl_json("get", "deployment", "scone-controller-manager", "-n", "smoke")
    assert dep["spec"]["template"]["spec"]["nodeSelector"] == {"sgx.intel.com/capable": "true"}
    if chart != CHART_DIR:  # only Scontain's chart sets the SCONE version in the operator's environment
        env = dep["spec"]["template"]["spec"]["containers"][0]["env"]
        assert {"name": "GLOBAL_SCONE_VERSION", "value": local_stack_version()} in env
    crds = cluster.kubectl("get", "crd", "-o", "name").stdout
    for crd in ("cas.services.scone.cloud", "las.base.scone.cloud", "sgxplugins.base.scone.cloud"):
        assert crd in crds

    # The secret config value is encrypted in the state file, never in plain text.
    for f in ws.state_files():
        assert "SENTINEL-smoke-4d1f" not in f.read_text(errors="replace"), f

    again = ws.run("preview", "--diff", "--expect-no-changes")
    assert again.returncode == 0, again.output
    noop = ws.run("up", "--yes", "--skip-preview", "--expect-no-changes")
    assert noop.returncode == 0, noop.output

    down = ws.run("destroy", "--yes", "--skip-preview")
    assert down.returncode == 0, down.output
    ns = cluster.kubectl("get", "namespace", "smoke", "-o", "json", check=False)
    assert ns.returncode != 0 or json.loads(ns.stdout)["status"]["phase"] == "Terminating"


def test_a_program_without_any_config_runs(e2e_tools: Tools, cluster: LocalCluster, tmp_path: Path,
                                           state_dir: Path) -> None:
    """Regression (found by the benchmark): the language host once passed PULUMI_CONFIG=null."""
    d = tmp_path / "no-config"
    d.mkdir()
    (d / "Pulumi.yaml").write_text(
        f"name: noconfig\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {VENV}\n")
    (d / "__main__.py").write_text(
        "import pulumi\nimport pulumi_kubernetes as k8s\n"
        "ns = k8s.core.v1.Namespace('noconfig', metadata={'name': 'noconfig'})\n"
        "pulumi.export('ns', ns.metadata['name'])\n")
    ws = PulumiWorkspace(e2e_tools, d, state_dir, cluster.kubeconfig)
    ws.stack_init("dev")
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-4000:]
    assert ws.outputs() == {"ns": "noconfig"}
