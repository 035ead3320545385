"""One backup run now, with the backupper's own settings and credentials.

In the cluster (default): a Job made from the backupper Deployment's pod template (same image,
ServiceAccount, Secret mount, environment, security context) whose container runs `run` once
instead of `loop`. Running beside the Deployment's loop is safe: retention never deletes the
newest set and orphan clean-up only touches uploads older than the grace period.
Locally (`--local`): the same `scone-backupper run` on this machine, with the Deployment's
environment, the Secret read into a private directory, and `kubectl exec` through this kubeconfig.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

from scone_ops.backups import credentials_dir
from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import JsonObj, Kubectl
from scone_ops.stack_target import BACKUPPER_DEPLOYMENT, StackTarget

JOB_LABEL = "scone-cas-db-backupper-now"
POLL_SECONDS = 2.0
DEFAULT_SOURCE = "kubectl exec -n {namespace} {cas}-0 -c cas -- tar cf - -C {snapshot_dir} ."


def read_deployment(kubectl: Kubectl, target: StackTarget) -> JsonObj:
    """The backupper Deployment, or NOT_FOUND with the next step."""
    deployment = kubectl.get_or_none("deployment", BACKUPPER_DEPLOYMENT, "-n", target.namespace)
    if deployment is None:
        raise OpsError(ExitCode.NOT_FOUND, f"Deployment {BACKUPPER_DEPLOYMENT} does not exist in {target.namespace}",
                       "backups are off or not installed: set scone:backup.enabled: true and `pulumi up`")
    return deployment


def job_name(now: dt.datetime) -> str:
    """A Job name that sorts by time and fits 63 characters."""
    return f"{JOB_LABEL}-{now.strftime('%Y%m%d%H%M%S')}"


def job_manifest(deployment: Mapping[str, Any], name: str, timeout: int) -> JsonObj:
    """Pure: the Job running `run` once with the Deployment's pod spec (probes and ports dropped)."""
    template = copy.deepcopy(deployment["spec"]["template"])
    pod = template["spec"]
    pod["restartPolicy"] = "Never"
    container = pod["containers"][0]
    container["args"] = ["run"]
    for key in ("livenessProbe", "readinessProbe", "startupProbe", "ports"):
        container.pop(key, None)
    env = [e for e in container.get("env") or [] if e.get("name") != "METRICS_PORT"]
    container["env"] = [*env, {"name": "METRICS_PORT", "value": "0"}]
    # Own labels: the Deployment's selector and the metrics Service must not pick this pod up.
    labels = {"app.kubernetes.io/name": JOB_LABEL, "app.kubernetes.io/managed-by": "scone-ops"}
    template["metadata"] = {"labels": labels, "annotations": (template.get("metadata") or {}).get("annotations") or {}}
    namespace = deployment["metadata"]["namespace"]
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": name, "namespace": namespace, "labels": labels},
            "spec": {"backoffLimit": 0, "activeDeadlineSeconds": timeout, "ttlSecondsAfterFinished": 86400,
                     "template": template}}


def job_outcome(job: Mapping[str, Any]) -> str | None:
    """'Complete', 'Failed', or None while it runs (pure, from the Job's conditions)."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return str(condition["type"])
    return None


def run_job(kubectl: Kubectl, manifest: JsonObj, timeout: int, progress: Callable[[str], None]) -> None:
    """Create the Job and wait (bounded) until it completes; FAILED with the log command otherwise."""
    name, ns = manifest["metadata"]["name"], manifest["metadata"]["namespace"]
    kubectl.run("create", "-f", "-", input_text=json.dumps(manifest), timeout=120)
    progress(f"job {ns}/{name} created; waiting up to {timeout} s")
    deadline = time.monotonic() + timeout
    logs = f"`kubectl logs job/{name} -n {ns}`"
    while True:
        job = kubectl.get_or_none("job", name, "-n", ns)
        outcome = job_outcome(job or {})
        if outcome == "Complete":
            progress(f"job {name} completed")
            return
        if outcome == "Failed" or job is None:
            raise OpsError(ExitCode.FAILED, f"backup job {name} failed", f"read its log: {logs}")
        if time.monotonic() >= deadline:
            raise OpsError(ExitCode.FAILED, f"backup job {name} did not finish within {timeout} s",
                           f"read its log: {logs}; it stops by itself (activeDeadlineSeconds)")
        time.sleep(POLL_SECONDS)


def local_env(deployment: Mapping[str, Any], kubectl: Kubectl, creds: str) -> dict[str, str]:
    """The Deployment container's plain env, with this machine's credentials dir and kubectl."""
    env = kubectl.env()
    for item in deployment["spec"]["template"]["spec"]["containers"][0].get("env") or []:
        if "value" in item:
            env[str(item["name"])] = str(item["value"])
    env["S3_CREDENTIALS_DIR"] = creds
    env["METRICS_PORT"] = "0"
    if kubectl.context and "SNAPSHOT_SOURCE_COMMAND" not in env:
        env["SNAPSHOT_SOURCE_COMMAND"] = DEFAULT_SOURCE.replace("kubectl ", f"kubectl --context {kubectl.context} ")
    return env


def run_local(kubectl: Kubectl, target: StackTarget, deployment: Mapping[str, Any],
              progress: Callable[[str], None]) -> dict[str, Any]:
    """`scone-backupper run` here; returns its `run finished` log fields (result, set_id, size)."""
    with credentials_dir(kubectl, target) as creds:
        env = local_env(deployment, kubectl, str(creds))
        progress("running scone-backupper run on this machine")
        done = subprocess.run([sys.executable, "-m", "scone_backupper", "run"], env={**os.environ, **env},
                              capture_output=True, text=True, check=False)
    events = []
    for line in done.stderr.splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    if done.returncode != 0:
        last: dict[str, Any] = next((e for e in reversed(events) if e.get("level") == "error"), {})
        message = last.get("msg", "(no message)")
        raise OpsError(ExitCode.FAILED, f"scone-backupper run exited {done.returncode}: {message}",
                       "see the backupper's exit codes (backupper/README.md); nothing in the cluster was changed")
    return next((e for e in reversed(events) if e.get("msg") == "run finished"), {})
