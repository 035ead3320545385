"""What the pack knows about the stack it checks: its production flag and image registry.

Pulumi gives a policy pack the resources, not the program's validated spec, and (checked
with CLI v3.274.1 and pulumi-policy 1.21.0) not the stack config either. So both facts come
from the pack's policy config (``--policy-pack-config``, ``policyPackConfigs`` in CI), which
``python -m tools.policy_config --stack <s>`` writes from the validated stack file. Without
it the defaults apply: not production, and the guide's registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.names import DEFAULT_IMAGE_REPOSITORY

#: The registry every image must come from when the policy config names none.
DEFAULT_REGISTRY = DEFAULT_IMAGE_REPOSITORY


def production(policy_config: Mapping[str, Any]) -> bool:
    """True when the policy config marks the stack production."""
    return policy_config.get("production") is True


def registry(policy_config: Mapping[str, Any]) -> str:
    """The registry path every image must come from."""
    configured = policy_config.get("registry")
    if isinstance(configured, str) and configured.strip("/"):
        return configured.rstrip("/")
    return DEFAULT_REGISTRY
