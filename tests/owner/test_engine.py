"""The owner resources under the real Pulumi engine (CLI + dynamic-provider host), not mocks.

What only the engine shows: the providers are unpickled and run in a separate provider process, a
preview calls check/diff but never the plugin, the DCAP key is encrypted in state, the preview order
of a version bump, and a refused skip-upgrade failing the preview. The CLI comes from the e2e tool
build (``e2e/build_tools.sh``, cached outside the repository); without it these tests are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.owner.world import NAMESPACE, ROOT, SENTINEL_DCAP, OwnerWorld

E2E_BIN = Path(os.environ.get("SCONE_E2E_CACHE", str(Path.home() / ".cache" / "scone-stack" / "e2e"))) / "bin"
NEEDED = ("pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python")

pytestmark = pytest.mark.skipif(
    not all((E2E_BIN / tool).exists() for tool in NEEDED),
    reason=f"Pulumi CLI not built in {E2E_BIN}: run e2e/build_tools.sh",
)

PROGRAM = (
    """
import pulumi
from components.owner.component import CasOwner, CasOwnerArgs
from components.owner.config import OwnerSettings

cfg = pulumi.Config()
owner = CasOwner("owner", CasOwnerArgs(
    settings=OwnerSettings.model_validate(cfg.require_object("provisioning")),
    cas_name="cas", namespace="__NAMESPACE__", service_version=cfg.require("serviceVersion"),
    image_repo="registry.example/scone", image_prefix="osc-",
    supported_versions=["5.8.0", "5.8.1", "5.9.0"], dcap_key=cfg.get_secret("dcapKey")))
