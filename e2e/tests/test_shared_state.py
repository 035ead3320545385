"""Shared Pulumi state as platform teams run it: the DIY S3 backend with its lock,
passphrase-encrypted secrets, and more than one machine.

Real parts: the Pulumi CLI's S3 backend against a moto S3 server on loopback (plain
http, path-style addressing, a versioned bucket), `pulumi login`, the engine and the
program's `local` stack, the API server. Each "machine" is a workspace with its own
PULUMI_HOME and its own checkout of the project (the stack file with the encryption
salt travels with the repository; the passphrase only through PULUMI_CONFIG_PASSPHRASE).
A second `up` overlaps the first by freezing the first CLI (SIGSTOP) once its lock
is in the bucket, so the overlap does not depend on timing.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack, generate_dcap_key
from e2e.harness.processes import Child, ProcessDiedError, free_port, start_child, wait_until
from e2e.harness.pulumi_env import PulumiRun, PulumiWorkspace
from e2e.harness.scone_project import local_stack_version, make_project
from e2e.harness.tools import Tools

STATE_BUCKET = "scone-pulumi-state"
REGION = "us-east-1"
PROJECT = "scone"
STACK = "local"
#: Where the DIY backend keeps the stack's checkpoint and its lock files (project-scoped layout).
CHECKPOINT_KEY = f".pulumi/stacks/{PROJECT}/{STACK}.json"
LOCKS_PREFIX = f".pulumi/locks/organization/{PROJECT}/{STACK}/"
#: The marker Pulumi writes beside every secret value in state (encrypted with the stack's key).
SECRET_SIG = "4dabf18193072939515e22adb298388d"
#: How often a run is restarted when it finished before it could be caught holding its lock.
ATTEMPTS = 5


@dataclass(frozen=True)
class StateStore:
    """The S3-compatible server holding the state bucket, and the credentials for it."""

    endpoint: str
    access_key_id: str
    secret_access_key: str

    def client(self, service: str = "s3") -> Any:
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key)

    def backend_url(self, bucket: str = STATE_BUCKET) -> str:
        """The `pulumi login` URL: full http endpoint, path-style, explicit region."""
        return f"s3://{bucket}?endpoint={self.endpoint}&s3ForcePathStyle=true&region={REGION}"

    def legacy_backend_url(self) -> str:
        """The same bucket in the AWS-SDK-v1 spelling many team docs still use: a bare
        host:port endpoint and disableSSL=true (the CLI translates it to http://)."""
        host = self.endpoint.removeprefix("http://")
        return f"s3://{STATE_BUCKET}?endpoint={host}&disableSSL=true&s3ForcePathStyle=true&region={REGION}"

    def env(self) -> dict[str, str]:
        """What the CLI needs to reach the bucket (the AWS SDK's default credential chain)."""
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
                "AWS_REGION": REGION}

    def keys(self, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=STATE_BUCKET, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def every_version(self) -> dict[str, bytes]:
        """Every stored version of every object ("<key>@<version>" -> body), old ones included."""
        s3 = self.client()
        found: dict[str, bytes] = {}
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=STATE_BUCKET):
            for version in page.get("Versions", []):
                key, vid = version["Key"], version["VersionId"]
                body = s3.get_object(Bucket=STATE_BUCKET, Key=key, VersionId=vid)["Body"].read()
                found[f"{key}@{vid}"] = body
        return found


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StateStore]:
    """A moto S3 server on loopback with a versioned state bucket."""
    port = free_port()
    child: Child = start_child("moto-state", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                              "-p", str(port)], tmp_path_factory.mktemp("moto-state"))
    found = StateStore(f"http://127.0.0.1:{port}", "AKIA" + secrets.token_hex(8).upper(),
                       secrets.token_urlsafe(30))
    try:
        wait_until("moto S3 server", lambda: bool(found.client().list_buckets()), [child])
        found.client().create_bucket(Bucket=STATE_BUCKET)
        found.client().put_bucket_versioning(Bucket=STATE_BUCKET,
                                             VersioningConfiguration={"Status": "Enabled"})
        yield found
    finally:
        child.stop()


@pytest.fixture(scope="module")
def shared(e2e_tools: Tools, cluster: LocalCluster, store: StateStore,
           tmp_path_factory: pytest.TempPathFactory) -> LocalSconeStack:
    """The `local` stack in the S3 backend, installed by a first `up` from machine A."""
    stack = LocalSconeStack(e2e_tools, cluster, tmp_path_factory.mktemp("machine-a"),
                            backend_url=store.backend_url(), backend_env=store.env())
    ws = stack.create()
    ws.extra_env["FAKE_SCONE_STATE_DIR"] = os.environ["FAKE_SCONE_STATE_DIR"]
    _ok(ws.run("up", "--yes", "--skip-preview"), cluster)
    return stack


