"""Inside Pulumi's provider server, owner errors reach the user as their message, not behind a traceback.

The provider server (``python -m pulumi.dynamic``) reports a failed call with ``traceback.format_exc()``.
Each case runs a real owner provider in a subprocess that stands in for that server (same ``__main__``
spec, same formatting), against the test's loopback cluster and the fake plugin.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.owner.world import ROOT, OwnerWorld

SERVER = """
import importlib.machinery, json, os, sys, traceback
sys.modules["__main__"].__spec__ = importlib.machinery.ModuleSpec("pulumi.dynamic.__main__", None)
sys.path.insert(0, {root!r})
from components.owner import plugin, providers
from tests.owner.world import port_forwards_of_this_test
# other people's port-forwards on this shared machine are not this test's (as in the world fixture)
plugin.other_port_forwards = lambda: port_forwards_of_this_test(os.environ["FAKE_SCONE_PORT_FORWARD_MARKER"])
call = json.loads(sys.stdin.read())
try:
    getattr(getattr(providers, call["provider"])(), call["method"])(*call["args"])
except Exception:
    print(traceback.format_exc(), end="")
"""


def served(world: OwnerWorld, provider: str, method: str, *args: Any) -> str:
    """What the provider server would report for this call ("" when it succeeded)."""
    # From a file, not `python -c`: the code mentions port-forwards, and upstream's guard (which the fake
    # keeps) refuses to run beside any process whose command line says "port-forward".
    server = world.tmp / "provider_server.py"
    server.write_text(SERVER.format(root=str(ROOT)))
    result = subprocess.run(
        [sys.executable, str(server)],
        input=json.dumps({"provider": provider, "method": method, "args": list(args)}),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return result.stdout


def test_a_preflight_failure_is_its_message_alone(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    report = served(world, "CasProvisioningProvider", "create", world.props(targetDir=str(world.tmp / "missing")))
    assert report.startswith("components.owner.plugin.PreflightError: kubectl-provision cannot run here:\n- ")
    assert "provisioning.targetDir" in report
    assert "Traceback" not in report and 'File "' not in report
    assert world.calls() == []


def test_a_failed_plugin_run_is_its_message_alone(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject({"match": "--print-public-keys", "action": "fail", "message": "kubectl port-forward: lost connection"})
    report = served(world, "CasProvisioningProvider", "create", world.props())
    assert report.startswith("components.owner.plugin.PluginError: reading the CAS public keys failed")
    assert "ERROR: kubectl port-forward: lost connection" in report
    assert "Traceback" not in report and 'File "' not in report


def test_a_cluster_read_failure_is_its_message_alone(world: OwnerWorld) -> None:
    report = served(
        world, "CasUpgradeProvider", "read", "scone-system/cas", world.props(kubectl=str(world.tmp / "no-kubectl"))
    )
    assert report.startswith("components.live_cluster.ClusterError: ")
    assert "is not on PATH: install kubectl" in report
    assert "Traceback" not in report
