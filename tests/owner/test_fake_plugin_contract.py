"""The fake kubectl-provision keeps upstream 5.8.0's documented contract, on both backends."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from e2e.fakes.cluster_store import ClusterStore
from tests.owner.world import FAKES, NAMESPACE, OwnerWorld


def kp(
    world: OwnerWorld, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, **extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", "provision", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd or world.tmp,
        env={**os.environ, "TARGET_DIR": str(world.target), **(env or {}), **extra},
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cas", "a-very-long-cas-name"], "Name of the cas must not be longer than 15 characters"),
        (["--upgrade", "5.8.1", "cas", "cas"], "Flag --upgrade must follow the service"),
        (["cas", "cas", "--no-such-flag"], "Unknown argument passed: --no-such-flag"),
        (["cas", "cas", "third"], "Unknown parameter passed: third"),
        (["database"], "Please specify a valid SVC"),
        (["cas", "cas", "--force"], "--force can only be used together with --upgrade"),
        (["cas", "cas", "-n", "missing-ns"], "Namespace 'missing-ns' cannot be retrieved"),
    ],
)
def test_argument_errors_exit_1_with_red_stderr(world: OwnerWorld, args: list[str], message: str) -> None:
    result = kp(world, *args)
    assert result.returncode == 1
    assert f"\x1b[31mERROR: {message}" in result.stderr


def test_version_and_help_exit_0(world: OwnerWorld) -> None:
    assert kp(world, "--version").stdout.strip() == "5.8.0"
    assert "Current Configuration" in kp(world, "cas", "--help").stdout


def test_target_dir_must_exist(world: OwnerWorld) -> None:
    result = kp(world, "cas", "cas", "-n", NAMESPACE, TARGET_DIR=str(world.tmp / "nope"))
    assert result.returncode == 1 and "does not exist or is not writable" in result.stderr


def test_provision_creates_cr_writes_owner_files_and_is_idempotent(world: OwnerWorld) -> None:
    first = kp(world, "cas", "cas", "-n", NAMESPACE, "--dcap-api", "0123456789abcdef0123456789abcdef")
    assert first.returncode == 0, first.stderr
    assert "PUBLIC CAS_KEY=" in first.stdout and "cas.services.scone.cloud/cas patched" in first.stdout
    for rel in (
        "identity/config.json",
        "owner-config/config.toml",
        "identity/provisioned.yaml",
        f"owner-config/cas-{NAMESPACE}-cas-5.8.0-manifest.yaml",
    ):
        assert (world.target / rel).is_file(), rel
    assert world.store.exists("persistentvolumeclaims", NAMESPACE, "database-cas-0")
    again = kp(world, "cas", "cas", "-n", NAMESPACE)
    assert again.returncode == 0
    assert "already provisioned. Nothing more to do." in again.stdout
    assert "WARNING: You are using the default DCAP API key" in again.stderr


def test_existing_pvc_without_cr_is_never_overwritten(world: OwnerWorld) -> None:
    world.store.create("persistentvolumeclaims", NAMESPACE, {"metadata": {"name": "database-cas-0"}})
    result = kp(world, "cas", "cas", "-n", NAMESPACE)
    assert result.returncode == 1 and "Not overwriting an existing database" in result.stderr
    assert not world.store.exists("cas", NAMESPACE, "cas")


def test_provision_refuses_cr_with_other_image_version(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.1")
    result = kp(world, "cas", "cas", "-n", NAMESPACE, IMAGE_REPO="registry.example/scone", IMAGE_PREFIX="osc-")
    assert result.returncode == 1 and "Use --set-version" in result.stderr


def test_local_backup_layout_keeps_only_one_bak(world: OwnerWorld) -> None:
    assert kp(world, "cas", "cas", "-n", NAMESPACE).returncode == 0
    for _ in range(3):
        assert kp(world, "cas", "cas", "-n", NAMESPACE, "--local-backup").returncode == 0
    snaps = world.tmp / "cas-database-snapshots"
    assert sorted(p.name for p in snaps.iterdir()) == [
        f"cas-{NAMESPACE}-last-snapshot-db",
        f"cas-{NAMESPACE}-last-snapshot-db.bak",
    ]
    assert sorted(p.name for p in (snaps / f"cas-{NAMESPACE}-last-snapshot-db").iterdir()) == [
        "cas.db",
        "cas.key-store",
    ]


def test_upgrade_prerequisites(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    no_session = kp(
        world,
        "cas",
        "cas",
        "-n",
        NAMESPACE,
        "--upgrade",
        "5.8.1",
        IMAGE_REPO="registry.example/scone",
        IMAGE_PREFIX="osc-",
    )
    assert no_session.returncode == 1 and "backup-controller.session is not set" in no_session.stderr
    env = {"IMAGE_REPO": "registry.example/scone", "IMAGE_PREFIX": "osc-"}
    assert kp(world, "cas", "cas", "-n", NAMESPACE, env=env).returncode == 0
    wrong_version = kp(world, "cas", "cas", "-n", NAMESPACE, "--upgrade", "5.8.1", env={**env, "VERSION": "5.7.0"})
    assert wrong_version.returncode == 1 and "specify the current version with --set-version" in wrong_version.stderr
    (world.target / "identity" / "config.json").unlink()
    no_identity = kp(world, "cas", "cas", "-n", NAMESPACE, "--upgrade", "5.8.1", env=env)
    assert no_identity.returncode == 1 and "owner identity" in no_identity.stderr


def test_recovery_preconditions(world: OwnerWorld) -> None:
    assert kp(world, "cas", "cas", "-n", NAMESPACE).returncode == 0
    assert kp(world, "cas", "cas", "-n", NAMESPACE, "--local-backup").returncode == 0
    snapshot = world.tmp / "cas-database-snapshots" / f"cas-{NAMESPACE}-last-snapshot-db"
    exists = kp(world, "cas", "cas", "-n", NAMESPACE, "--cas-database-recovery", str(snapshot))
    assert exists.returncode == 1 and "The target CAS of a recovery must not exists" in exists.stderr
    missing = kp(world, "cas", "other", "-n", NAMESPACE, "--cas-database-recovery", str(world.tmp / "none"))
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    recovered = kp(world, "cas", "other", "-n", NAMESPACE, "--cas-database-recovery", str(snapshot))
    assert recovered.returncode == 0, recovered.stderr
    assert world.store.get("cas", NAMESPACE, "other")["spec"]["image"].endswith("cas-recovery:5.8.0")
    assert (world.tmp / ".tmp.x").exists()  # upstream's cwd droppings


def test_injected_partial_output_and_hang_are_available(world: OwnerWorld) -> None:
    assert kp(world, "cas", "cas", "-n", NAMESPACE).returncode == 0
    world.inject({"match": "--print-public-keys", "action": "partial", "times": 1})
    partial = kp(world, "cas", "cas", "-n", NAMESPACE, "--print-public-keys")
    assert partial.returncode == 0 and "-----END CERTIFICATE-----" not in partial.stdout  # cut mid-way
    full = kp(world, "cas", "cas", "-n", NAMESPACE, "--print-public-keys")
    assert full.stdout.count("export ") == 4
    world.inject({"match": "--verify", "action": "hang"})
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(
            ["kubectl", "provision", "cas", "cas", "-n", NAMESPACE, "--verify"],
            check=False,
            capture_output=True,
            timeout=3,
            env={**os.environ, "TARGET_DIR": str(world.target)},
        )


def test_dir_backend_works_without_an_api_server(tmp_path: Path) -> None:
    store = ClusterStore(tmp_path / "cluster")
    store.create("namespaces", None, {"metadata": {"name": NAMESPACE}})
    (tmp_path / "target").mkdir()
    env = {
        **os.environ,
        "FAKE_SCONE_BACKEND": "dir",
        "FAKE_SCONE_CLUSTER_DIR": str(tmp_path / "cluster"),
        "FAKE_SCONE_STATE_DIR": str(tmp_path / "state"),
        "TARGET_DIR": str(tmp_path / "target"),
        "KUBECONFIG": str(tmp_path / "no-such-kubeconfig"),
        "FAKE_SCONE_CALL_LOG": str(tmp_path / "calls"),
    }
    env["PATH"] = f"{FAKES / 'bin'}{os.pathsep}{env['PATH']}"
    env.pop("FAKE_SCONE_CONTROL", None)
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    for tool in ("jq", "cosign", "gpg"):
        (stubs / tool).write_text("#!/bin/sh\n")
        (stubs / tool).chmod(0o755)
    env["PATH"] += f"{os.pathsep}{stubs}"
    first = subprocess.run(
        [str(FAKES / "bin" / "kubectl-provision"), "cas", "cas", "-n", NAMESPACE],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert first.returncode == 0, first.stderr
    cr = json.loads((tmp_path / "cluster" / "services.scone.cloud" / "cas" / NAMESPACE / "cas.json").read_text())
    assert cr["spec"]["backup-controller"]["enabled"] is True
    vault = [str(FAKES / "bin" / "kubectl-provision"), "vault", "vault", "-n", NAMESPACE, "--cas", f"cas.{NAMESPACE}"]
    assert subprocess.run(vault, check=False, capture_output=True, text=True, env=env, cwd=tmp_path).returncode == 0
    second = subprocess.run(vault, check=False, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert second.returncode == 1 and "re-provisioning an existing vault" in second.stderr


def test_is_provisioned_answers_yes_or_no_with_upstreams_exit_codes(world: OwnerWorld) -> None:
    before = kp(world, "cas", "cas", "-n", NAMESPACE, "--is-provisioned")
    assert before.returncode == 1 and before.stdout.splitlines()[-1] == "NO"
    assert kp(world, "cas", "cas", "-n", NAMESPACE).returncode == 0
    after = kp(world, "cas", "cas", "-n", NAMESPACE, "--is-provisioned")
    assert after.returncode == 0 and after.stdout.splitlines()[-1] == "YES"
    broken = kp(world, "cas", "cas", "-n", "missing-ns", "--is-provisioned")  # error_exit: 1, but no answer
    assert broken.returncode == 1 and "NO" not in broken.stdout.split()


def test_public_keys_print_the_certificate_as_a_pem_over_several_lines(world: OwnerWorld) -> None:
    assert kp(world, "cas", "cas", "-n", NAMESPACE).returncode == 0
    printed = kp(world, "cas", "cas", "-n", NAMESPACE, "--print-public-keys")
    assert printed.returncode == 0
    cert = printed.stdout.split('export CAS_CERT="', 1)[1]
    lines = cert.splitlines()
    assert lines[0] == "-----BEGIN CERTIFICATE-----" and lines[-1] == '-----END CERTIFICATE-----"'
    assert len(lines) > 2


def test_local_backup_that_copies_nothing_still_exits_0(world: OwnerWorld) -> None:
    assert kp(world, "cas", "cas", "-n", NAMESPACE).returncode == 0
    assert kp(world, "cas", "cas", "-n", NAMESPACE, "--local-backup").returncode == 0
    world.inject({"match": "--local-backup", "action": "cp-nothing"})
    result = kp(world, "cas", "cas", "-n", NAMESPACE, "--local-backup")
    assert result.returncode == 0 and "Cannot stat: No such file or directory" in result.stderr
    snaps = world.tmp / "cas-database-snapshots"
    assert sorted(p.name for p in snaps.iterdir()) == [f"cas-{NAMESPACE}-last-snapshot-db.bak"]
    assert world.calls()[-1]["cwd_snapshots"] == [f"cas-{NAMESPACE}-last-snapshot-db"]
