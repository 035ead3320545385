"""Scontain's real 5.8.0 chart from an OCI registry on loopback, installed by the real program.

The registry is go-containerregistry's (``crane registry serve``); the chart is pushed as ``helm
push`` stores it (``harness.oci_registry``), read where it is kept (never copied). The stack's
``scone:operatorChart.location`` is ``oci://127.0.0.1:<port>/scontain/scone-operator`` and the
Release pins ``serviceVersion``. The registry speaks plain HTTP: Helm's registry client tries
HTTPS first and falls back to HTTP, so no insecure option is needed (the Release has none).

Credentials: the Release sends ``repositoryOpts`` user name and password to a chart repository,
never to an OCI registry (the provider pulls with its own registry client, which logs in with
Helm's registry config, i.e. ``helm registry login``). The program therefore refuses
``scone:operatorChart.username / password`` with an OCI location; a private registry (a basic-auth
front on crane's) is opened by Helm's registry config on the machine that runs pulumi
(``$HELM_CONFIG_HOME/registry/config.json``, what ``helm registry login`` writes; the provider reads
that path, or ``PULUMI_K8S_HELM_REGISTRY_CONFIG_PATH``, not ``HELM_REGISTRY_CONFIG``), and the login
never enters the stack's config or state.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.oci_registry import LoginFront, OciRegistry, crane_binary, registry_config
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools
from e2e.harness.upstream_charts import MISSING, chart_tgz

VERSION = "5.8.0"
REPOSITORY = "scontain/scone-operator"
USER = "osc-mirror-reader"


@pytest.fixture(scope="module")
def real_chart() -> Path:
    path = chart_tgz(VERSION)
    if path is None:
        pytest.skip(MISSING)
    return path


@pytest.fixture(scope="module")
def registry(real_chart: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OciRegistry]:
    try:
        crane_binary()  # an on-request tool (`e2e/build_tools.sh image`): built here when missing
    except FileNotFoundError as missing:
        pytest.fail(str(missing), pytrace=False)
    with OciRegistry(tmp_path_factory.mktemp("oci-registry")) as served:
        served.push_chart(REPOSITORY, real_chart)
        yield served


def _chart(host: str, repository: str = REPOSITORY) -> dict[str, Any]:
    return {"scone:operatorChart": {"location": f"oci://{host}/{repository}", "timeoutSeconds": 300}}


@pytest.fixture(scope="module")
def stack(e2e_tools: Tools, cluster: LocalCluster, real_chart: Path, registry: OciRegistry,
          tmp_path_factory: pytest.TempPathFactory) -> LocalSconeStack:
    cluster.install_cert_manager_crds(real_chart)
    work = tmp_path_factory.mktemp("oci-chart")
    local = LocalSconeStack(e2e_tools, cluster, work, overrides=_chart(registry.host))
    ws = local.create()
    # No login of this machine's user reaches the run: Helm's config home (where `helm registry login`
    # writes registry/config.json, the file the provider reads) and Docker's config are the test's.
    ws.extra_env["HELM_CONFIG_HOME"] = str(work / "helm-config")
    ws.extra_env["DOCKER_CONFIG"] = str(work / "docker")
    return local


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _crd_installed(cluster: LocalCluster) -> bool:
    return cluster.kubectl("get", "crd", "cas.services.scone.cloud", check=False).returncode == 0


@dataclass(frozen=True)
class Refused:
    """A refused run and whether the chart's CRDs were in the cluster right after it."""

    run: PulumiRun
    chart_installed: bool


@pytest.fixture(scope="module")
def wrong_reference(stack: LocalSconeStack, registry: OciRegistry, cluster: LocalCluster) -> Refused:
    """``pulumi up`` with a misspelt chart path in the registry, before anything was installed."""
    stack.reconfigure(_chart(registry.host, "scontain/scone-operater"))
    try:
        return Refused(_ws(stack).run("up", "--yes"), _crd_installed(cluster))
    finally:
        stack.reconfigure(_chart(registry.host))


@pytest.fixture(scope="module")
def credentials_in_config(wrong_reference: Refused, stack: LocalSconeStack, cluster: LocalCluster) -> Refused:
    """``pulumi preview`` with ``operatorChart.username / password`` set for the OCI location."""
    ws = _ws(stack)
    ws.run("config", "set", "--secret", "scone:operatorChart.username", check=True, stdin=USER)
    ws.run("config", "set", "--secret", "scone:operatorChart.password", check=True, stdin="not-sent")
    try:
        return Refused(ws.run("preview"), _crd_installed(cluster))
    finally:
        ws.run("config", "rm", "scone:operatorChart.username", check=True)
        ws.run("config", "rm", "scone:operatorChart.password", check=True)


@dataclass(frozen=True)
class Installed:
    """The anonymous install from crane's registry: the run and the Release as the state recorded it."""

    run: PulumiRun
    release_inputs: dict[str, Any]


@pytest.fixture(scope="module")
def installed(credentials_in_config: Refused, stack: LocalSconeStack, cluster: LocalCluster) -> Installed:
    """``pulumi up`` from the registry, anonymously (after both refused runs)."""
    ws = _ws(stack)
    up = ws.run("up", "--yes", "--skip-preview")
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(20)
    state = json.loads(ws.run("stack", "export", check=True).stdout)
    release = next(r for r in state["deployment"]["resources"] if r["type"] == "kubernetes:helm.sh/v3:Release")
    return Installed(up, release["inputs"])


