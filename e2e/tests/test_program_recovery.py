"""Disaster recovery end to end: Managed -> Unmanaged -> recovery from a snapshot that
the backupper restored from S3 -> Managed adopts the recovered CAS.

Each stage is a module fixture built on the one before (``shipped`` -> ``recovered`` ->
``adopted``), so every test passes alone and in any order: it asks for the stage it checks.

Real parts: the engine and program, the API server, the backupper CLI (`run` uploads
to and `restore` downloads from a moto S3 server on loopback), real `tar`. Faked: the
CAS database (the fake kubectl-provision's stand-in) and the snapshot source (kwok
pods run nothing, so `kubectl exec ... tar` is replaced by `tar` of a
`--local-backup` copy, which holds the same two files).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.moto_s3 import moto_s3
from e2e.harness.processes import wait_until
from e2e.harness.pulumi_env import VENV, PulumiRun, PulumiWorkspace
from e2e.harness.tools import Tools


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A moto S3 server on loopback; yields its endpoint URL."""
    with moto_s3(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture(scope="module")
def rstack(e2e_tools: Tools, cluster: LocalCluster, s3: str,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSconeStack]:
    work = tmp_path_factory.mktemp("recovery")
    stack = LocalSconeStack(e2e_tools, cluster, work, s3_endpoint=s3, overrides={
        "scone:provisioning": owner_provisioning(work),
    })
    boto3.client("s3", endpoint_url=s3, aws_access_key_id=stack.s3_access_key_id,
                 aws_secret_access_key=stack.s3_secret_access_key,
                 region_name="us-east-1").create_bucket(Bucket=stack.bucket)
    ws = stack.create()
    use_fake_plugin(ws, work)
    yield stack


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _cas(cluster: LocalCluster, ns: str) -> dict[str, Any] | None:
    got = cluster.kubectl("get", "cas", "cas", "-n", ns, "-o", "json", check=False)
    return json.loads(got.stdout) if got.returncode == 0 else None


def _backupper(stack: LocalSconeStack, ws: PulumiWorkspace, *args: str) -> subprocess.CompletedProcess[str]:
    creds = stack.workdir / "s3-creds"
    creds.mkdir(exist_ok=True)
    for key, value in {"AWS_ACCESS_KEY_ID": stack.s3_access_key_id,
                       "AWS_SECRET_ACCESS_KEY": stack.s3_secret_access_key,
                       "BUCKET_NAME": stack.bucket, "AWS_REGION": "us-east-1",
                       "S3_ENDPOINT": stack.s3_endpoint}.items():
        (creds / key).write_text(value)
    return subprocess.run([str(VENV / "bin" / "scone-backupper"), *args, "--credentials-dir", str(creds),
                           "--cas-name", "cas", "--cas-namespace", "osc-scone-system"],
                          capture_output=True, text=True, env=ws.env(), check=False)


@dataclass
class Recovery:
    """What each stage of the recovery left behind, for the tests to look at."""

    namespace: str
    listed_sets: list[Any]
    refused: PulumiRun | None = None
    restored: Path | None = None
    recovered: PulumiRun | None = None
    adopted: PulumiRun | None = None
    adoption_calls: list[list[str]] = field(default_factory=list)


def _ok(run: PulumiRun) -> PulumiRun:
    assert run.returncode == 0, run.output[-6000:]
    return run


@pytest.fixture(scope="module")
def shipped(rstack: LocalSconeStack, cluster: LocalCluster) -> Recovery:
    """Managed install with the owner: CAS provisioned, and one snapshot shipped to S3."""
    ws = _ws(rstack)
    _ok(ws.run("up", "--yes", "--skip-preview"))
    ns = ws.outputs()["namespaces"]["services"]
    wait_until("CAS HEALTHY", lambda: ((_cas(cluster, ns) or {}).get("status") or {}).get("phase") == "HEALTHY",
               cluster.children, attempts=600)
    # A consistent snapshot of the CAS database (what CAS writes to its snapshot volume).
    snapdir = rstack.workdir / "snap"
    snapdir.mkdir()
    got = subprocess.run(["kubectl", "provision", "cas", "cas", "-n", ns, "--local-backup"], cwd=snapdir,
                         env={**ws.env(), "TARGET_DIR": str(rstack.workdir / "owner")},
                         capture_output=True, text=True, check=False)
    assert got.returncode == 0, got.stderr
    source = next(snapdir.glob("cas-database-snapshots/*-last-snapshot-db"))
    run = _backupper(rstack, ws, "run", "--source-command", f"tar cf - -C {source} .")
    assert run.returncode == 0, run.stdout + run.stderr
    listed = _backupper(rstack, ws, "list", "--json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    return Recovery(namespace=ns, listed_sets=json.loads(listed.stdout))


@pytest.fixture(scope="module")
def recovered(rstack: LocalSconeStack, cluster: LocalCluster, shipped: Recovery) -> Recovery:
    """Unmanaged recovery from the set restored out of S3, through the explicit deletions it asks for."""
    ws, ns = _ws(rstack), shipped.namespace
    restored = rstack.workdir / "restored"
    got = _backupper(rstack, ws, "restore", "--set", "latest", "--target", str(restored))
    assert got.returncode == 0, got.stdout + got.stderr
    managed = dict(rstack.overrides)
    rstack.reconfigure({**managed, "scone:managementState": "Unmanaged",
                        "scone:provisioning": {**managed["scone:provisioning"],
                                               "recovery": {"snapshotDir": str(restored)}}})
    refused = ws.run("up", "--yes", "--skip-preview")
    # The explicit, knowing steps the refusal asks for: delete the CR, then the PVC.
    cluster.kubectl("delete", "cas", "cas", "-n", ns, "--wait=false")
    wait_until("old CAS gone", lambda: _cas(cluster, ns) is None, cluster.children, attempts=600)
    cluster.kubectl("delete", "pvc", "database-cas-0", "-n", ns, "--wait=false")
    wait_until("PVC gone", lambda: cluster.kubectl("get", "pvc", "database-cas-0", "-n", ns,
                                                   check=False).returncode != 0, cluster.children, attempts=600)
    recovery = ws.run("up", "--yes", "--skip-preview")
    if recovery.returncode == 0:
        wait_until("recovered CAS provisioned",
                   lambda: ((_cas(cluster, ns) or {}).get("status") or {}).get("provisioned") == "Yes",
                   cluster.children, attempts=600)
    return Recovery(namespace=ns, listed_sets=shipped.listed_sets, refused=refused, restored=restored,
                    recovered=recovery)


@pytest.fixture(scope="module")
def adopted(rstack: LocalSconeStack, recovered: Recovery) -> Recovery:
    """Managed again, without the recovery setting: the recovered CAS is adopted."""
    assert recovered.recovered is not None
    _ok(recovered.recovered)
    ws = _ws(rstack)
    calls = rstack.workdir / "calls.jsonl"
    ws.extra_env["FAKE_SCONE_CALL_LOG"] = str(calls)
    provisioning = {k: v for k, v in rstack.overrides["scone:provisioning"].items() if k != "recovery"}
    rstack.reconfigure({"scone:provisioning": provisioning})
    up = ws.run("up", "--yes", "--skip-preview")
    argvs = [json.loads(line)["argv"] for line in calls.read_text().splitlines()] if calls.exists() else []
    return Recovery(namespace=recovered.namespace, listed_sets=recovered.listed_sets, adopted=up,
                    adoption_calls=argvs)


def test_managed_install_provisions_cas_and_the_backupper_ships_a_snapshot(shipped: Recovery) -> None:
    assert shipped.listed_sets


def test_unmanaged_recovery_refuses_while_cas_exists_then_recovers_from_the_restored_snapshot(
    recovered: Recovery, cluster: LocalCluster,
) -> None:
    assert recovered.restored is not None
    assert (recovered.restored / "cas.db").is_file() and (recovered.restored / "cas.key-store").is_file()
    assert recovered.refused is not None and recovered.refused.returncode != 0
    assert "database-cas-0" in recovered.refused.output, recovered.refused.output[-4000:]
    assert recovered.recovered is not None
    _ok(recovered.recovered)
    assert ((_cas(cluster, recovered.namespace) or {}).get("status") or {}).get("provisioned") == "Yes"


def test_managed_again_adopts_the_recovered_cas_without_provisioning_it_again(
    adopted: Recovery, cluster: LocalCluster,
) -> None:
    assert adopted.adopted is not None
    _ok(adopted.adopted)
    argvs = adopted.adoption_calls
    plain_provision = [a for a in argvs if a[:2] == ["cas", "cas"] and not any(f.startswith("--") and f in (
        "--verify", "--print-public-keys", "--is-provisioned", "--local-backup") for f in a)]
    assert not plain_provision, argvs
    assert any("--is-provisioned" in a for a in argvs), f"the recovered CAS was not checked before adoption: {argvs}"
    assert (_cas(cluster, adopted.namespace) or {}).get("status", {}).get("provisioned") == "Yes"
