"""The plugin runner on its own: env-only DCAP key, retries with backoff, ANSI stripping, redaction."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from components.owner import plugin as plugin_module
from components.owner.plugin import PluginEnv, PluginError, PluginRunner, RunPolicy
from components.provider_errors import redact, strip_ansi
from tests.owner.world import NAMESPACE, SENTINEL_DCAP, OwnerWorld


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The runner's backoff waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(plugin_module, "wait_before_retry", waits.append)
    return waits


def runner(world: OwnerWorld, attempts: int = 4, backoff: float = 2.0) -> PluginRunner:
    env = PluginEnv("5.8.0", "registry.example/scone", "osc-", world.target, SENTINEL_DCAP)
    return PluginRunner(env, world.work, RunPolicy(60, attempts, backoff))


def test_strip_ansi_removes_upstream_colours() -> None:
    assert strip_ansi("\x1b[31mERROR: x\x1b[0m \x1b[38;5;208mWARNING\x1b[0m") == "ERROR: x WARNING"


def test_redact_removes_known_secrets_and_credential_assignments() -> None:
    text = f'key {SENTINEL_DCAP} subscription_key = "abcd1234" --dcap-api=zz CAS_PROVISIONING_TOKEN=tok99 ok'
    cleaned = redact(text, [SENTINEL_DCAP, None])
    assert SENTINEL_DCAP not in cleaned and "abcd1234" not in cleaned and "tok99" not in cleaned
    assert cleaned.count("[REDACTED]") == 3 and cleaned.endswith(" ok")


def test_backoff_doubles_and_is_capped() -> None:
    policy = RunPolicy(1, 10, 10)
    assert [policy.backoff(n) for n in (1, 2, 3, 6)] == [10, 20, 40, 300]


def test_retries_with_backoff_until_success(world: OwnerWorld, sleeps: list[float]) -> None:
    world.inject({"match": "--version", "action": "fail", "times": 2})
    result = runner(world).run(["--version"], "asking the version")
    assert result.stdout.strip() == "5.8.0" and result.attempts == 3
    assert sleeps == [2.0, 4.0]
    assert len(world.calls()) == 3


@pytest.mark.usefixtures("sleeps")
def test_gives_up_after_max_attempts_with_last_stderr_lines(world: OwnerWorld) -> None:
    world.inject({"match": "--version", "action": "fail", "message": "registry login required"})
    with pytest.raises(PluginError) as err:
        runner(world, attempts=2).run(["--version"], "asking the version")
    text = str(err.value)
    assert text.startswith(
        "asking the version failed: `kubectl provision --version` (attempt 1: exit 1; attempt 2: exit 1)"
    )
    assert "ERROR: registry login required" in text and "command failed - exiting." in text
    assert "\x1b" not in text
    assert len(world.calls()) == 2


def test_stop_retrying_hook_ends_the_loop_with_its_reason(world: OwnerWorld) -> None:
    world.inject({"match": "--version", "action": "fail"})
    with pytest.raises(PluginError, match="not retried: the Vault now exists"):
        runner(world).run(["--version"], "x", stop_retrying=lambda: "the Vault now exists")
    assert len(world.calls()) == 1


def test_dcap_key_is_in_the_environment_not_in_argv(world: OwnerWorld) -> None:
    import hashlib

    runner(world).run(["--version"], "x")
    call = world.calls()[0]
    assert call["argv"] == ["--version"]
    assert call["dcap_key_sha256"] == hashlib.sha256(SENTINEL_DCAP.encode()).hexdigest()
    assert call["cwd"] == str(world.work)


def test_inherited_namespace_and_dcap_key_do_not_leak_into_runs(
    world: OwnerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAMESPACE", "elsewhere")
    monkeypatch.setenv("DCAP_KEY", "inherited-key")
    env = PluginEnv("5.8.0", "r", "", world.target, None).build()
    assert "NAMESPACE" not in env and "DCAP_KEY" not in env
    assert env["TARGET_DIR"] == str(world.target)


def test_port_forward_detection_sees_a_real_process(world: OwnerWorld) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)", "port-forward"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    try:
        assert proc.stdout.readline() == "up\n"  # exec'd: /proc/<pid>/cmdline now shows port-forward
        assert proc.pid in plugin_module_real()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert proc.pid not in plugin_module_real()


def plugin_module_real() -> list[int]:
    from tests.owner.world import plugin_module_real_port_forwards

    return plugin_module_real_port_forwards()


def test_fake_plugin_refuses_to_run_beside_a_port_forward(world: OwnerWorld) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "port-forward"], env=dict(os.environ))
    try:
        result = runner(world).run_once(["cas", "cas", "-n", NAMESPACE, "--verify"])
    finally:
        proc.kill()
        proc.wait()
    assert result.returncode == 1 and "port-forward running" in result.stderr
    assert plugin_module.other_port_forwards() == []


def test_transcript_log_is_redacted(world: OwnerWorld) -> None:
    world.inject({"match": "--version", "action": "fail", "message": "echo {DCAP_KEY}"})
    with pytest.raises(PluginError):
        runner(world, attempts=1).run(["--version"], "x")
    log = Path(world.work / "kubectl-provision.log").read_text()
    assert SENTINEL_DCAP not in log and "[REDACTED]" in log
