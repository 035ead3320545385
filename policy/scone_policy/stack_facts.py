"""What the pack knows about the stack it checks: its production flag and image registry.

Pulumi gives a policy pack the resources, not the program's validated spec. Two facts
matter to the policies, and each is taken from the first source that has it:

1. the pack's policy config (``--policy-pack-config``; CI writes it per stack with
   ``python -m tools.policy_config --stack <s>`` from the validated stack file);
2. the stack config, which recent Pulumi CLIs hand to policy packs (read as
   ``scone:production`` and ``scone:images`` through the Pulumi runtime config);
3. the defaults: not production, and the guide's registry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

DEFAULT_REGISTRY = "mtr.devops.telekom.de/osc/security/confidential-computing"

ConfigLookup = Callable[[str], str | None]


def _runtime_config(key: str) -> str | None:
    value: str | None = pulumi.runtime.get_config(key)
    return value


def _decoded(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def production(policy_config: Mapping[str, Any], lookup: ConfigLookup = _runtime_config) -> bool:
    """True when the stack is marked production (policy config first, then stack config)."""
    if isinstance(policy_config.get("production"), bool):
        return bool(policy_config["production"])
    return _decoded(lookup("scone:production")) is True


def registry(policy_config: Mapping[str, Any], lookup: ConfigLookup = _runtime_config) -> str:
    """The registry path every image must come from."""
    configured = policy_config.get("registry")
    if isinstance(configured, str) and configured:
        return configured.rstrip("/")
    images = _decoded(lookup("scone:images"))
    if isinstance(images, Mapping) and isinstance(images.get("repository"), str) and images["repository"]:
        return str(images["repository"]).rstrip("/")
    return DEFAULT_REGISTRY
