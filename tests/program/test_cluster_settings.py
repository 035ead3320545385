"""``scone:kubeconfig``, ``scone:kubeContext``, ``scone:clusterIdentity``: validated with errors that name the key,
and followed by the Kubernetes provider and every dynamic resource that runs kubectl."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from components.cluster_settings import CONFIG_NAMESPACE as CLUSTER_NAMESPACE
from components.cluster_settings import read_cluster_settings
from components.config_errors import SpecError
from components.config_source import RawConfig
from components.kube_access import KubeTarget
from components.spec import CONFIG_NAMESPACE
from tests.program.conftest import Evaluate
from tests.program.fake_cluster import bare_sgx_cluster
from tools.mock_engine import contains_plain, evaluate, load_stack_config

KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://127.0.0.1:6443"}
contexts:
- name: prod-admin
  context: {cluster: prod, user: admin}
current-context: prod-admin
users:
- name: admin
  user: {token: not-a-real-token-but-secret}
"""
UID = "0f1e2d3c-4b5a-6978-8695-a4b3c2d1e0f9"
DYNAMIC = "pulumi-python:dynamic/scone:"


@pytest.fixture
def kubeconfig_file(tmp_path: Path) -> Path:
    path = tmp_path / "prod.yaml"
    path.write_text(KUBECONFIG)
    return path


def _raw(values: dict[str, str], secret: frozenset[str] = frozenset()) -> RawConfig:
    return RawConfig(values=values, secret_keys=secret, stack_file="stacks/Pulumi.prod.yaml")


def _problems(values: dict[str, str], secret: frozenset[str] = frozenset()) -> str:
    with pytest.raises(SpecError) as caught:
        read_cluster_settings(_raw(values, secret))
    return str(caught.value)


def test_the_cluster_settings_use_the_specs_config_namespace() -> None:
    assert CLUSTER_NAMESPACE == CONFIG_NAMESPACE


def test_no_setting_means_the_ambient_kubeconfig_and_no_repin() -> None:
    choice = read_cluster_settings(_raw({"serviceVersion": "5.8.0"}))
    assert choice.target.ambient and choice.repin is None


def test_a_kubeconfig_path_and_context_are_taken_as_given(kubeconfig_file: Path) -> None:
    choice = read_cluster_settings(_raw({"kubeconfig": str(kubeconfig_file), "kubeContext": "prod-admin"}))
    assert choice.target == KubeTarget(kubeconfig=str(kubeconfig_file), context="prod-admin")


def test_a_missing_kubeconfig_file_is_refused_naming_the_key_and_what_to_set(tmp_path: Path) -> None:
    message = _problems({"kubeconfig": str(tmp_path / "gone.yaml")})
    assert "stacks/Pulumi.prod.yaml" in message
    assert "scone:kubeconfig" in message and "gone.yaml" in message and "is not a file" in message
    assert "pulumi config set kubeconfig <path>" in message


def test_a_missing_file_set_as_secret_is_refused_without_echoing_the_value(tmp_path: Path) -> None:
    missing = str(tmp_path / "secret-name-of-a-file.yaml")
    message = _problems({"kubeconfig": missing}, frozenset({"kubeconfig"}))
    assert "scone:kubeconfig" in message and "secret-name-of-a-file" not in message


def test_kubeconfig_content_set_as_secret_is_kept_as_content(kubeconfig_file: Path) -> None:
    choice = read_cluster_settings(_raw({"kubeconfig": KUBECONFIG}, frozenset({"kubeconfig"})))
    assert choice.target.content == KUBECONFIG and choice.target.kubeconfig is None


def test_secret_content_that_is_no_kubeconfig_is_refused_without_echoing_it() -> None:
    message = _problems({"kubeconfig": "token: abc\nother: line\n"}, frozenset({"kubeconfig"}))
    assert "scone:kubeconfig (secret) is neither an existing file nor kubeconfig content" in message
    assert "abc" not in message


def test_a_context_the_kubeconfig_does_not_have_is_refused_with_the_ones_it_has(kubeconfig_file: Path) -> None:
    message = _problems({"kubeconfig": str(kubeconfig_file), "kubeContext": "staging"})
    assert "scone:kubeContext: context 'staging' is not in the kubeconfig of scone:kubeconfig (it has: prod-admin)" in (
        message
    )


