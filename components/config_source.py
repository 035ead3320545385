"""Read every ``scone:`` config key the engine handed to this program.

``pulumi.Config`` only answers for keys one asks for by name, so it cannot tell us about
a misspelt key. The language host passes the whole config map to the SDK
(``set_all_config``, or the ``PULUMI_CONFIG`` environment variable under tests); reading
that map lets the spec reject unknown keys with a "did you mean" instead of ignoring them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config

#: Where the stack files live, relative to the project root (``stackConfigDir`` in Pulumi.yaml).
STACKS_DIR = "stacks"


def stack_file(root: Path, stack: str) -> Path:
    """The stack file of ``stack`` in the project at ``root``."""
    return root / STACKS_DIR / f"Pulumi.{stack}.yaml"


def stack_names(root: Path) -> list[str]:
    """Every stack that has a stack file in the project at ``root``, sorted."""
    return stack_names_in(root / STACKS_DIR)


def stack_names_in(directory: Path) -> list[str]:
    """Every stack whose file ``Pulumi.<stack>.yaml`` is in ``directory``, sorted (none when it is missing)."""
    return sorted(path.name.split(".")[1] for path in directory.glob("Pulumi.*.yaml")) if directory.is_dir() else []


@dataclass(frozen=True)
class RawConfig:
    """The stack's ``scone:`` keys, decoded, plus which of them were set as secrets."""

    values: dict[str, Any]
    secret_keys: frozenset[str] = field(default_factory=frozenset)
    stack_file: str = f"{STACKS_DIR}/Pulumi.<stack>.yaml"


def decode_value(raw: Any) -> Any:
    """Decode one config value the way it was written in YAML.

    The engine hands every value over as a string: maps and lists JSON-encoded, scalars
    as their plain text (``true``, ``3600``, ``1.26`` alike). Only maps and lists are
    decoded here; scalars are typed by the spec field they belong to
    (``spec_loader.typed_top_level``), so that "1.26" stays a string.
    """
    if isinstance(raw, str) and raw.lstrip().startswith(("{", "[")):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def read_raw_config(namespace: str) -> RawConfig:
    """Collect every ``<namespace>:<key>`` from the running Pulumi program's config."""
    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    prefix = f"{namespace}:"
    values = {key[len(prefix) :]: decode_value(value) for key, value in merged.items() if key.startswith(prefix)}
    env_secret_keys = set(runtime_config.get_config_secret_keys_env())
    secret_keys = {
        key for key in values if runtime_config.is_config_secret(prefix + key) or prefix + key in env_secret_keys
    }
    return RawConfig(
        values=values,
        secret_keys=frozenset(secret_keys),
        stack_file=f"{STACKS_DIR}/Pulumi.{pulumi.get_stack()}.yaml",
    )


@dataclass(frozen=True)
class StackSecrets:
    """Credentials from ``pulumi config set --secret``; always secret Outputs, never plain strings."""

    dcap_key: pulumi.Output[str] | None
    s3_access_key_id: pulumi.Output[str] | None
    s3_secret_access_key: pulumi.Output[str] | None
    registry_auth: pulumi.Output[str] | None
    chart_username: pulumi.Output[str] | None = None
    chart_password: pulumi.Output[str] | None = None


def read_secrets(namespace: str) -> StackSecrets:
    """The stack's credentials under ``namespace`` as secret Outputs (None when not configured)."""
    config = pulumi.Config(namespace)
    return StackSecrets(
        dcap_key=config.get_secret("dcapKey"),
        s3_access_key_id=config.get_secret("s3AccessKeyId"),
        s3_secret_access_key=config.get_secret("s3SecretAccessKey"),
        registry_auth=config.get_secret("registryAuth"),
        chart_username=config.get_secret("operatorChart.username"),
        chart_password=config.get_secret("operatorChart.password"),
    )
