"""Scontain's real 5.8.0 chart from a private chart repository, installed by the real program.

The repository (``harness.chart_server``) requires HTTP basic auth and serves ``index.yaml`` and
the released tgz files, read where they are kept (never copied). Missing or wrong credentials fail
the run with a message naming ``scone:operatorChart.*`` and without the secret; the right ones
install the chart through the Helm release's own options (real engine, real kubernetes provider).
The chart brings the real CRD schemas (unknown fields are pruned), RBAC, Issuer/Certificate and
``failurePolicy: Fail`` webhooks, which the simulators serve over TLS (see ``harness.webhook_sim``).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.chart_server import ChartServer
from e2e.harness.cluster import LocalCluster
from e2e.harness.kube_api import KubeApiError
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import MISSING, chart_tgz
from e2e.tests.cr_readback import SCONE_CR_TYPES, missing_fields

VERSION = "5.8.0"
USER = "osc-mirror-reader"


@pytest.fixture(scope="module")
def real_charts() -> list[Path]:
    charts = [chart_tgz(version) for version in ("5.8.0-rc.19", VERSION)]
    if any(path is None for path in charts):
        pytest.skip(MISSING)
    return [path for path in charts if path is not None]


@pytest.fixture(scope="module")
def password() -> str:
    return "chart-pw-" + secrets.token_urlsafe(18)


@pytest.fixture(scope="module")
def repository(real_charts: list[Path], password: str) -> Iterator[ChartServer]:
    with ChartServer(real_charts, USER, password) as server:
        yield server


@pytest.fixture(scope="module")
def stack(e2e_tools: Tools, cluster: LocalCluster, real_charts: list[Path], repository: ChartServer,
          tmp_path_factory: pytest.TempPathFactory) -> LocalSconeStack:
    cluster.install_cert_manager_crds(real_charts[-1])
    overrides: dict[str, Any] = {
        "scone:operatorChart": {"location": "scone-operator", "repository": repository.url, "timeoutSeconds": 300},
    }
    local = LocalSconeStack(e2e_tools, cluster, tmp_path_factory.mktemp("private-chart"), overrides=overrides)
    local.create()
    return local


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _set_credentials(ws: PulumiWorkspace, user: str, password: str) -> None:
    # On stdin, as the README tells operators: a value argument would show in `ps`.
    ws.run("config", "set", "--secret", "scone:operatorChart.username", check=True, stdin=user)
    ws.run("config", "set", "--secret", "scone:operatorChart.password", check=True, stdin=password)


@dataclass(frozen=True)
class Refused:
    """A run the repository refused, what the repository answered, and whether the chart got installed."""

    run: PulumiRun
    index_status: int
    chart_downloads: int
    chart_installed: bool
    secret: str = ""


def _refused(stack: LocalSconeStack, repository: ChartServer, cluster: LocalCluster, *args: str,
             secret: str = "") -> Refused:
    run = _ws(stack).run(*args)
    installed = cluster.kubectl("get", "crd", "cas.services.scone.cloud", check=False).returncode == 0
    return Refused(run, repository.statuses("/index.yaml")[-1],
                   len(repository.statuses(f"/scone-operator-{VERSION}.tgz")), installed, secret)


@pytest.fixture(scope="module")
def without_credentials(stack: LocalSconeStack, repository: ChartServer, cluster: LocalCluster) -> Refused:
    """``pulumi preview`` of the stack before any credential is set."""
    return _refused(stack, repository, cluster, "preview")


@pytest.fixture(scope="module")
def wrong_credentials(without_credentials: Refused, stack: LocalSconeStack, repository: ChartServer,
                      cluster: LocalCluster) -> Refused:
    """``pulumi up`` with a wrong password (after the run without credentials)."""
    wrong = "wrong-" + secrets.token_urlsafe(12)
    _set_credentials(_ws(stack), USER, wrong)
    return _refused(stack, repository, cluster, "up", "--yes", "--skip-preview", secret=wrong)


@pytest.fixture(scope="module")
def installed(wrong_credentials: Refused, stack: LocalSconeStack, cluster: LocalCluster,
              password: str) -> PulumiRun:
    """``pulumi up`` with the right credentials, after both refused runs."""
    _set_credentials(_ws(stack), USER, password)
    up = _ws(stack).run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(20)
    return up


def test_without_credentials_the_preview_fails_naming_the_keys(without_credentials: Refused) -> None:
    run = without_credentials.run
    assert run.returncode != 0
    assert "scone:operatorChart.username / scone:operatorChart.password are not set" in run.output
    assert "pulumi config set --secret operatorChart.password" in run.output
    assert "Traceback" not in run.output
    assert without_credentials.index_status == 401


def test_wrong_credentials_fail_the_up_naming_the_keys_never_the_secret(wrong_credentials: Refused) -> None:
    run = wrong_credentials.run
    assert run.returncode != 0
    assert "refused scone:operatorChart.username / scone:operatorChart.password (HTTP 401)" in run.output
    assert wrong_credentials.secret not in run.output
    assert "Traceback" not in run.output
    assert wrong_credentials.index_status == 401
    assert wrong_credentials.chart_downloads == 0
    assert not wrong_credentials.chart_installed


def test_right_credentials_install_the_real_chart_through_the_release(stack: LocalSconeStack, installed: PulumiRun,
                                                                       repository: ChartServer,
                                                                       cluster: LocalCluster, password: str) -> None:
    ws = _ws(stack)
    assert ws.outputs()["operatorRelease"]["status"] == "deployed"
    operator = cluster.kubectl_json("get", "deployment", "scone-controller-manager", "-n",
                                    ws.outputs()["namespaces"]["operator"])
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "GLOBAL_SCONE_VERSION", "value": VERSION} in env  # only Scontain's chart sets it
    assert 200 in repository.statuses(f"/scone-operator-{VERSION}.tgz")
    webhook = cluster.kubectl_json("get", "validatingwebhookconfigurations")["items"]
    assert any(hook["failurePolicy"] == "Fail" for config in webhook for hook in config["webhooks"])
    assert password not in installed.output
    for path in ws.state_files():
        assert password not in path.read_text(errors="replace"), path


def test_every_scone_cr_reads_back_with_every_field_the_program_sent(stack: LocalSconeStack, installed: PulumiRun,
                                                                     cluster: LocalCluster) -> None:
    state = json.loads(_ws(stack).run("stack", "export", check=True).stdout)
    sent = [r for r in state["deployment"]["resources"] if r["type"] in SCONE_CR_TYPES]
    assert {r["type"] for r in sent} == set(SCONE_CR_TYPES)
    for resource in sent:
        inputs = resource["inputs"]
        meta = inputs["metadata"]
        where = ["-n", meta["namespace"]] if meta.get("namespace") else []
        live = cluster.kubectl_json("get", f"{inputs['kind'].lower()}.{inputs['apiVersion'].split('/')[0]}",
                                    meta["name"], *where)
        assert missing_fields(inputs["spec"], live["spec"]) == [], resource["urn"]


def test_a_field_the_real_schema_does_not_know_is_pruned_and_found_missing(stack: LocalSconeStack,
                                                                           installed: PulumiRun,
                                                                           cluster: LocalCluster) -> None:
    state = json.loads(_ws(stack).run("stack", "export", check=True).stdout)
    las = next(r for r in state["deployment"]["resources"] if r["type"].endswith(":LAS"))["inputs"]
    probe = {"apiVersion": las["apiVersion"], "kind": "LAS", "metadata": {"name": "schema-probe"},
             "spec": {**las["spec"], "notInTheSchema": {"kept": True}}}
    # Straight to the API server (kubectl would refuse the field client-side): it stores the CR, pruned.
    cluster.api().create(f"/apis/{las['apiVersion']}/las", probe)
    try:
        live = cluster.kubectl_json("get", "las.base.scone.cloud", "schema-probe")
        assert missing_fields(probe["spec"], live["spec"]) == ["notInTheSchema"]
    finally:
        cluster.kubectl("delete", "las.base.scone.cloud", "schema-probe", "--wait=false", check=False)


def test_with_the_operator_down_its_webhooks_fail_closed_and_cr_writes_are_refused(
    stack: LocalSconeStack, installed: PulumiRun, cluster: LocalCluster
) -> None:
    namespace = _ws(stack).outputs()["namespaces"]["operator"]

    def ready_replicas() -> int:
        status = cluster.kubectl_json("get", "deployment", "scone-controller-manager", "-n", namespace)["status"]
        return int(status.get("readyReplicas") or 0)

    probe = {"apiVersion": "base.scone.cloud/v1beta1", "kind": "LAS", "metadata": {"name": "while-down"},
             "spec": {"image": "registry.example.com/las:5.8.0"}}
    cluster.kubectl("scale", "deployment", "scone-controller-manager", "-n", namespace, "--replicas=0")
    try:
        wait_until("the operator to be down", lambda: ready_replicas() == 0, cluster.children, attempts=600,
                   interval=0.2)
        with pytest.raises(KubeApiError) as refused:
            cluster.api().create("/apis/base.scone.cloud/v1beta1/las", probe)
        assert "failed calling webhook" in str(refused.value)
        assert cluster.kubectl("get", "las.base.scone.cloud", "while-down", check=False).returncode != 0
    finally:
        cluster.kubectl("scale", "deployment", "scone-controller-manager", "-n", namespace, "--replicas=1")
        wait_until("the operator to be back", lambda: ready_replicas() == 1, cluster.children, attempts=600,
                   interval=0.2)


def test_the_simulated_operator_reports_status_the_real_schemas_accept(
    stack: LocalSconeStack, installed: PulumiRun, cluster: LocalCluster
) -> None:
    """The real schemas require fields (LAS per-node keys and timestamps, SGXPlugin per-node alert
    maps) that the stand-in chart's permissive CRDs never asked for; a status write without them is
    refused, and nothing reads HEALTHY."""
    services = _ws(stack).outputs()["namespaces"]["services"]

    def state(*resource: str) -> str:
        return str((cluster.kubectl_json("get", *resource).get("status") or {}).get("state"))

    wait_until("LAS, SGXPlugin and CAS status", lambda: state("las.base.scone.cloud", "las") == "HEALTHY"
               and state("sgxplugin.base.scone.cloud", "sgxplugin") == "HEALTHY"
               and state("cas.services.scone.cloud", "cas", "-n", services) == "HEALTHY",
               cluster.children, attempts=600, interval=0.5)
    nodes = cluster.kubectl_json("get", "las.base.scone.cloud", "las")["status"]["nodes"]
    assert nodes and all(len(node["publicKey"]) == 64 for node in nodes.values())
