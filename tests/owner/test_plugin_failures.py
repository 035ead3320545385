"""Owner providers when the plugin or the machine misbehaves: retries, timeouts, preflight, secrets.

Driven end to end: provider -> real kubectl plugin dispatch -> fake plugin -> loopback API server.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from components.owner.plugin import PluginError, PreflightError
from components.owner.providers import CasProvisioningProvider, CasUpgradeProvider, OwnerOperationError
from tests.owner.test_providers import outs_of, provisioned
from tests.owner.world import SENTINEL_DCAP, OwnerWorld


# -- retries, timeout, errors --------------------------------------------------------------------------
def test_failed_runs_are_retried_then_succeed(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject({"match": "cas cas -n scone-system", "exact": True, "action": "fail", "times": 2})
    result = CasProvisioningProvider().create(world.props())
    assert outs_of(result)["provisioned"] is True
    # 1 probe + 2 provision runs failing + 1 succeeding + verify + keys
    assert len(world.argvs()) == 6


def test_error_after_all_attempts_carries_last_stderr_lines_without_colour(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject(
        {
            "match": "cas cas -n scone-system",
            "exact": True,
            "action": "fail",
            "message": "scone cas provision: attestation failed",
        }
    )
    with pytest.raises(PluginError) as err:
        CasProvisioningProvider().create(world.props())
    text = str(err.value)
    assert "CAS provisioning failed" in text and "attempt 3: exit 1" in text
    assert "ERROR: scone cas provision: attestation failed" in text
    assert "\x1b" not in text
    assert "provisioned" not in world.cas()["spec"]  # nothing recorded as done


def test_hanging_plugin_is_stopped_by_the_timeout_and_retried(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject({"match": "--print-public-keys", "action": "hang"})
    with pytest.raises(PluginError, match=r"timed out after 10 s") as err:
        CasProvisioningProvider().create(world.props(timeoutSeconds=10, maxAttempts=2))
    assert "attempt 1: timed out; attempt 2: timed out" in str(err.value)
    hung = [c["pid"] for c in world.calls() if "--print-public-keys" in c["argv"]]
    assert len(hung) == 2
    for pid in hung:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()


def test_cut_short_key_output_is_not_recorded(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject({"match": "--print-public-keys", "action": "partial"})
    with pytest.raises(PluginError, match="incomplete output, missing CAS_CERT"):
        CasProvisioningProvider().create(world.props())


def test_preflight_names_every_problem_before_any_run(world: OwnerWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    world.create_cas_cr("5.8.0")
    pf = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)", "port-forward"],
        env={**os.environ},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert pf.stdout is not None
    try:
        assert pf.stdout.readline() == "up\n"  # exec'd: /proc/<pid>/cmdline now shows port-forward
        with pytest.raises(PreflightError) as err:
            CasProvisioningProvider().create(world.props(targetDir=str(world.tmp / "missing")))
    finally:
        pf.kill()
        pf.wait()
        pf.stdout.close()
    text = str(err.value)
    assert f"another 'kubectl port-forward' is running (pid {pf.pid})" in text
    assert "provisioning.targetDir" in text and "does not exist" in text
    assert world.calls() == []
    with pytest.raises(PreflightError, match="namespace 'absent' does not exist"):
        CasProvisioningProvider().create(world.props(namespace="absent"))
    monkeypatch.setenv("PATH", str(Path(shutil.which("kubectl") or "").parent))
    with pytest.raises(PreflightError, match="'kubectl-provision' is not on PATH"):
        CasProvisioningProvider().create(world.props())


# -- secrets -------------------------------------------------------------------------------------------
def test_dcap_key_reaches_only_the_plugin_environment(world: OwnerWorld) -> None:
    outs = provisioned(world)
    upgrade = CasUpgradeProvider().update("x", {**world.props(), "casVersion": "5.8.0"}, world.props(version="5.8.1"))
    world.inject(
        {"match": "--is-provisioned", "action": "fail", "message": "debug: DCAP_KEY={DCAP_KEY} subscription_key=abc123"}
    )
    with pytest.raises(OwnerOperationError) as err:
        CasProvisioningProvider().create(world.props(version="5.8.1"))

    sha = hashlib.sha256(SENTINEL_DCAP.encode()).hexdigest()
    assert all(call["dcap_key_sha256"] == sha for call in world.calls())  # every run got it, via env
    assert all(SENTINEL_DCAP not in " ".join(call["argv"]) for call in world.calls())
    assert SENTINEL_DCAP not in json.dumps(outs) and SENTINEL_DCAP not in json.dumps(outs_of(upgrade))
    assert "dcapKey" not in outs
    assert SENTINEL_DCAP not in str(err.value) and "[REDACTED]" in str(err.value)
    assert "abc123" not in str(err.value)
    assert SENTINEL_DCAP not in world.everything_written()
    assert (world.work / "kubectl-provision.log").is_file()
