"""pods-run-as-non-root, no-privileged-containers, no-host-paths (the SGX plugin excepted)."""

from __future__ import annotations

from typing import Any

import pytest

from policy.tests.policy_harness import resource_args, resource_violations

DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def deployment(pod: dict[str, Any], name: str = "app", labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"template": {"metadata": {"labels": labels or {}}, "spec": pod}},
    }


SAFE_POD: dict[str, Any] = {
    "securityContext": {"runAsNonRoot": True},
    "containers": [{"name": "main", "image": "x", "securityContext": {"allowPrivilegeEscalation": False}}],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


@pytest.mark.parametrize("policy", ["pods-run-as-non-root", "no-privileged-containers", "no-host-paths"])
def test_a_non_root_unprivileged_pod_without_host_paths_passes(policy: str) -> None:
    assert resource_violations(policy, resource_args(DEPLOYMENT, deployment(SAFE_POD))) == []


def test_a_pod_without_any_run_as_setting_may_run_as_root() -> None:
    pod = {"containers": [{"name": "main", "image": "x"}]}
    [message] = resource_violations("pods-run-as-non-root", resource_args(DEPLOYMENT, deployment(pod)))
    assert "'main'" in message and "runAsNonRoot" in message


def test_a_container_overriding_the_pod_with_user_0_runs_as_root() -> None:
    pod = {
        "securityContext": {"runAsNonRoot": True},
        "containers": [{"name": "main", "image": "x"}],
        "initContainers": [{"name": "setup", "image": "x", "securityContext": {"runAsUser": 0}}],
    }
    [message] = resource_violations("pods-run-as-non-root", resource_args(DEPLOYMENT, deployment(pod)))
    assert "'setup'" in message


def test_a_non_zero_run_as_user_is_enough() -> None:
    pod = {"containers": [{"name": "main", "image": "x", "securityContext": {"runAsUser": 65532}}]}
    assert resource_violations("pods-run-as-non-root", resource_args(DEPLOYMENT, deployment(pod))) == []


def test_a_plain_pod_and_a_cronjob_are_checked_too() -> None:
    root_pod = {"containers": [{"name": "c", "image": "x"}]}
    pod_args = resource_args("kubernetes:core/v1:Pod", {"metadata": {"name": "p"}, "spec": root_pod})
    cron = {"spec": {"jobTemplate": {"spec": {"template": {"spec": root_pod}}}}}
    assert resource_violations("pods-run-as-non-root", pod_args)
    assert resource_violations("pods-run-as-non-root", resource_args("kubernetes:batch/v1:CronJob", cron))


def test_a_privileged_container_is_a_violation() -> None:
    pod = {**SAFE_POD, "containers": [{"name": "main", "image": "x", "securityContext": {"privileged": True}}]}
    [message] = resource_violations("no-privileged-containers", resource_args(DEPLOYMENT, deployment(pod)))
    assert "'main'" in message and "privileged" in message


def test_a_host_path_volume_is_a_violation() -> None:
    pod = {**SAFE_POD, "volumes": [{"name": "dev", "hostPath": {"path": "/dev/sgx_enclave"}}]}
    [message] = resource_violations("no-host-paths", resource_args(DEPLOYMENT, deployment(pod)))
    assert "/dev/sgx_enclave" in message


@pytest.mark.parametrize("policy", ["pods-run-as-non-root", "no-privileged-containers", "no-host-paths"])
def test_the_sgx_plugin_may_be_privileged_root_and_mount_host_paths(policy: str) -> None:
    pod = {
        "containers": [{"name": "plugin", "image": "x", "securityContext": {"privileged": True}}],
        "volumes": [{"name": "kubelet", "hostPath": {"path": "/var/lib/kubelet/device-plugins"}}],
    }
    plugin = deployment(pod, name="sgx-plugin", labels={"app.kubernetes.io/name": "sgxplugin"})
    other = deployment(pod, name="not-the-plugin")
    assert resource_violations(policy, resource_args("kubernetes:apps/v1:DaemonSet", plugin)) == []
    assert resource_violations(policy, resource_args("kubernetes:apps/v1:DaemonSet", other))
