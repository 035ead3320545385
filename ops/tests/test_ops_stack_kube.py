"""scone-ops' kubectl follows the stack's scone:kubeconfig / scone:kubeContext, flags override, secrets refuse.

Each kubeconfig here names a closed loopback port of its own, so the real kubectl's refusal says which
cluster it went to (``127.0.0.1:<port>``) without any cluster running.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from scone_ops.cli import main
from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import Kubectl
from scone_ops.stack_kube import StackCluster, kube_target
from scone_ops.stack_target import load_target
from scone_ops.stack_workspace import StackRef

BASE = "config:\n  scone:serviceVersion: 5.8.0\n  scone:backup:\n    s3Creds: {secret: s, namespace: default}\n"
CIPHERTEXT = "v1:c2VjcmV0LWt1YmVjb25maWctY2lwaGVydGV4dA=="


def kubeconfig(path: Path, ports: dict[str, int], current: str) -> Path:
    """A kubeconfig with one context per entry of ``ports``, each a cluster on that closed loopback port."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": current,
        "clusters": [{"name": n, "cluster": {"server": f"https://127.0.0.1:{p}"}} for n, p in ports.items()],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": n, "context": {"cluster": n, "user": "u"}} for n in ports],
    }))
    return path


def stack_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "stacks" / "Pulumi.x.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(BASE + extra)
    return path


def nodes(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    """`scone-ops cas nodes ... -o json`: its exit code and the error document."""
    code = main(["cas", "nodes", *args, "-o", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def ambient(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shell's KUBECONFIG: a cluster on port 7, which no call for the stack may reach."""
    path = kubeconfig(tmp_path / "ambient.yaml", {"ambient": 7}, "ambient")
    monkeypatch.setenv("KUBECONFIG", str(path))
    return path


def test_kubectl_goes_to_the_stack_kubeconfig_and_context_not_the_ambient_one(
        tmp_path: Path, ambient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = kubeconfig(tmp_path / "prod.yaml", {"other": 11, "prod": 9}, "other")
    code, out = nodes(capsys, "--stack-file", str(stack_file(
        tmp_path, f"  scone:kubeconfig: {config}\n  scone:kubeContext: prod\n")))
    assert code == ExitCode.CLUSTER
    assert "127.0.0.1:9" in out["error"] and "127.0.0.1:7" not in out["error"] and "127.0.0.1:11" not in out["error"]
    assert f"kubectl used kubeconfig {config}, context prod" in out["next_step"]


def test_a_relative_kubeconfig_is_taken_from_the_project_directory(tmp_path: Path) -> None:
    (tmp_path / "kube").mkdir()
    config = kubeconfig(tmp_path / "kube" / "prod.yaml", {"prod": 9}, "prod")
    target = load_target(stack_file(tmp_path, "  scone:kubeconfig: kube/prod.yaml\n"), root=tmp_path)
    assert target.cluster == StackCluster(str(config), None, False, target.stack_file)
    assert Kubectl.of(kube_target(target.cluster, None, None)).argv("get", "nodes") == [
        "kubectl", "--kubeconfig", str(config), "get", "nodes"]


def test_without_cluster_settings_kubectl_follows_the_ambient_kubeconfig(
        tmp_path: Path, ambient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = nodes(capsys, "--stack-file", str(stack_file(tmp_path)))
    assert code == ExitCode.CLUSTER and "127.0.0.1:7" in out["error"]
    assert "the ambient kubeconfig (KUBECONFIG)" in out["next_step"]
    assert Kubectl.of(kube_target(StackCluster(), None, None)).argv("get", "nodes") == ["kubectl", "get", "nodes"]


def test_flags_override_the_stack_settings_each_on_its_own(
        tmp_path: Path, ambient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = kubeconfig(tmp_path / "prod.yaml", {"prod": 9, "dr": 13}, "prod")
    flagged = kubeconfig(tmp_path / "mine.yaml", {"prod": 15}, "prod")
    stack = str(stack_file(tmp_path, f"  scone:kubeconfig: {config}\n  scone:kubeContext: prod\n"))
    code, out = nodes(capsys, "--stack-file", stack, "--context", "dr")
    assert code == ExitCode.CLUSTER and "127.0.0.1:13" in out["error"]
    code, out = nodes(capsys, "--stack-file", stack, "--kubeconfig", str(flagged))
    assert code == ExitCode.CLUSTER and "127.0.0.1:15" in out["error"]
    assert f"kubectl used kubeconfig {flagged}, context prod" in out["next_step"]


def test_a_secret_kubeconfig_is_refused_naming_the_key_and_the_flag_without_showing_it(
        tmp_path: Path, ambient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = stack_file(tmp_path, f"  scone:kubeconfig:\n    secure: {CIPHERTEXT}\n  scone:kubeContext: prod\n")
    code, out = nodes(capsys, "--stack-file", str(stack))
    assert code == ExitCode.CONFIG
    assert f"scone:kubeconfig of {stack} is a secret" in out["error"] and "--kubeconfig PATH" in out["next_step"]
    assert CIPHERTEXT not in json.dumps(out)
    with pytest.raises(OpsError, match="scone:kubeconfig"):
        kube_target(load_target(stack).cluster, None, "prod")


def test_a_secret_kubeconfig_with_the_flag_reaches_the_flagged_file_and_the_stack_context(
        tmp_path: Path, ambient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = stack_file(tmp_path, f"  scone:kubeconfig:\n    secure: {CIPHERTEXT}\n  scone:kubeContext: prod\n")
    flagged = kubeconfig(tmp_path / "mine.yaml", {"other": 11, "prod": 9}, "other")
    code, out = nodes(capsys, "--stack-file", str(stack), "--kubeconfig", str(flagged))
    assert code == ExitCode.CLUSTER and "127.0.0.1:9" in out["error"]


def test_a_kubeconfig_missing_on_this_machine_is_refused_naming_the_key(
        tmp_path: Path, ambient: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.yaml"
    code, out = nodes(capsys, "--stack-file", str(stack_file(tmp_path, f"  scone:kubeconfig: {missing}\n")))
    assert code == ExitCode.CONFIG
    assert f"scone:kubeconfig of {tmp_path / 'stacks' / 'Pulumi.x.yaml'} names {missing}" in out["error"]
    assert "--kubeconfig PATH" in out["next_step"]


def test_a_malformed_context_setting_is_a_config_error_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = nodes(capsys, "--stack-file", str(stack_file(tmp_path, "  scone:kubeContext: ''\n")))
    assert code == ExitCode.CONFIG and "scone:kubeContext must be the name of a context" in out["error"]


def test_reconcile_status_writes_follow_the_stack_kubeconfig(tmp_path: Path, ambient: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """The reconcile's own kubectl (status writes, CAS checks) reaches the stack file's cluster, as the program."""
    config = kubeconfig(tmp_path / "prod.yaml", {"prod": 9}, "prod")
    stack = stack_file(tmp_path, f"  scone:kubeconfig: {config}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: scone\nruntime: python\nstackConfigDir: stacks\n")
    cluster = StackRef("x", tmp_path, stack_file=None).cluster()
    assert cluster is not None and cluster.kubeconfig == str(config)
    assert str(stack) == cluster.stack_file
    code = main(["reconcile", "--once", "--stack", "x", "--cwd", str(tmp_path), "--context", "prod"])
    assert code == ExitCode.USAGE and "scone:kubeContext" in capsys.readouterr().err
