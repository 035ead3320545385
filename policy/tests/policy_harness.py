"""Run the pack's validate functions the way the Pulumi engine calls them, and collect violations.

``resource_args`` builds the ``ResourceValidationArgs`` the analyzer would build;
``from_registration`` turns a mock-engine registration (``tools.mock_engine``) into one, so
a whole stack's recorded resources can be fed through the pack without a CLI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policy.scone_policy.policies import POLICIES
from tools.mock_engine import SECRET_MARK, SECRET_SIG, Registration

BY_NAME: dict[str, Policy] = {policy.name: policy for policy in POLICIES}


def options(protect: bool = False, parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def resource_args(
    resource_type: str,
    props: Mapping[str, Any],
    name: str = "r",
    protect: bool = False,
    config: Mapping[str, Any] | None = None,
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource_type, props, f"urn:pulumi:t::scone::{resource_type}::{name}", name, options(protect), None, config
    )


def unwrap_secrets(value: Any) -> Any:
    """The analyzer hands policies secret values unwrapped; do the same with mock-engine inputs."""
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG) == SECRET_MARK:
            return unwrap_secrets(value.get("value"))
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [unwrap_secrets(item) for item in value]
    return value


def from_registration(registration: Registration, config: Mapping[str, Any] | None = None) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        registration.type,
        unwrap_secrets(registration.inputs),
        registration.urn,
        registration.name,
        options(registration.protect, registration.parent),
        None,
        config,
    )


def policy_resource(resource_type: str, props: Mapping[str, Any], name: str = "r") -> PolicyResource:
    urn = f"urn:pulumi:t::scone::{resource_type}::{name}"
    return PolicyResource(resource_type, props, urn, name, options(), None, None, [], {})


def collector(found: list[str]) -> ReportViolation:
    """A report_violation callback that keeps the messages."""

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    return report


def resource_violations(policy_name: str, args: ResourceValidationArgs) -> list[str]:
    policy = BY_NAME[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    found: list[str] = []
    policy.validate(args, collector(found))
    return found


def stack_violations(
    policy_name: str, resources: Sequence[PolicyResource], config: Mapping[str, Any] | None = None
) -> list[str]:
    policy = BY_NAME[policy_name]
    assert isinstance(policy, StackValidationPolicy)
    found: list[str] = []
    policy.validate(StackValidationArgs(list(resources), config), collector(found))
    return found
