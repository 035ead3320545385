"""The `backup now` Job is the program's backupper Deployment running `run` once."""

from __future__ import annotations

import copy
from typing import Any

from scone_ops.backup_run import job_manifest, job_outcome, local_env
from scone_ops.kubectl import Kubectl
from scone_ops.stack_target import load_spec, stack_file_for

from components.backupper import APP, LABELS, backupper_pod_spec
from components.settings_slices import backupper_args


def deployment() -> dict[str, Any]:
    """The Deployment as the program declares it for the local stack."""
    spec = load_spec(stack_file_for("local"))
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": APP, "namespace": spec.namespaces.services, "labels": LABELS},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                     "template": {"metadata": {"labels": LABELS},
                                  "spec": backupper_pod_spec(backupper_args(spec), APP)}}}


def test_job_runs_run_once_with_the_deployment_image_env_secret_and_identity() -> None:
    dep = deployment()
    original = copy.deepcopy(dep)
    job = job_manifest(dep, "scone-cas-db-backupper-now-1", 600)
    assert dep == original  # the Deployment object is not modified
    pod, dpod = job["spec"]["template"]["spec"], dep["spec"]["template"]["spec"]
    container, dcontainer = pod["containers"][0], dpod["containers"][0]
    assert container["args"] == ["run"] and dcontainer["args"] == ["loop"]
    assert container["image"] == dcontainer["image"]
    assert pod["serviceAccountName"] == dpod["serviceAccountName"] == APP
    assert pod["volumes"] == dpod["volumes"] and container["volumeMounts"] == dcontainer["volumeMounts"]
    assert container["securityContext"] == dcontainer["securityContext"]
    env = {e["name"]: e["value"] for e in container["env"]}
    denv = {e["name"]: e["value"] for e in dcontainer["env"]}
    assert env == {**denv, "METRICS_PORT": "0"}
    assert pod["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 600
    for key in ("livenessProbe", "readinessProbe", "ports"):
        assert key not in container


def test_job_pod_is_not_selected_by_the_deployment_or_its_metrics_service() -> None:
    job = job_manifest(deployment(), "n", 600)
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels.get("app.kubernetes.io/name") != APP


def test_job_outcome_reads_complete_and_failed_conditions() -> None:
    assert job_outcome({}) is None
    assert job_outcome({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}) == "Complete"
    assert job_outcome({"status": {"conditions": [{"type": "Failed", "status": "True"}]}}) == "Failed"
    assert job_outcome({"status": {"conditions": [{"type": "Failed", "status": "False"}]}}) is None


def test_local_run_takes_the_deployment_env_and_this_machine_kubeconfig_and_context() -> None:
    env = local_env(deployment(), Kubectl(kubeconfig="/k", context="ctx"), "/tmp/creds")
    assert env["KUBECONFIG"] == "/k" and env["S3_CREDENTIALS_DIR"] == "/tmp/creds"
    assert env["CAS_NAME"] == "cas" and env["METRICS_PORT"] == "0"
    assert env["SNAPSHOT_SOURCE_COMMAND"].startswith("kubectl --context ctx exec -n {namespace} {cas}-0")