def _ws(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def _ok(run: PulumiRun, cluster: LocalCluster) -> PulumiRun:
    assert run.returncode == 0, f"{run.output[-8000:]}\n--- cluster\n{cluster.dump_logs(8)}"
    return run


def _other_machine(shared: LocalSconeStack, store: StateStore, work: Path, url: str,
                   passphrase: str | None = None) -> PulumiWorkspace:
    """Another machine: its own PULUMI_HOME and a checkout of the same project and stack file."""
    project = work / "project"
    shutil.copytree(shared.project_dir, project)
    a = _ws(shared)
    ws = PulumiWorkspace(a.tools, project, work / "state", a.kubeconfig,
                         passphrase=passphrase if passphrase is not None else a.passphrase,
                         extra_env={**store.env(), "FAKE_SCONE_STATE_DIR": os.environ["FAKE_SCONE_STATE_DIR"]},
                         backend_url=url)
    ws.login()
    return ws


def _frozen_while_holding_the_lock(ws: PulumiWorkspace, store: StateStore, name: str, *args: str) -> Child | None:
    """Start `pulumi <args>` and freeze its process group (SIGSTOP) while its lock is in the
    bucket. None when the run finished (successfully) before it could be caught holding it."""
    child = ws.start(name, *args)
    try:
        wait_until(f"the lock of `pulumi {' '.join(args)}` in the bucket",
                   lambda: bool(store.keys(LOCKS_PREFIX)), [child])
    except ProcessDiedError:
        pass  # finished before its lock was seen
    else:
        os.killpg(child.proc.pid, signal.SIGSTOP)
        if store.keys(LOCKS_PREFIX):
            return child
        os.killpg(child.proc.pid, signal.SIGCONT)  # it had just unlocked: let it finish
    child.proc.wait()
    child.stop()
    assert child.proc.returncode == 0, child.log_tail(80)
    return None


def _history(ws: PulumiWorkspace) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(ws.run("stack", "history", "--json", check=True).stdout or "[]")
    return entries


def _deployment(ws: PulumiWorkspace, path: Path, show_secrets: bool = False) -> dict[str, Any]:
    """`pulumi stack export`; with show_secrets the secret values are decrypted, so that two
    exports compare equal although every import re-encrypts them (fresh nonces)."""
    ws.run("stack", "export", "--file", str(path), *(["--show-secrets"] if show_secrets else []), check=True)
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _resources(doc: dict[str, Any]) -> dict[str, Any]:
    """URN -> (inputs, outputs) of an exported deployment: what must survive a round trip."""
    return {r["urn"]: (r.get("inputs"), r.get("outputs")) for r in doc["deployment"].get("resources") or []}


def test_login_keeps_the_s3_backend_in_pulumi_home_and_the_stack_in_the_bucket(
        shared: LocalSconeStack, store: StateStore) -> None:
    ws = _ws(shared)
    whoami = ws.run("whoami", "--verbose", check=True)
    assert f"Backend URL: {store.backend_url()}" in whoami.stdout, whoami.stdout
    credentials = json.loads((ws.state_dir / "pulumi-home" / "credentials.json").read_text())
    assert credentials["current"] == store.backend_url()
    assert "PULUMI_BACKEND_URL" not in ws.env()
    keys = store.keys()
    assert CHECKPOINT_KEY in keys, keys
    assert ".pulumi/meta.yaml" in keys, keys
    assert not ws.state_files(), "a file backend was written although the stack lives in S3"
    checkpoint = json.loads(store.client().get_object(Bucket=STATE_BUCKET, Key=CHECKPOINT_KEY)["Body"].read())
    assert checkpoint["checkpoint"]["latest"]["resources"], "the checkpoint in the bucket holds no resources"
    assert ws.outputs()["deployedVersion"] == local_stack_version()


def test_a_second_up_while_one_runs_is_refused_by_the_lock_and_the_state_stays_whole(
        shared: LocalSconeStack, store: StateStore, cluster: LocalCluster) -> None:
    ws = _ws(shared)
    first: Child | None = None
    for _ in range(ATTEMPTS):
        interval = int(ws.outputs()["backup"]["interval"]) + 60
        shared.reconfigure({"scone:backup": {"interval": interval}})
        updates_before = len(_history(ws))
        first = _frozen_while_holding_the_lock(ws, store, "first-up", "up", "--yes", "--skip-preview")
        if first is not None:
            break
    assert first is not None, f"no up was caught holding its lock in {ATTEMPTS} tries"
    try:  # machine A holds the lock, frozen mid-update
        locks_while_running = store.keys(LOCKS_PREFIX)
        second = ws.run("up", "--yes", "--skip-preview")
    finally:
        os.killpg(first.proc.pid, signal.SIGCONT)
        first.proc.wait()
        first.stop()
    assert second.returncode != 0, second.output[-4000:]
    assert "the stack is currently locked by 1 lock(s)" in second.output, second.output[-4000:]
    assert "pulumi cancel" in second.output
    assert f"(pid {first.proc.pid})" in second.output, "the refusal does not name the lock holder"
    assert len(locks_while_running) == 1 and locks_while_running[0] in second.output
    assert first.proc.returncode == 0, first.log_tail(80)
    assert store.keys(LOCKS_PREFIX) == [], "the finished update left its lock behind"
    history = _history(ws)
    assert len(history) == updates_before + 1, "the refused up wrote a history entry"
    assert history[0]["result"] == "succeeded"
    assert ws.outputs()["backup"]["interval"] == interval
    _ok(ws.run("up", "--yes", "--skip-preview", "--expect-no-changes"), cluster)


def test_another_machine_logs_in_sees_the_same_stack_and_outputs_and_its_noop_up_changes_nothing(
        shared: LocalSconeStack, store: StateStore, cluster: LocalCluster, tmp_path: Path) -> None:
    b = _other_machine(shared, store, tmp_path / "machine-b", store.legacy_backend_url())
    stacks = json.loads(b.run("stack", "ls", "--json", check=True).stdout)
    assert [s["name"] for s in stacks] == [STACK], stacks
    b.stack_select(STACK)
    a_out = _ws(shared).outputs(show_secrets=True)
    assert b.outputs(show_secrets=True) == a_out
    assert a_out["deployedVersion"] == local_stack_version()
    updates_before = len(_history(b))
    _ok(b.run("up", "--yes", "--skip-preview", "--expect-no-changes"), cluster)
    assert len(_history(_ws(shared))) == updates_before + 1, "machine A does not see machine B's update"
    assert store.keys(LOCKS_PREFIX) == []


def test_export_then_import_round_trips_the_state_and_a_broken_import_changes_nothing(
        shared: LocalSconeStack, cluster: LocalCluster, tmp_path: Path) -> None:
    ws = _ws(shared)
    exported = _deployment(ws, tmp_path / "exported.json")
    before = _resources(_deployment(ws, tmp_path / "before-plain.json", show_secrets=True))
    assert before, "the export holds no resources"
    text = (tmp_path / "exported.json").read_text()
    assert SECRET_SIG in text and shared.s3_secret_access_key not in text, "the export is not encrypted"
    broken = tmp_path / "broken.json"
    broken.write_text(text[: len(text) // 2])
    refused = ws.run("stack", "import", "--file", str(broken))
    assert refused.returncode != 0, refused.output[-3000:]
    assert _resources(_deployment(ws, tmp_path / "after-broken.json", show_secrets=True)) == before
    ws.run("stack", "import", "--file", str(tmp_path / "exported.json"), check=True)
    assert _resources(_deployment(ws, tmp_path / "reimported.json", show_secrets=True)) == before
    assert _resources(exported).keys() == before.keys()
    _ok(ws.run("preview", "--expect-no-changes"), cluster)


def test_the_state_in_the_bucket_holds_no_plaintext_secret_in_any_version(
        shared: LocalSconeStack, store: StateStore) -> None:
    ws = _ws(shared)
    sentinels = {**shared.sentinels(), "configPassphrase": ws.passphrase,
                 "stateBucketSecretKey": store.secret_access_key}
    objects = store.every_version()
    assert sum(name.startswith(CHECKPOINT_KEY + "@") for name in objects) > 1, sorted(objects)
    current = store.client().get_object(Bucket=STATE_BUCKET, Key=CHECKPOINT_KEY)["Body"].read()
    assert SECRET_SIG.encode() in current, "the state holds no (encrypted) secret at all"
    for name, body in objects.items():
        text = body.decode(errors="replace")
        for what, value in sentinels.items():
            assert value not in text, f"{what} in plain text in s3://{STATE_BUCKET}/{name}"


def test_a_machine_with_the_wrong_passphrase_decrypts_nothing_and_leaves_no_lock(
        shared: LocalSconeStack, store: StateStore, tmp_path: Path) -> None:
    c = _other_machine(shared, store, tmp_path / "machine-c", store.backend_url(),
                       passphrase="not-" + _ws(shared).passphrase)
    c.stack_select(STACK)
    # The key went in on stdin at `stack init` time; with the right passphrase it reads back.
    assert _ws(shared).run("config", "get", "scone:dcapKey", check=True).stdout.strip() == shared.dcap_key
    updates_before = len(_history(c))
    up = c.run("up", "--yes", "--skip-preview")
    assert up.returncode != 0
    assert "incorrect passphrase" in up.output, up.output[-3000:]
    shown = c.run("config", "get", "scone:dcapKey")
    assert shown.returncode != 0 and shared.dcap_key not in shown.output
    assert store.keys(LOCKS_PREFIX) == []
    assert len(_history(c)) == updates_before


def test_a_bare_endpoint_without_disable_ssl_is_tried_over_https_and_the_login_is_refused(
        e2e_tools: Tools, store: StateStore, tmp_path: Path) -> None:
    host = store.endpoint.removeprefix("http://")
    url = f"s3://{STATE_BUCKET}?endpoint={host}&s3ForcePathStyle=true&region={REGION}"
    ws = PulumiWorkspace(e2e_tools, tmp_path, tmp_path / "state", tmp_path / "no-kubeconfig",
                         extra_env=store.env(), backend_url=url)
    refused = ws.run("login", url)
    assert refused.returncode != 0
    assert f"https://{host}/{STATE_BUCKET}/.pulumi/meta.yaml" in refused.output, refused.output[-3000:]
    assert not (tmp_path / "state" / "pulumi-home" / "credentials.json").exists()


def test_a_lock_left_by_a_killed_up_refuses_updates_until_pulumi_cancel_removes_it(
        shared: LocalSconeStack, store: StateStore, cluster: LocalCluster) -> None:
    ws = _ws(shared)
    _ok(ws.run("up", "--yes", "--skip-preview", "--expect-no-changes"), cluster)  # nothing to change
    killed: Child | None = None
    for _ in range(ATTEMPTS):
        killed = _frozen_while_holding_the_lock(ws, store, "killed-up", "up", "--yes", "--skip-preview")
        if killed is not None:
            break
    assert killed is not None, f"no up was caught holding its lock in {ATTEMPTS} tries"
    os.killpg(killed.proc.pid, signal.SIGKILL)  # a CI runner that vanished mid-update
    killed.proc.wait()
    killed.stop()
    stale = store.keys(LOCKS_PREFIX)
    assert len(stale) == 1, stale
    refused = ws.run("up", "--yes", "--skip-preview")
    assert refused.returncode != 0 and f"(pid {killed.proc.pid})" in refused.output, refused.output[-3000:]
    ws.run("cancel", "--yes", check=True)
    assert store.keys(LOCKS_PREFIX) == []
    _ok(ws.run("up", "--yes", "--skip-preview", "--expect-no-changes"), cluster)


def test_a_stack_with_the_awskms_secrets_provider_is_decrypted_by_the_kms_key_not_a_passphrase(
        e2e_tools: Tools, store: StateStore, tmp_path: Path) -> None:
    bucket = "scone-pulumi-kms-state"
    store.client().create_bucket(Bucket=bucket)
    kms = store.client("kms")
    key_id = kms.create_key(Description="scone pulumi state")["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/scone-pulumi", TargetKeyId=key_id)
    provider = f"awskms://alias/scone-pulumi?region={REGION}&endpoint={store.endpoint}"
    dcap_key = generate_dcap_key()

    def machine(name: str) -> PulumiWorkspace:
        project = tmp_path / name / "project"
        if name == "a":
            make_project(project, "kms")
        else:
            shutil.copytree(tmp_path / "a" / "project", project)
        ws = PulumiWorkspace(e2e_tools, project, tmp_path / name / "state", tmp_path / "no-kubeconfig",
                             passphrase=f"unused-{name}", extra_env=store.env(), backend_url=store.backend_url(bucket))
        ws.login()
        return ws

    a = machine("a")
    a.stack_init("kms", secrets_provider=provider)
    a.run("config", "set", "--secret", "scone:dcapKey", check=True, stdin=dcap_key)
    stack_file = (a.project_dir / "stacks" / "Pulumi.kms.yaml").read_text()
    assert f"secretsprovider: {provider}" in stack_file and "encryptedkey:" in stack_file, stack_file
    assert dcap_key not in stack_file and "encryptionsalt" not in stack_file
    b = machine("b")  # another passphrase: only the KMS key can open the stack's data key
    b.stack_select("kms")
    assert b.run("config", "get", "scone:dcapKey", check=True).stdout.strip() == dcap_key
    c = machine("c")  # a checkout whose KMS is out of reach (nothing listens there)
    c_file = c.project_dir / "stacks" / "Pulumi.kms.yaml"
    c_file.write_text(c_file.read_text().replace(store.endpoint, f"http://127.0.0.1:{free_port()}"))
    c.stack_select("kms")
    locked_out = c.run("config", "get", "scone:dcapKey")
    assert locked_out.returncode != 0 and dcap_key not in locked_out.output, locked_out.output[-3000:]
    assert "Decrypt" in locked_out.output, locked_out.output[-3000:]
