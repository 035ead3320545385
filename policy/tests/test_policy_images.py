"""images-from-configured-registry: containers, SCONE CRs and Helm values pull from one registry."""

from __future__ import annotations

from typing import Any

import pytest

from policy.scone_policy import stack_facts
from policy.tests.policy_harness import resource_args, resource_violations

POLICY = "images-from-configured-registry"
GUIDE = stack_facts.DEFAULT_REGISTRY


def pod(image: str) -> dict[str, Any]:
    return {"spec": {"template": {"spec": {"containers": [{"name": "main", "image": image}]}}}}


CASES = [
    ("kubernetes:apps/v1:Deployment", pod),
    ("kubernetes:base.scone.cloud/v1beta1:LAS", lambda image: {"spec": {"image": image}}),
    ("kubernetes:services.scone.cloud/v1beta1:CAS", lambda image: {"spec": {"image": image}}),
    ("kubernetes:helm.sh/v3:Release", lambda image: {"values": {"image": image}}),
    ("kubernetes:helm.sh/v3:Release", lambda image: {"values": {"sub": {"image": {"repository": image}}}}),
]


@pytest.mark.parametrize(("resource_type", "props"), CASES)
def test_an_image_from_the_guides_registry_passes_by_default(resource_type: str, props: Any) -> None:
    args = resource_args(resource_type, props(f"{GUIDE}/osc-las:5.8.0"))
    assert resource_violations(POLICY, args) == []


@pytest.mark.parametrize(("resource_type", "props"), CASES)
def test_an_image_from_elsewhere_is_a_violation_naming_image_and_registry(resource_type: str, props: Any) -> None:
    args = resource_args(resource_type, props("docker.io/library/busybox:1"))
    [message] = resource_violations(POLICY, args)
    assert "docker.io/library/busybox:1" in message and f"{GUIDE}/" in message


def test_the_configured_registry_replaces_the_default() -> None:
    config = {"registry": "registry.example.com/scone/"}
    ours = resource_args(
        "kubernetes:base.scone.cloud/v1beta1:LAS",
        {"spec": {"image": "registry.example.com/scone/las:1"}},
        config=config,
    )
    guide = resource_args(
        "kubernetes:base.scone.cloud/v1beta1:LAS", {"spec": {"image": f"{GUIDE}/las:1"}}, config=config
    )
    assert resource_violations(POLICY, ours) == []
    assert resource_violations(POLICY, guide)


def test_a_registry_prefix_must_end_at_a_path_boundary() -> None:
    args = resource_args("kubernetes:base.scone.cloud/v1beta1:LAS", {"spec": {"image": f"{GUIDE}-evil/las:1"}})
    assert resource_violations(POLICY, args)


def test_without_policy_config_the_guides_registry_applies() -> None:
    assert stack_facts.registry({}) == GUIDE
    assert stack_facts.registry({"registry": "/"}) == GUIDE
    assert stack_facts.registry({"registry": "other.example/x/"}) == "other.example/x"
