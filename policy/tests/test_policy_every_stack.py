"""Every stack file's recorded resources pass the whole pack; breaking one is caught.

The program is evaluated with the mock engine (``tools.mock_engine``), each registration is
turned into the arguments the analyzer would pass, and the pack's config is the one
``tools.policy_config`` writes for that stack (as the CI preview job passes it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel, ResourceValidationPolicy, StackValidationPolicy

from components.config_source import stack_names
from policy.tests.policy_harness import (
    BY_NAME,
    from_registration,
    policy_resource,
    resource_violations,
    stack_violations,
)
from tools.mock_engine import Evaluation, evaluate, load_stack_config
from tools.plan import build_plan
from tools.policy_config import policy_config

ROOT = Path(__file__).resolve().parents[2]
STACKS = stack_names(ROOT)


def pack_violations(evaluation: Evaluation, config: dict[str, dict[str, object]]) -> list[str]:
    """The violations of the mandatory policies (the ones that block a preview)."""
    found: list[str] = []
    for name, policy in BY_NAME.items():
        if policy.enforcement_level != EnforcementLevel.MANDATORY:
            continue
        if isinstance(policy, ResourceValidationPolicy):
            for registration in evaluation.registrations:
                found += [
                    f"{name}: {m}" for m in resource_violations(name, from_registration(registration, config.get(name)))
                ]
        elif isinstance(policy, StackValidationPolicy):
            resources = [policy_resource(r.type, from_registration(r).props, r.name) for r in evaluation.registrations]
            found += [f"{name}: {m}" for m in stack_violations(name, resources, config.get(name))]
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_the_whole_pack(stack: str) -> None:
    config = policy_config(build_plan(stack, ROOT)["spec"])
    evaluation = evaluate(load_stack_config(stack))
    assert evaluation.error is None
    assert pack_violations(evaluation, config) == []


def test_prod_is_checked_as_production_and_fails_without_backups() -> None:
    config = policy_config(build_plan("prod", ROOT)["spec"])
    assert config["production-backups-enabled"] == {"production": True}
    evaluation = evaluate(load_stack_config("prod", overrides={"backup": {"enabled": False}}))
    assert any(v.startswith("production-backups-enabled:") for v in pack_violations(evaluation, config))


def test_a_stack_pulling_from_another_registry_fails_with_the_guides_registry_config() -> None:
    evaluation = evaluate(load_stack_config("dev", overrides={"images": {"repository": "registry.example.com/scone"}}))
    config = policy_config(build_plan("dev", ROOT)["spec"])
    violations = pack_violations(evaluation, config)
    assert violations and all(v.startswith("images-from-configured-registry:") for v in violations)
