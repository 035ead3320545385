"""scone-ops backup and audit-log commands on the e2e control plane with a moto S3 server.

Real: the API server (Secret, Deployment, Job, pods), kubectl, scone-ops and scone-backupper as
subprocesses, a moto S3 server over HTTP on loopback, tar and sha256sum. kwok pods run no
containers, so `kubectl exec`/`logs` into `cas-0` are served by the kubectl stand-in
(e2e/harness/kubectl_containers.py) from a directory that plays the containers' filesystems; the
Job that `backup now` creates is completed by kwok without running anything.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from scone_ops.stack_target import BACKUPPER_SECRET, load_spec, stack_file_for

from components.backupper import APP, LABELS, backupper_pod_spec
from components.settings_slices import backupper_args
from e2e.harness.cluster import LocalCluster
from e2e.harness.kubectl_containers import install
from e2e.harness.moto_s3 import moto_s3
from e2e.tests.ops_cluster import NS, TARGET, cas_pod, healthy, install_healthy_cas, ops, ops_argv, wait

AUDIT_LINES = [json.dumps({"seq": i, "op": "session created", "sig": uuid.uuid4().hex}) + "\n" for i in range(3)]


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with moto_s3(tmp_path_factory.mktemp("moto")) as url:
        yield url


def _client(url: str) -> Any:
    return boto3.client("s3", endpoint_url=url, aws_access_key_id="x", aws_secret_access_key="x",
                        region_name="us-east-1")


def _secret(url: str, bucket: str) -> dict[str, Any]:
    data = {"AWS_ACCESS_KEY_ID": "AKIAE2EOPS", "AWS_SECRET_ACCESS_KEY": "e2e-ops-secret-value",
            "BUCKET_NAME": bucket, "S3_ENDPOINT": url, "AWS_REGION": "us-east-1"}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": BACKUPPER_SECRET, "namespace": NS},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


@pytest.fixture(scope="module")
def env(cluster: LocalCluster, s3: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """HEALTHY CAS, the backupper's Secret and Deployment as the program declares them, the stand-in."""
    install_healthy_cas(cluster)
    _client(s3).create_bucket(Bucket="ops-e2e")
    spec = load_spec(stack_file_for("local"))
    cluster.kubectl_apply([
        _secret(s3, "ops-e2e"),
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": APP, "namespace": NS}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": APP, "namespace": NS, "labels": LABELS},
         "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                  "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
                  "template": {"metadata": {"labels": LABELS}, "spec": backupper_pod_spec(backupper_args(spec), APP)}}},
    ])
    work = tmp_path_factory.mktemp("ops")
    root = work / "containers"
    install(work / "bin", root, str(cluster.tools.kubectl))
    return {"s3": s3, "root": root, "path": f"{work / 'bin'}{os.pathsep}{os.environ['PATH']}", "work": work}


def _serve_snapshot(env: dict[str, Any]) -> None:
    """A new snapshot in cas-0's `cas` container (what CAS writes to last-completed)."""
    snap = env["root"] / NS / f"{TARGET.cas_name}-0" / "cas" / "var/mnt/cas-database-snapshots/last-completed"
    snap.mkdir(parents=True, exist_ok=True)
    (snap / "cas.db").write_bytes(os.urandom(8192))
    (snap / "cas.key-store").write_bytes(os.urandom(64))


