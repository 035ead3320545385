"""A CAS the stack forgot keeps its namespace, the operator release and the destroy guard protected.

``skipCas: true`` + ``cas.removeFromStack: true`` lets a stack forget its CAS while the CAS keeps
running. Protection follows what the cluster holds, read while the program is evaluated, and the
destroy guard's own delete reads the cluster, since ``pulumi destroy`` does not run the program.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from components.guard_providers import DestroyGuardProvider
from components.live_cluster import CasFacts, ClusterError, KubectlView, OfflineView
from components.provider_errors import UserFacingError
from e2e.fakes.apiserver import FakeApiServer
from tests.program.conftest import Evaluate
from tests.program.fake_cluster import NAMESPACE, FakeClusterView, bare_sgx_cluster, running_cas
from tools.mock_engine import Evaluation

RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE_TYPE = "kubernetes:core/v1:Namespace"
GUARD = "pulumi-python:dynamic/scone:DestroyGuard"
FORGOTTEN = {"skipCas": True, "cas": {"removeFromStack": True}}


def _protected(evaluation: Evaluation) -> dict[str, bool]:
    return {
        "namespace": evaluation.one(NAMESPACE_TYPE, NAMESPACE).protect,
        "release": evaluation.one(RELEASE, "scone-operator").protect,
        "guard": evaluation.one(GUARD).protect,
    }


def test_a_forgotten_cas_that_still_runs_keeps_namespace_and_release_protected(
    evaluate_stack: Evaluate,
) -> None:
    evaluation = evaluate_stack("dev", preview=True, cluster=running_cas(), **FORGOTTEN)
    assert evaluation.error is None, evaluation.error
    assert evaluation.by_type("kubernetes:services.scone.cloud/v1beta1:CAS") == []
    # The guard is left to its delete, which reads the cluster and refuses with the steps (below).
    assert _protected(evaluation) == {"namespace": True, "release": True, "guard": False}
    warning = next(line for line in evaluation.logs if "still run" in line)
    assert "kubectl delete cas cas -n osc-scone-system" in warning
    assert "--local-backup" in warning


def test_a_forgotten_cas_that_is_gone_releases_the_protection_but_not_the_retention(
    evaluate_stack: Evaluate,
) -> None:
    evaluation = evaluate_stack("dev", cluster=FakeClusterView(), **FORGOTTEN)
    assert _protected(evaluation) == {"namespace": False, "release": False, "guard": False}
    assert evaluation.one(NAMESPACE_TYPE, NAMESPACE).retain_on_delete is True
    assert evaluation.one(RELEASE, "scone-operator").retain_on_delete is True


def test_any_cas_cr_in_the_services_namespace_counts_not_only_the_stacks_own(evaluate_stack: Evaluate) -> None:
    other = FakeClusterView(cas_crs={("other-cas", NAMESPACE): CasFacts(version="5.8.0", provisioned=True)})
    assert _protected(evaluate_stack("edge", cluster=other)) == {"namespace": True, "release": True, "guard": False}
    elsewhere = FakeClusterView(cas_crs={("cas", "somewhere-else"): CasFacts(version="5.8.0", provisioned=True)})
    assert _protected(evaluate_stack("edge", cluster=elsewhere))["release"] is False


@pytest.mark.parametrize(
    "cluster", [FakeClusterView(unreachable=True), OfflineView()], ids=["unreachable", "offline-plan"]
)
def test_an_unreadable_cluster_keeps_the_protection_and_says_so(
    evaluate_stack: Evaluate, cluster: FakeClusterView | OfflineView
) -> None:
    evaluation = evaluate_stack("edge", cluster=cluster)
    assert _protected(evaluation) == {"namespace": True, "release": True, "guard": False}
    assert any("could not read the CAS custom resources" in line for line in evaluation.logs), evaluation.logs


@pytest.mark.parametrize("stack", ["dev", "prod", "edge", "local"])
def test_services_namespace_and_operator_release_are_always_retained(evaluate_stack: Evaluate, stack: str) -> None:
    evaluation = evaluate_stack(stack, cluster=bare_sgx_cluster({"osc.services/enabled": "true"}))
    assert evaluation.one(NAMESPACE_TYPE, NAMESPACE).retain_on_delete is True
    assert evaluation.one(RELEASE, "scone-operator").retain_on_delete is True


def test_destroy_guard_records_the_namespace_its_delete_must_check(evaluate_stack: Evaluate) -> None:
    guard = evaluate_stack("edge", cluster=FakeClusterView()).one(GUARD)
    assert guard.inputs["servicesNamespace"] == NAMESPACE


@pytest.fixture
def fake_apiserver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApiServer]:
    """An API server kubectl can talk to, as the current kubeconfig, holding the services namespace."""
    server = FakeApiServer(tmp_path / "cluster").start()
    monkeypatch.setenv("KUBECONFIG", str(server.write_kubeconfig(tmp_path / "kubeconfig")))
    server.store.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    yield server
    server.stop()


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The current kubeconfig names an API server nobody answers for."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "c",'
        ' "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],'
        ' "users": [{"name": "u", "user": {}}], "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}'
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))


def _create_cas(server: FakeApiServer, name: str) -> None:
    server.store.create(
        "cas",
        NAMESPACE,
        {
            "apiVersion": "services.scone.cloud/v1beta1",
            "kind": "CAS",
            "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"image": "registry.example.com/osc-cas:5.8.0"},
        },
    )


def test_destroy_guard_delete_refuses_while_a_cas_cr_exists_with_the_removal_steps(
    fake_apiserver: FakeApiServer,
) -> None:
    _create_cas(fake_apiserver, "cas")
    with pytest.raises(UserFacingError) as refused:
        DestroyGuardProvider().delete("scone-destroy-guard", {"protects": None, "servicesNamespace": NAMESPACE})
    message = str(refused.value)
    assert "CAS cas still exist(s) in namespace 'osc-scone-system'" in message
    assert "Nothing was deleted" in message
    for step in ("--local-backup", "kubectl delete cas cas -n osc-scone-system", "database-cas-0", "helm uninstall"):
        assert step in message


@pytest.mark.usefixtures("unreachable_kubeconfig")
def test_destroy_guard_delete_refuses_when_it_cannot_read_the_cluster() -> None:
    with pytest.raises(UserFacingError, match="could not read the CAS custom resources"):
        DestroyGuardProvider().delete("scone-destroy-guard", {"servicesNamespace": NAMESPACE})


def test_destroy_guard_delete_refuses_when_its_state_predates_the_namespace() -> None:
    with pytest.raises(UserFacingError, match="run `pulumi up` once"):
        DestroyGuardProvider().delete("scone-destroy-guard", {"protects": None})


def test_destroy_guard_delete_lets_destroy_go_on_until_a_cas_cr_appears(fake_apiserver: FakeApiServer) -> None:
    guard = DestroyGuardProvider()
    guard.delete("g", {"servicesNamespace": NAMESPACE})  # no CAS CR yet: the destroy may go on
    _create_cas(fake_apiserver, "kept")
    assert KubectlView().cas_names(NAMESPACE) == ["kept"]
    with pytest.raises(UserFacingError, match="CAS kept still exist"):
        guard.delete("g", {"servicesNamespace": NAMESPACE})


@pytest.mark.usefixtures("unreachable_kubeconfig")
def test_kubectl_view_reports_an_unreachable_api_server_as_a_cluster_error() -> None:
    with pytest.raises(ClusterError, match="failed"):
        KubectlView().cas_names(NAMESPACE)


def test_destroy_guard_delete_refuses_a_cluster_other_than_the_recorded_one(fake_apiserver: FakeApiServer) -> None:
    fake_apiserver.store.create("namespaces", None, {"apiVersion": "v1", "kind": "Namespace",
                                                     "metadata": {"name": "kube-system"}})
    live = KubectlView().identity()
    recorded = "00000000-1111-4222-8333-444444444444"
    props = {"servicesNamespace": NAMESPACE, "clusterIdentity": recorded, "stack": "prod"}
    with pytest.raises(UserFacingError) as refused:
        DestroyGuardProvider().delete("g", props)
    assert str(refused.value).startswith(
        f"pulumi destroy refused: this is stack prod; the kube context points at a cluster with kube-system uid {live},"
        f" not the one this stack was deployed to (uid {recorded}). Nothing was deleted."
    )
    DestroyGuardProvider().delete("g", {**props, "clusterIdentity": live})  # its own cluster: the destroy goes on


@pytest.mark.usefixtures("unreachable_kubeconfig")
def test_destroy_guard_delete_refuses_when_it_cannot_tell_which_cluster_it_reaches() -> None:
    props = {"servicesNamespace": NAMESPACE, "clusterIdentity": "00000000-1111-4222-8333-444444444444"}
    with pytest.raises(UserFacingError, match="whose identity could not be read"):
        DestroyGuardProvider().delete("g", props)
