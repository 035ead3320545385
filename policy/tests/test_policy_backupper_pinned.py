"""production-backupper-image-pinned: a production backupper runs its image pinned by digest."""

from __future__ import annotations

from pathlib import Path

from pulumi_policy import PolicyResource

from policy.scone_policy import stack_facts
from policy.tests.policy_harness import from_registration, policy_resource, stack_violations
from tools.mock_engine import evaluate, load_stack_config
from tools.plan import build_plan
from tools.policy_config import policy_config

POLICY = "production-backupper-image-pinned"
ROOT = Path(__file__).resolve().parents[2]
NAME = f"{stack_facts.DEFAULT_REGISTRY}/osc-scone-cas-db-backupper"
DIGEST = "sha256:" + "0123456789abcdef" * 4
PRODUCTION = {"production": True}


def backupper(image: str, name: str = "scone-cas-db-backupper") -> PolicyResource:
    props = {
        "metadata": {"name": name},
        "spec": {"template": {"spec": {"containers": [{"name": "backupper", "image": image}]}}},
    }
    return policy_resource("kubernetes:apps/v1:Deployment", props, name)


def test_a_production_backupper_pinned_by_digest_passes() -> None:
    assert stack_violations(POLICY, [backupper(f"{NAME}:5.8.0@{DIGEST}")], PRODUCTION) == []
    assert stack_violations(POLICY, [backupper(f"{NAME}@{DIGEST}")], PRODUCTION) == []


def test_a_production_backupper_by_tag_only_is_a_violation_saying_what_to_set() -> None:
    [message] = stack_violations(POLICY, [backupper(f"{NAME}:5.8.0")], PRODUCTION)
    assert f"'{NAME}:5.8.0'" in message and "backup.image" in message and "@sha256:" in message


def test_a_malformed_digest_does_not_count_as_pinned() -> None:
    for image in (f"{NAME}:5.8.0@sha256:abc", f"{NAME}@sha512:{'0' * 64}", f"{NAME}:5.8.0@{DIGEST.upper()}"):
        assert stack_violations(POLICY, [backupper(image)], PRODUCTION), image


def test_stacks_not_marked_production_and_other_deployments_are_not_checked() -> None:
    assert stack_violations(POLICY, [backupper(f"{NAME}:5.8.0")], {"production": False}) == []
    assert stack_violations(POLICY, [backupper(f"{NAME}:5.8.0")], None) == []
    assert stack_violations(POLICY, [backupper("other:1", name="something-else")], PRODUCTION) == []


def test_the_prod_stack_is_checked_and_pinning_backup_image_satisfies_it() -> None:
    config = policy_config(build_plan("prod", ROOT)["spec"])
    assert config[POLICY] == {"production": True}
    for image, expected in ((None, 1), (f"{NAME}:5.8.0@{DIGEST}", 0)):
        overrides = {"backup": {"image": image}} if image else {}
        evaluation = evaluate(load_stack_config("prod", overrides=overrides))
        assert evaluation.error is None
        resources = [policy_resource(r.type, from_registration(r).props, r.name) for r in evaluation.registrations]
        assert len(stack_violations(POLICY, resources, config[POLICY])) == expected, image