def _ops(cluster: LocalCluster, env: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    return ops(cluster, *args, env={"PATH": env["path"]})


def _backup_local(cluster: LocalCluster, env: dict[str, Any]) -> dict[str, Any]:
    _serve_snapshot(env)
    done = _ops(cluster, env, "backup", "now", "--local", "-o", "json")
    assert done.returncode == 0, done.stderr + done.stdout
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_backup_now_local_makes_a_new_complete_set_that_list_and_verify_see(cluster: LocalCluster,
                                                                           env: dict[str, Any]) -> None:
    result = _backup_local(cluster, env)
    assert result["status"] == "new" and result["run"]["result"] == "uploaded"
    set_id = result["sets"][0]["set_id"]
    assert set_id == result["run"]["set_id"]
    manifest = _client(env["s3"]).get_object(Bucket="ops-e2e", Key=f"cas-db/{TARGET.cas_name}/{set_id}/manifest.json")
    assert json.loads(manifest["Body"].read())["cas_namespace"] == NS
    listed = _ops(cluster, env, "backup", "list", "-o", "json")
    assert listed.returncode == 0 and set_id in {row["set_id"] for row in json.loads(listed.stdout)}
    verified = _ops(cluster, env, "backup", "verify", "--set", set_id)
    assert verified.returncode == 0 and f"{set_id} OK" in verified.stdout
    assert "e2e-ops-secret-value" not in listed.stdout + listed.stderr + verified.stdout + verified.stderr


def test_backup_now_runs_a_job_made_from_the_backupper_deployment(cluster: LocalCluster, env: dict[str, Any]) -> None:
    newest = _backup_local(cluster, env)["sets"][0]["set_id"]
    done = _ops(cluster, env, "backup", "now", "-o", "json")
    assert done.returncode == 0, done.stderr + done.stdout
    result = json.loads(done.stdout)
    # kwok completes the Job without running it: nothing new, and the newest set is named as current.
    assert result["status"] == "unchanged" and result["sets"][0]["set_id"] == newest
    job = cluster.kubectl_json("get", "job", result["job"], "-n", NS)
    assert job["status"].get("succeeded") == 1
    deployment = cluster.kubectl_json("get", "deployment", APP, "-n", NS)
    pod, dpod = job["spec"]["template"]["spec"], deployment["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == ["run"] and pod["containers"][0]["image"] == dpod["containers"][0]["image"]
    assert pod["serviceAccountName"] == APP and pod["volumes"] == dpod["volumes"]
    env_of = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env_of == {**{e["name"]: e.get("value") for e in dpod["containers"][0]["env"]}, "METRICS_PORT": "0"}


def test_backup_drill_passes_on_the_newest_set_and_names_a_corrupted_object(cluster: LocalCluster,
                                                                          env: dict[str, Any], tmp_path: Path) -> None:
    set_id = _backup_local(cluster, env)["sets"][0]["set_id"]
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    drill_env = {"PATH": env["path"], "TMPDIR": str(scratch)}
    good = ops(cluster, "backup", "drill", env=drill_env)
    assert good.returncode == 0, good.stderr + good.stdout
    assert f"restore drill OK: set {set_id}" in good.stdout and "cas.db, cas.key-store" in good.stdout
    key = f"cas-db/{TARGET.cas_name}/{set_id}/cas.db"
    original = _client(env["s3"]).get_object(Bucket="ops-e2e", Key=key)["Body"].read()
    _client(env["s3"]).put_object(Bucket="ops-e2e", Key=key, Body=bytes([original[0] ^ 1]) + original[1:])
    try:
        bad = ops(cluster, "backup", "drill", env=drill_env)
    finally:
        _client(env["s3"]).put_object(Bucket="ops-e2e", Key=key, Body=original)
    assert bad.returncode == 7, bad.stderr + bad.stdout
    assert f"restore drill FAILED: {key}: stored object does not match the manifest" in bad.stdout
    assert "scone-backupper drill exited 7" in bad.stderr
    # Neither the restored copy nor the Secret's files outlive a drill, passed or failed.
    assert list(scratch.iterdir()) == []
    assert "e2e-ops-secret-value" not in good.stdout + good.stderr + bad.stdout + bad.stderr


def test_cas_move_backup_check_passes_with_a_fresh_set_and_refuses_an_empty_bucket(
        cluster: LocalCluster, env: dict[str, Any]) -> None:
    newest = _backup_local(cluster, env)["sets"][0]["set_id"]
    wait(cluster, "CAS HEALTHY", lambda: healthy(cluster))
    fresh = _ops(cluster, env, "cas", "move", "--dry-run", "-o", "json")
    assert fresh.returncode == 0, fresh.stderr
    assert json.loads(fresh.stdout)["facts"]["backup"].startswith(f"set {newest}, ")
    _client(env["s3"]).create_bucket(Bucket="ops-e2e-empty")
    cluster.kubectl_apply(_secret(env["s3"], "ops-e2e-empty"))
    try:
        empty = _ops(cluster, env, "cas", "move")
        assert empty.returncode == 7
        assert "there is no complete backup set of this CAS" in empty.stderr and "backup now" in empty.stderr
    finally:
        cluster.kubectl_apply(_secret(env["s3"], "ops-e2e"))


def _cas_containers(cluster: LocalCluster, names: list[str]) -> None:
    """Make the CAS pod have exactly these containers (the operator's real pod has an audit sidecar)."""
    sts = cluster.kubectl_json("get", "statefulset", TARGET.cas_name, "-n", NS)
    current = sts["spec"]["template"]["spec"]["containers"]
    if [c["name"] for c in current] != names:
        first = current[0]
        wanted = [first, *({"name": n, "image": first["image"]} for n in names[1:])]
        cluster.kubectl("patch", "statefulset", TARGET.cas_name, "-n", NS, "--type=json", "-p",
                        json.dumps([{"op": "replace", "path": "/spec/template/spec/containers", "value": wanted}]))

    def ready() -> bool:
        pod = cas_pod(cluster)
        return bool(pod and [c["name"] for c in pod["spec"]["containers"]] == names and healthy(cluster))

    wait(cluster, f"cas-0 with containers {names}", ready)


def _serve_audit(env: dict[str, Any]) -> tuple[Path, Path]:
    pod = env["root"] / NS / f"{TARGET.cas_name}-0"
    log_file = pod / "audit" / "var/log/cas/audit/cas_audit.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("".join(AUDIT_LINES))
    stdout = pod / "audit.log"
    stdout.write_text("".join(AUDIT_LINES))
    return log_file, stdout


def test_audit_log_names_a_missing_audit_container(cluster: LocalCluster, env: dict[str, Any]) -> None:
    _cas_containers(cluster, ["cas"])
    done = _ops(cluster, env, "audit-log")
    assert done.returncode == 5
    assert "pod cas-0 has no container 'audit' (it has: cas)" in done.stderr


def test_audit_log_downloads_the_file_with_its_sha256(cluster: LocalCluster, env: dict[str, Any],
                                                      tmp_path: Path) -> None:
    _cas_containers(cluster, ["cas", "audit"])
    log_file, _ = _serve_audit(env)
    done = _ops(cluster, env, "audit-log", "--out", str(tmp_path / "audit"), "-o", "json")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    assert Path(got["path"]).read_bytes() == log_file.read_bytes()
    check = subprocess.run(["sha256sum", "-c", Path(got["path"]).name + ".sha256"], cwd=tmp_path / "audit",
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0 and ": OK" in check.stdout


def test_audit_log_streams_and_follows_until_interrupted(cluster: LocalCluster, env: dict[str, Any]) -> None:
    _cas_containers(cluster, ["cas", "audit"])
    _, stdout = _serve_audit(env)
    once = _ops(cluster, env, "audit-log")
    assert once.returncode == 0 and once.stdout == "".join(AUDIT_LINES)
    proc = subprocess.Popen(ops_argv(cluster, "audit-log", "--follow"), stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PATH": env["path"]})
    assert proc.stdout is not None
    assert proc.stdout.readline() == AUDIT_LINES[0]
    with stdout.open("a") as f:
        f.write('{"seq": 99, "op": "appended while following"}\n')
    lines = [proc.stdout.readline() for _ in range(len(AUDIT_LINES))]
    assert lines[-1] == '{"seq": 99, "op": "appended while following"}\n'
    proc.send_signal(signal.SIGINT)
    assert proc.wait() == 130