owner.complete(None)
pulumi.export("publicKeys", owner.public_keys)
pulumi.export("casVersion", owner.cas_version)
pulumi.export("backupPath", owner.backup_path)
pulumi.export("backupSha256", owner.backup_sha256)
"""
).replace("__NAMESPACE__", NAMESPACE)


class Project:
    """A throw-away Pulumi project (file backend) whose program imports ``components`` from the repo."""

    def __init__(self, world: OwnerWorld, dcap_key: str | None = SENTINEL_DCAP) -> None:
        self.dir = world.tmp / "project"
        self.dir.mkdir()
        (self.dir / "Pulumi.yaml").write_text(
            "name: ownerengine\nruntime:\n  name: python\n  options:\n"
            f"    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\n"
        )
        (self.dir / "__main__.py").write_text(PROGRAM)
        (world.tmp / "state").mkdir()
        self.env = {
            **os.environ,
            "PATH": f"{E2E_BIN}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "PULUMI_BACKEND_URL": f"file://{world.tmp / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "owner-engine-test",
            "PULUMI_HOME": str(world.tmp / "pulumi-home"),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        self.run("stack", "init", "dev")
        if dcap_key is not None:
            self.run("config", "set", "--secret", "dcapKey", dcap_key)
        self.run("config", "set", "serviceVersion", "5.8.0")
        provisioning = {
            "enabled": True,
            "targetDir": str(world.target),
            "backupDir": str(world.backups),
            "backoffSeconds": 0,
            "maxAttempts": 2,
            "pluginTimeoutSeconds": 120,
        }
        for key, value in provisioning.items():
            text = value if isinstance(value, str) else json.dumps(value)
            self.run("config", "set", "--path", f"provisioning.{key}", text)

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["pulumi", *args, "--non-interactive"] if args[0] not in ("stack", "config") else ["pulumi", *args],
            check=False,
            capture_output=True,
            text=True,
            cwd=self.dir,
            env=self.env,
            stdin=subprocess.DEVNULL,
        )
        if ok:
            assert result.returncode == 0, f"pulumi {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
        return result

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json").stdout)  # type: ignore[no-any-return]


@pytest.fixture
def project(world: OwnerWorld) -> Project:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    world.create_cas_cr("5.8.0")
    return Project(world)


def test_engine_preview_runs_no_plugin_then_up_provisions_and_keeps_the_key_secret(
    project: Project, world: OwnerWorld
) -> None:
    preview = project.run("preview", "--diff")
    assert "CasProvisioning" in preview.stdout and "CasUpgrade" in preview.stdout
    assert world.calls() == []  # check/diff ran in the provider process; the plugin did not

    project.run("up", "--yes", "--skip-preview")
    assert [c["argv"][-1] for c in world.calls()] == ["--is-provisioned", NAMESPACE, "--verify", "--print-public-keys"]
    outputs = project.outputs()
    assert set(outputs["publicKeys"]) == {"casKey", "casSoftwareKey", "casSessionEncryptionKey", "casCert"}

    state = project.run("stack", "export").stdout
    assert SENTINEL_DCAP not in state
    revealed = json.loads(project.run("stack", "export", "--show-secrets").stdout)
    for resource in revealed["deployment"]["resources"]:
        assert "dcapKey" not in (resource.get("outputs") or {}), resource["urn"]
    assert all(SENTINEL_DCAP not in " ".join(c["argv"]) for c in world.calls())

    before = len(world.calls())
    project.run("preview", "--expect-no-changes")
    assert len(world.calls()) == before


def test_engine_refuses_a_skip_in_preview_and_upgrades_cas_first(project: Project, world: OwnerWorld) -> None:
    project.run("up", "--yes", "--skip-preview")
    provisioned_calls = len(world.calls())

    project.run("config", "set", "serviceVersion", "5.9.0")
    skip = project.run("preview", ok=False)
    assert skip.returncode != 0
    assert "would skip 5.8.1" in skip.stdout + skip.stderr
    assert len(world.calls()) == provisioned_calls

    project.run("config", "set", "serviceVersion", "5.8.1")
    preview = project.run("preview")
    lines = preview.stdout.splitlines()
    upgrade_at = next(i for i, line in enumerate(lines) if "CasUpgrade" in line)
    gate_at = next(i for i, line in enumerate(lines) if "CasVersionGate" in line)
    assert upgrade_at < gate_at
    assert len(world.calls()) == provisioned_calls

    project.run("up", "--yes", "--skip-preview")
    flags = [c["argv"][4] if len(c["argv"]) > 4 else "" for c in world.calls()[provisioned_calls:]]
    assert flags[:3] == ["--local-backup", "--upgrade", "--verify"]
    outputs = project.outputs()
    assert outputs["casVersion"] == "5.8.1"
    assert Path(outputs["backupPath"]).is_dir() and len(outputs["backupSha256"]) == 64
    assert world.cas()["spec"]["image"].endswith("osc-cas:5.8.1")


def test_engine_shows_a_failed_plugin_run_as_its_message_without_a_traceback(
    project: Project, world: OwnerWorld
) -> None:
    world.inject({"match": "--print-public-keys", "action": "fail", "message": "kubectl port-forward: lost connection"})
    up = project.run("up", "--yes", "--skip-preview", ok=False)
    text = up.stdout + up.stderr
    assert up.returncode != 0
    assert "PluginError: reading the CAS public keys failed" in text
    assert "ERROR: kubectl port-forward: lost connection" in text
    assert "Traceback" not in text and 'File "' not in text


def test_engine_shows_a_preflight_failure_as_its_message_without_a_traceback(
    project: Project, world: OwnerWorld
) -> None:
    shutil.rmtree(world.target)
    up = project.run("up", "--yes", "--skip-preview", ok=False)
    text = up.stdout + up.stderr
    assert up.returncode != 0
    assert "PreflightError: kubectl-provision cannot run here:" in text
    assert "provisioning.targetDir" in text
    assert "Traceback" not in text and 'File "' not in text


def test_engine_preview_and_up_warn_when_no_dcap_key_is_set(world: OwnerWorld) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl not installed")
    world.create_cas_cr("5.8.0")
    keyless = Project(world, dcap_key=None)
    preview = keyless.run("preview")
    assert "scone:dcapKey is not set" in preview.stdout + preview.stderr
    up = keyless.run("up", "--yes", "--skip-preview")
    assert "default DCAP API key" in up.stdout + up.stderr
    assert all(call["dcap_key_sha256"] is None for call in world.calls())
