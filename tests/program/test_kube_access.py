"""``KubeTarget``: the one builder of kubectl's argv and environment, checked with the real kubectl on PATH."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
import yaml

from components.kube_access import KubeAccessError, KubeTarget

TWO_CLUSTERS = """apiVersion: v1
kind: Config
clusters:
- name: first
  cluster: {server: "https://127.0.0.1:7001"}
- name: second
  cluster: {server: "https://127.0.0.1:7002"}
contexts:
- name: a
  context: {cluster: first, user: u}
- name: b
  context: {cluster: second, user: u}
current-context: a
users:
- name: u
  user: {token: content-token-never-in-argv}
"""
SERVER = ["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not on PATH")


@pytest.fixture
def kubeconfig(tmp_path: Path) -> Path:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_CLUSTERS)
    return path


def test_an_ambient_target_builds_exactly_the_plain_kubectl_argv() -> None:
    assert KubeTarget().argv("kubectl", ["get", "nodes"]) == ["kubectl", "get", "nodes"]
    assert KubeTarget().props() == {}


def test_a_named_kubeconfig_and_context_come_first_as_kubectls_global_flags() -> None:
    argv = KubeTarget(kubeconfig="/k/prod.yaml", context="b").argv("kubectl", ["get", "nodes"])
    assert argv == ["kubectl", "--kubeconfig", "/k/prod.yaml", "--context", "b", "get", "nodes"]


def test_a_home_relative_kubeconfig_is_expanded_on_the_machine_that_runs_kubectl() -> None:
    argv = KubeTarget(kubeconfig="~/.kube/prod.yaml").argv("kubectl", ["version"])
    assert argv[2] == os.path.expanduser("~/.kube/prod.yaml")


def test_kubectl_reaches_the_named_context_not_the_current_one(kubeconfig: Path) -> None:
    current = KubeTarget(kubeconfig=str(kubeconfig)).run("kubectl", SERVER, timeout=60)
    named = KubeTarget(kubeconfig=str(kubeconfig), context="b").run("kubectl", SERVER, timeout=60)
    assert (current.stdout, named.stdout) == ("https://127.0.0.1:7001", "https://127.0.0.1:7002")


def test_the_ambient_target_follows_the_kubeconfig_environment(
    kubeconfig: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert KubeTarget().run("kubectl", SERVER, timeout=60).stdout == "https://127.0.0.1:7001"


def test_secret_content_reaches_kubectl_through_a_private_file_that_is_gone_afterwards() -> None:
    target = KubeTarget(content=TWO_CLUSTERS, context="b")
    with target.kubeconfig_file() as path:
        assert path is not None
        file, directory = Path(path), Path(path).parent
        assert stat.S_IMODE(file.stat().st_mode) == 0o600 and stat.S_IMODE(directory.stat().st_mode) == 0o700
        argv = target.argv("kubectl", SERVER, path)
        assert not any("content-token" in part for part in argv)
    assert not directory.exists()
    assert target.run("kubectl", SERVER, timeout=60).stdout == "https://127.0.0.1:7002"
    assert "content-token" not in repr(target) and "content-token" not in target.describe()


def test_the_plugin_gets_a_kubeconfig_holding_only_the_target_context(kubeconfig: Path) -> None:
    with KubeTarget(kubeconfig=str(kubeconfig), context="b").plugin_environment({"PATH": os.environ["PATH"]}) as env:
        minified = yaml.safe_load(Path(env["KUBECONFIG"]).read_text())
        given = Path(env["KUBECONFIG"])
    # Upstream's plugin reads clusters[0]: it must be the target's cluster.
    assert [c["name"] for c in minified["clusters"]] == ["second"]
    assert minified["current-context"] == "b"
    assert minified["users"][0]["user"]["token"] == "content-token-never-in-argv"
    assert not given.exists()


def test_an_ambient_plugin_environment_is_left_as_it_is() -> None:
    with KubeTarget().plugin_environment({"PATH": "/usr/bin", "KUBECONFIG": "/ambient"}) as env:
        assert env == {"PATH": "/usr/bin", "KUBECONFIG": "/ambient"}


def test_a_context_kubectl_cannot_select_is_a_clear_error(kubeconfig: Path) -> None:
    target = KubeTarget(kubeconfig=str(kubeconfig), context="nope")
    with pytest.raises(KubeAccessError) as caught, target.plugin_environment({"PATH": os.environ["PATH"]}):
        pass
    assert "context nope" in str(caught.value) and "kubectl-provision" in str(caught.value)


def test_the_properties_round_trip_and_carry_only_what_is_set() -> None:
    target = KubeTarget(kubeconfig="/k/prod.yaml", context="b")
    assert target.props() == {"kubeconfig": "/k/prod.yaml", "kubeContext": "b"}
    assert KubeTarget.of({**target.props(), "casName": "cas"}) == target
    assert KubeTarget.of({"kubeconfigContent": TWO_CLUSTERS}).content == TWO_CLUSTERS
