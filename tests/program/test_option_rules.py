"""The option rules every resource of every stack follows (``components.options``).

Walks every registration the engine receives, in every stack file and in the shapes the
stack files do not show (owner operations with vault, a recovery, an S3-compatible store,
an existing backupper Secret, monitoring): each resource is parented to a component, waits for the stack guard, and
what holds data is protected and retained. A new child built without ``options.child``
breaks one of these, whichever component it is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.options import child
from components.owner.resources import CasVersionGate
from tests.program.conftest import STACKS
from tools.mock_engine import Evaluation, Registration, StackConfig, evaluate, load_stack_config, secret_sentinel

GUARD = "pulumi-python:dynamic/scone:StackGuard"
DESTROY_GUARD = "pulumi-python:dynamic/scone:DestroyGuard"
OWNER = "pulumi-python:dynamic/scone:"
OWNER_TYPES = ("CasUpgrade", "CasVersionGate", "CasProvisioning", "CasRecovery", "VaultProvisioning")
CAS = "kubernetes:services.scone.cloud/v1beta1:CAS"
TOP_LEVEL = {GUARD, DESTROY_GUARD, "pulumi-python:dynamic/scone:SconeStatus"}  # stack-wide, like the guards


def with_secrets(stack: str, keys: tuple[str, ...], overrides: dict[str, Any]) -> StackConfig:
    config = load_stack_config(stack, overrides=overrides)
    values = {**config.values, **{f"scone:{key}": secret_sentinel(key) for key in keys}}
    return StackConfig(stack, values, config.secret_keys | {f"scone:{key}" for key in keys})


def owner_settings(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    (tmp_path / "owner").mkdir(exist_ok=True)
    return {"enabled": True, "targetDir": str(tmp_path / "owner"), "backupDir": str(tmp_path / "backups"), **extra}


def shapes(tmp_path: Path) -> Iterator[tuple[str, StackConfig]]:
    """Every stack file as it is, then the shapes that register the other resources."""
    for stack in STACKS:
        yield stack, load_stack_config(stack)
    yield (
        "prod+owner+vault",
        with_secrets("prod", ("dcapKey",), {"provisioning": owner_settings(tmp_path, vault={"enabled": True})}),
    )
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir(exist_ok=True)
    yield (
        "prod+recovery",
        with_secrets(
            "prod",
            ("dcapKey",),
            {
                "managementState": "Unmanaged",
                "provisioning": owner_settings(tmp_path, recovery={"snapshotDir": str(snapshot)}),
            },
        ),
    )
    yield "dev+existing-secret", load_stack_config("dev", overrides={"backup": {"s3": {"useExistingSecret": True}}})
    yield (
        "dev+s3-compatible+monitoring",
        with_secrets(
            "dev",
            ("s3AccessKeyId", "s3SecretAccessKey", "registryAuth"),
            {
                "backup": {"s3": {"endpoint": "http://127.0.0.1:9000", "forcePathStyle": True}},
                "monitoring": {"enabled": True},
            },
        ),
    )


@pytest.fixture(scope="module")
def evaluations(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, Evaluation]]:
    found = []
    for label, config in shapes(tmp_path_factory.mktemp("shapes")):
        evaluation = evaluate(config)
        assert evaluation.error is None, (label, evaluation.error)
        found.append((label, evaluation))
    return found


def guard_of(evaluation: Evaluation) -> Registration:
    return evaluation.one(GUARD)


def waits_for(evaluation: Evaluation, resource: Registration, target: str) -> bool:
    """True when ``target`` is among ``resource``'s dependencies, directly or through theirs.

    Only the dependencies the engine was told count (the SDK has already expanded a
    dependency on a component into its children there); a ``depends_on`` on a parent
    component is not one of them, which is the mistake this rule exists to catch.
    """
    by_urn = {r.urn: r for r in evaluation.registrations}
    seen: set[str] = set()
    todo = list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn == target:
            return True
        if urn in seen or urn not in by_urn:
            continue
        seen.add(urn)
        todo.extend(by_urn[urn].dependencies)
    return False


def holds_data(evaluation: Evaluation, resource: Registration) -> bool:
    """The CAS CR (its volumes go with it), the namespace holding it, the bucket and its versioning."""
    if resource.type in (CAS, "aws:s3/bucket:Bucket", "aws:s3/bucketVersioning:BucketVersioning"):
        return True
    if resource.type == "kubernetes:core/v1:Namespace" and evaluation.by_type(CAS):
        cas_namespace = evaluation.one(CAS).inputs["metadata"]["namespace"]
        return bool(resource.inputs["metadata"]["name"] == cas_namespace)
    return False


def test_the_walk_covers_every_owner_resource_type(evaluations: list[tuple[str, Evaluation]]) -> None:
    registered = {r.type for _, evaluation in evaluations for r in evaluation.registrations}
    assert {OWNER + name for name in OWNER_TYPES} <= registered
    assert "pulumi:providers:aws" in registered and "aws:iam/accessKey:AccessKey" in registered


def test_every_resource_but_the_guards_is_a_child_of_a_component(evaluations: list[tuple[str, Evaluation]]) -> None:
    for label, evaluation in evaluations:
        components = {r.urn for r in evaluation.registrations if not r.custom}
        for resource in evaluation.registrations:
            if resource.custom and resource.type not in TOP_LEVEL:
                assert resource.parent in components, (label, resource.urn, resource.parent)


def test_every_resource_waits_for_the_stack_guard(evaluations: list[tuple[str, Evaluation]]) -> None:
    for label, evaluation in evaluations:
        guard = guard_of(evaluation)
        for resource in evaluation.registrations:
            if resource.custom and resource.urn != guard.urn:
                assert waits_for(evaluation, resource, guard.urn), (label, resource.urn, resource.dependencies)


def test_every_owner_resource_depends_on_the_stack_guard_itself(evaluations: list[tuple[str, Evaluation]]) -> None:
    checked = 0
    for label, evaluation in evaluations:
        guard = guard_of(evaluation)
        for resource in evaluation.registrations:
            if resource.type.startswith(OWNER) and resource.type.removeprefix(OWNER) in OWNER_TYPES:
                assert guard.urn in resource.dependencies, (label, resource.urn, resource.dependencies)
                checked += 1
    assert checked >= 10


def test_everything_that_holds_data_is_protected_and_retained(evaluations: list[tuple[str, Evaluation]]) -> None:
    checked = 0
    for label, evaluation in evaluations:
        for resource in evaluation.registrations:
            if holds_data(evaluation, resource):
                assert resource.protect is True and resource.retain_on_delete is True, (label, resource.urn)
                checked += 1
    assert checked >= len(STACKS)


def test_an_owner_resource_outside_a_guarded_component_is_refused() -> None:
    def build() -> dict[str, Any]:
        CasVersionGate("loose-gate", {"casName": "cas"}, pulumi.ResourceOptions())
        return {}

    with pytest.raises(TypeError, match="would not wait for the stack guard"):
        evaluate(StackConfig("loose", {}, frozenset()), program=build)


def test_child_refuses_a_parent_that_is_not_a_waiting_component() -> None:
    def build() -> dict[str, Any]:
        plain = pulumi.ComponentResource("test:index:Plain", "plain")
        child(plain)
        return {}

    with pytest.raises(TypeError, match="needs a WaitingComponent as parent"):
        evaluate(StackConfig("plain", {}, frozenset()), program=build)