def test_a_cluster_identity_that_is_no_uid_is_refused_with_the_command_that_prints_one() -> None:
    message = _problems({"clusterIdentity": "prod"})
    assert "scone:clusterIdentity must be the UID" in message
    assert "kubectl get namespace kube-system -o jsonpath='{.metadata.uid}'" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    message = _problems({"kubeconfig": str(tmp_path / "gone"), "kubeContext": "", "clusterIdentity": "x"})
    assert message.count("  - ") == 3


def test_the_spec_does_not_take_the_cluster_keys_for_unknown_ones(
    evaluate_stack: Evaluate, kubeconfig_file: Path
) -> None:
    evaluation = evaluate_stack("dev", kubeconfig=str(kubeconfig_file), kubeContext="prod-admin", clusterIdentity=UID)
    assert evaluation.error is None, evaluation.error


def test_a_misspelt_cluster_key_gets_a_did_you_mean(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", kubeContxt="prod-admin")
    assert evaluation.error is not None and "did you mean 'kubeContext'" in evaluation.error


def test_a_missing_kubeconfig_stops_the_program_before_any_resource(evaluate_stack: Evaluate, tmp_path: Path) -> None:
    evaluation = evaluate_stack("dev", cluster=bare_sgx_cluster(), kubeconfig=str(tmp_path / "gone.yaml"))
    assert evaluation.error is not None and "scone:kubeconfig" in evaluation.error
    assert evaluation.registrations == []


def test_the_credential_free_plan_takes_a_kubeconfig_path_this_machine_lacks_as_written(
    evaluate_stack: Evaluate,
) -> None:
    evaluation = evaluate_stack("dev", kubeconfig="~/.kube/prod-only-on-the-operators-machine.yaml", kubeContext="x")
    assert evaluation.error is None, evaluation.error
    provider = evaluation.one("pulumi:providers:kubernetes", "kubernetes")
    assert provider.inputs["kubeconfig"] == "~/.kube/prod-only-on-the-operators-machine.yaml"


def test_without_settings_every_kubernetes_resource_keeps_the_default_provider(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev")
    assert evaluation.by_type("pulumi:providers:kubernetes") == []
    assert {r.provider for r in evaluation.registrations if r.type.startswith("kubernetes:")} == {""}


def test_with_a_kubeconfig_every_kubernetes_resource_uses_the_explicit_provider(
    evaluate_stack: Evaluate, kubeconfig_file: Path
) -> None:
    evaluation = evaluate_stack("dev", kubeconfig=str(kubeconfig_file), kubeContext="prod-admin")
    provider = evaluation.one("pulumi:providers:kubernetes", "kubernetes")
    assert provider.inputs["kubeconfig"] == str(kubeconfig_file) and provider.inputs["context"] == "prod-admin"
    kubernetes = [r for r in evaluation.registrations if r.custom and r.type.startswith("kubernetes:")]
    assert len(kubernetes) > 5
    # A provider reference is "<provider URN>::<provider id>".
    assert {r.provider.rsplit("::", 1)[0] for r in kubernetes} == {provider.urn}
    kubectl_runners = [r for r in evaluation.registrations if r.type.startswith(DYNAMIC) and "kubectl" in r.inputs]
    kubectl_runners += [evaluation.one(DYNAMIC + "DestroyGuard"), evaluation.one(DYNAMIC + "SconeStatus")]
    assert kubectl_runners and all(
        r.inputs.get("kubeconfig") == str(kubeconfig_file) and r.inputs.get("kubeContext") == "prod-admin"
        for r in kubectl_runners
    )


def test_kubeconfig_content_reaches_provider_and_resources_only_as_a_secret() -> None:
    config = load_stack_config("dev")
    config = dataclasses.replace(
        config,
        values={**config.values, "scone:kubeconfig": KUBECONFIG},
        secret_keys=config.secret_keys | {"scone:kubeconfig"},
    )
    evaluation = evaluate(config)
    assert evaluation.error is None, evaluation.error
    evaluation.one("pulumi:providers:kubernetes", "kubernetes")
    assert evaluation.one(DYNAMIC + "DestroyGuard").inputs.get("kubeconfigContent") is not None
    for registration in evaluation.registrations:
        assert not contains_plain(registration.inputs, "not-a-real-token-but-secret"), registration.urn
    assert not contains_plain(evaluation.outputs, "not-a-real-token-but-secret")
