"""The owner's reads and ``kubectl provision`` reach the stack's cluster (``scone:kubeconfig``), not the ambient one.

The world's API server is named only in the resources' properties; the ambient ``KUBECONFIG`` points at
a server nobody answers for. Real kubectl, real plugin dispatch, the fake plugin acting through kubectl.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.live_cluster import ClusterError
from components.owner.gate_provider import CasVersionGateProvider
from components.owner.provider_base import OwnerProps, cas_args
from e2e.harness.dead_cluster import DEAD_KUBECONFIG
from tests.owner.world import NAMESPACE, OwnerWorld


@pytest.fixture
def stack_kubeconfig(world: OwnerWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The world's kubeconfig, now only in the stack's settings; the ambient one names a dead server."""
    stack = world.env["KUBECONFIG"]
    dead = tmp_path / "ambient-dead.yaml"
    dead.write_text(DEAD_KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(dead))
    return stack


def test_the_version_gate_reads_the_cas_of_the_stacks_cluster(world: OwnerWorld, stack_kubeconfig: str) -> None:
    world.create_cas_cr("5.8.0")
    props = {"casName": "cas", "namespace": NAMESPACE, "version": "5.8.0", "ownerManaged": False,
             "kubectl": "kubectl", "kubeconfig": stack_kubeconfig}
    outs = CasVersionGateProvider().create(props).outs or {}
    assert outs["casVersion"] == "5.8.0"


def test_the_plugin_runs_against_the_stacks_cluster(world: OwnerWorld, stack_kubeconfig: str) -> None:
    world.create_cas_cr("5.8.0")
    owner = OwnerProps.of(world.props(kubeconfig=stack_kubeconfig))
    owner.preflight(need_identity=False)  # reads the namespace through the stack's kubeconfig
    result = owner.runner().run(cas_args(owner, "--is-provisioned"), "asking", answers_no=lambda _: True)
    assert result.stdout.strip().splitlines()[-1] in ("YES", "NO")
    assert "127.0.0.1:9" not in result.stderr
    assert world.calls()[-1]["argv"][-3:] == ["-n", NAMESPACE, "--is-provisioned"]


def test_without_the_setting_the_ambient_dead_server_is_what_the_plugin_meets(
    world: OwnerWorld, stack_kubeconfig: str
) -> None:
    world.create_cas_cr("5.8.0")
    owner = OwnerProps.of(world.props(maxAttempts=1))
    with pytest.raises(ClusterError, match=r"127\.0\.0\.1:9"):
        owner.preflight(need_identity=False)