@pytest.fixture(scope="module")
def no_op(installed: Installed, stack: LocalSconeStack) -> PulumiRun:
    """``pulumi up --expect-no-changes`` right after the install."""
    return _ws(stack).run("up", "--yes", "--skip-preview", "--expect-no-changes")


@dataclass(frozen=True)
class Private:
    """The registry behind a login: the run without Helm's login, the run with it, and the password."""

    front: LoginFront
    password: str
    without_login: PulumiRun
    without_login_statuses: list[int]
    release_status_after_refusal: str
    with_login: PulumiRun


@pytest.fixture(scope="module")
def private_registry(no_op: PulumiRun, stack: LocalSconeStack, registry: OciRegistry,
                     cluster: LocalCluster) -> Iterator[Private]:
    """The same chart behind a basic-auth front: ``up`` without Helm's registry login, then with it
    (the file ``helm registry login`` writes, in Helm's config home)."""
    password = "oci-pw-" + secrets.token_urlsafe(18)
    ws = _ws(stack)
    with LoginFront(registry, USER, password) as front:
        stack.reconfigure(_chart(front.host))
        refused = ws.run("up", "--yes", "--skip-preview")
        statuses = front.statuses()
        status = str(ws.outputs()["operatorRelease"]["status"])
        registry_config(front.host, USER, password, Path(ws.extra_env["HELM_CONFIG_HOME"]) / "registry" / "config.json")
        with_login = ws.run("up", "--yes", "--skip-preview")
        yield Private(front, password, refused, statuses, status, with_login)
        stack.reconfigure(_chart(registry.host))


def test_a_wrong_oci_reference_fails_the_up_naming_the_location(wrong_reference: Refused,
                                                                 registry: OciRegistry) -> None:
    run = wrong_reference.run
    assert run.returncode != 0
    assert (f"the operator chart oci://{registry.host}/scontain/scone-operater at version {VERSION} is not in"
            " the registry (HTTP 404") in run.output
    assert "scone:operatorChart.location" in run.output
    assert "Traceback" not in run.output
    assert not wrong_reference.chart_installed


def test_chart_credentials_in_the_stack_config_are_refused_for_an_oci_location(credentials_in_config: Refused) -> None:
    run = credentials_in_config.run
    assert run.returncode != 0
    assert "the Helm release does not pass them to an OCI registry" in run.output
    assert "`helm registry login <registry>`" in run.output
    assert "not-sent" not in run.output
    assert not credentials_in_config.chart_installed


def test_the_real_chart_installs_from_the_oci_registry_through_the_release(
    stack: LocalSconeStack, installed: Installed, registry: OciRegistry, real_chart: Path, cluster: LocalCluster,
) -> None:
    outputs = _ws(stack).outputs()
    assert outputs["operatorRelease"]["status"] == "deployed"
    operator = cluster.kubectl_json("get", "deployment", "scone-controller-manager", "-n",
                                    outputs["namespaces"]["operator"])
    env = operator["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "GLOBAL_SCONE_VERSION", "value": VERSION} in env  # only Scontain's chart sets it
    assert installed.release_inputs["chart"] == f"oci://{registry.host}/{REPOSITORY}"
    assert installed.release_inputs["version"] == VERSION
    assert "repositoryOpts" not in installed.release_inputs
    # The provider pulled the tag's manifest and the chart layer (the released tgz's digest) from crane.
    log = registry.child.log_path.read_text() if registry.child else ""
    chart_digest = "sha256:" + hashlib.sha256(real_chart.read_bytes()).hexdigest()
    assert re.search(rf"GET /v2/{REPOSITORY}/manifests/{re.escape(VERSION)}\b", log), log[-3000:]
    assert f"GET /v2/{REPOSITORY}/blobs/{chart_digest}" in log, log[-3000:]


def test_a_no_op_up_after_the_oci_install_changes_nothing(no_op: PulumiRun) -> None:
    assert no_op.returncode == 0, no_op.output[-4000:]


def test_a_private_registry_refuses_the_release_without_a_login_and_keeps_the_installed_operator(
    private_registry: Private,
) -> None:
    run, front = private_registry.without_login, private_registry.front
    assert run.returncode != 0
    assert f"oci://{front.host}/{REPOSITORY}" in run.output
    assert "basic credential not found" in run.output  # Helm's registry client: no login for that registry
    assert private_registry.without_login_statuses and set(private_registry.without_login_statuses) == {401}
    assert private_registry.release_status_after_refusal == "deployed"


def test_helms_registry_login_opens_the_private_registry_and_stays_out_of_config_and_state(
    stack: LocalSconeStack, private_registry: Private, cluster: LocalCluster,
) -> None:
    up, front, password = private_registry.with_login, private_registry.front, private_registry.password
    assert up.returncode == 0, up.output[-6000:] + "\n" + cluster.dump_logs(20)
    served = [path for _, path, status in front.requests if status == 200]
    assert any(path.startswith(f"/v2/{REPOSITORY}/blobs/sha256:") for path in served), front.requests
    assert password not in up.output
    ws = _ws(stack)
    for path in [*ws.state_files(), *stack.project_dir.rglob("*.yaml")]:
        assert password not in path.read_text(errors="replace"), path
