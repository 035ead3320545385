"""`backup.s3.useExistingSecret`: the backupper uses the Secret already in the services namespace.

Why e2e: the existence check runs `kubectl get` in the dynamic provider's own process, in the
engine's preview; whether the Secret's data stays out of that process and out of the state
only shows against a real kube-apiserver and the real engine.
"""

from __future__ import annotations

import base64
import contextlib
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from components.existing_secret import existence_query
from components.names import BACKUP_SECRET_NAME as SECRET_NAME
from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.tools import Tools

SERVICES = "osc-scone-system"
OVERRIDES: dict[str, Any] = {"scone:backup": {"s3Creds": None, "s3": {"useExistingSecret": True}}}
SECRET_VALUE = "existing-secret-" + secrets.token_hex(12)


@pytest.fixture(scope="module")
def stack(e2e_tools: Tools, cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> LocalSconeStack:
    stack = LocalSconeStack(e2e_tools, cluster, tmp_path_factory.mktemp("existing-secret"), overrides=OVERRIDES)
    stack.create()
    return stack


def ensure_existing_secret(cluster: LocalCluster) -> None:
    """The namespace and the Secret, created as the README tells a user to: `kubectl create secret
    generic` (no last-applied annotation); left as they are when they exist."""
    if cluster.kubectl("get", "namespace", SERVICES, check=False).returncode != 0:
        cluster.kubectl("create", "namespace", SERVICES)
    if cluster.kubectl("get", "secret", SECRET_NAME, "-n", SERVICES, check=False).returncode != 0:
        cluster.kubectl(
            "create", "secret", "generic", SECRET_NAME, "-n", SERVICES,
            "--from-literal=AWS_ACCESS_KEY_ID=AKIAEXISTING",
            f"--from-literal=AWS_SECRET_ACCESS_KEY={SECRET_VALUE}",
            "--from-literal=BUCKET_NAME=existing-bucket",
        )  # fmt: skip


@contextlib.contextmanager
def secret_missing(cluster: LocalCluster) -> Iterator[None]:
    """The Secret deleted for a while; created again after."""
    cluster.kubectl("delete", "secret", SECRET_NAME, "-n", SERVICES, "--ignore-not-found")
    try:
        yield
    finally:
        ensure_existing_secret(cluster)


@pytest.fixture(scope="module")
def installed(stack: LocalSconeStack, cluster: LocalCluster) -> tuple[dict[str, Any], dict[str, Any]]:
    """The stack up with the existing Secret; the Secret as read before and after the `up`."""
    assert stack.ws is not None
    ensure_existing_secret(cluster)
    before = cluster.kubectl_json("get", "secret", SECRET_NAME, "-n", SERVICES)
    up = stack.ws.run("up", "--yes")
    assert up.returncode == 0, up.output[-8000:] + "\n" + cluster.dump_logs(8)
    return before, cluster.kubectl_json("get", "secret", SECRET_NAME, "-n", SERVICES)


def test_preview_fails_naming_the_missing_secret_and_how_to_create_it(
    stack: LocalSconeStack, cluster: LocalCluster
) -> None:
    assert stack.ws is not None
    with secret_missing(cluster):
        preview = stack.ws.run("preview")
    assert preview.returncode != 0, preview.output[-6000:]
    assert f"the Secret {SECRET_NAME} does not exist in namespace {SERVICES}" in preview.output, preview.output
    assert "kubectl create secret generic" in preview.output
    assert "Traceback" not in preview.output


def test_the_existence_check_never_receives_the_secret_data(cluster: LocalCluster) -> None:
    ensure_existing_secret(cluster)
    query = existence_query(SECRET_NAME, SERVICES, str(cluster.tools.kubectl))
    # -v=9 logs every request header and the whole response body.
    result = cluster.kubectl(*query[1:], "-v=9", check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert SECRET_NAME in result.stdout
    assert "as=Table" in result.stderr
    assert SECRET_NAME in result.stderr  # the response body is in the log ...
    # No `data` field in any logged body (kubectl logs bodies JSON-escaped in quotes).
    assert '"data":' not in result.stderr.replace('\\"', '"')
    for value in (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode()):
        assert value not in result.stderr + result.stdout  # ... without the Secret's data


def test_up_uses_the_existing_secret_without_copying_or_storing_it(
    stack: LocalSconeStack, cluster: LocalCluster, installed: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    assert stack.ws is not None
    before, after = installed
    assert after["data"] == before["data"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]  # never written
    pod = cluster.kubectl_json("get", "deployment", "scone-cas-db-backupper", "-n", SERVICES)["spec"]["template"]
    volumes = pod["spec"]["volumes"]
    assert {"name": "s3-credentials", "secret": {"secretName": SECRET_NAME, "defaultMode": 0o440}} in volumes
    encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
    for state in stack.ws.state_files():
        text = state.read_text(errors="replace")
        assert SECRET_VALUE not in text and encoded not in text, state
        assert f"kubernetes:core/v1:Secret::{SECRET_NAME}" not in text, state
    outputs = stack.ws.outputs()
    assert outputs["backup"]["secretName"] == SECRET_NAME
    assert outputs["backup"]["bucket"] == "(from the existing Secret)"


def test_a_removed_secret_fails_the_next_preview_until_it_is_back(
    stack: LocalSconeStack, cluster: LocalCluster, installed: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    assert stack.ws is not None
    with secret_missing(cluster):
        preview = stack.ws.run("preview")
    assert preview.returncode != 0
    assert f"the Secret {SECRET_NAME} does not exist in namespace {SERVICES}" in preview.output
    again = stack.ws.run("preview")
    assert again.returncode == 0, again.output[-6000:]
