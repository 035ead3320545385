"""Validate the raw stack config into a ``SconeSpec`` and the stack's secrets.

Kept apart from the model so that the model stays a plain description of the spec and
this module holds the rules about *where* values may come from: credentials only as
Pulumi secrets, everything else through the model.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from components.cluster_settings import CLUSTER_KEYS
from components.config_errors import SpecError, did_you_mean, explain
from components.config_source import RawConfig
from components.operator_chart import split_nested_credentials
from components.spec import CONFIG_NAMESPACE, SECRET_KEYS, SconeSpec


def validate_spec(raw: RawConfig) -> SconeSpec:
    """The validated spec, or ``SpecError`` listing every problem at once."""
    problems: list[str] = []
    for key in SECRET_KEYS:
        if key in raw.values and key not in raw.secret_keys:
            problems.append(
                f"{CONFIG_NAMESPACE}:{key} is stored in plain text; it is a credential"
                f" ({SECRET_KEYS[key]}). Remove it from {raw.stack_file} and set it with"
                f" `pulumi config set --secret {key} <value>`"
            )
    # The cluster keys are validated by ``cluster_settings``: where the stack runs is not part of the spec.
    values, nested = split_nested_credentials({k: v for k, v in raw.values.items() if k not in CLUSTER_KEYS})
    problems.extend(nested)
    plain = {key: typed_top_level(key, value) for key, value in values.items() if key not in SECRET_KEYS}
    try:
        spec = SconeSpec.model_validate(plain)
    except ValidationError as error:
        problems.extend(explain(error, SconeSpec, CONFIG_NAMESPACE, plain))
        problems = [_with_secret_hint(problem) for problem in problems]
        raise SpecError(raw.stack_file, problems) from None
    problems.extend(_credential_problems(spec, raw))
    problems.extend(spec.operatorChart.credential_problems(raw.values))
    if problems:
        raise SpecError(raw.stack_file, problems)
    return spec


def _credential_problems(spec: SconeSpec, raw: RawConfig) -> list[str]:
    """Store keys are needed exactly when this stack creates a bucket on an S3-compatible store."""
    store_keys = ("s3AccessKeyId", "s3SecretAccessKey")
    creates_compatible_bucket = spec.backup.enabled and spec.backup.s3Creds is None and spec.backup.s3.endpoint
    if creates_compatible_bucket:
        return [
            f"{CONFIG_NAMESPACE}:{key} is required with backup.s3.endpoint: set it with"
            f" `pulumi config set --secret {key} <value>`"
            for key in store_keys
            if key not in raw.values
        ]
    return [
        f"{CONFIG_NAMESPACE}:{key} is set but unused: it is only read when this stack creates a bucket on an"
        " S3-compatible store (backup.s3.endpoint set, backup.s3Creds empty); remove it"
        for key in store_keys
        if key in raw.values
    ]


def typed_top_level(key: str, value: Any) -> Any:
    """Type a top-level scalar by its field: the engine passes ``true`` and ``3600`` as text."""
    field = SconeSpec.model_fields.get(key)
    if field is None or not isinstance(value, str):
        return value
    if field.annotation is bool and value in ("true", "false"):
        return value == "true"
    if field.annotation is int and value.lstrip("-").isdigit():
        return int(value)
    return value


def _with_secret_hint(problem: str) -> str:
    """Unknown top-level keys may be misspelt secret keys: include those in the suggestion."""
    marker = ": unknown key; "
    if marker not in problem or "." in problem.split(marker, maxsplit=1)[0]:
        return problem
    key = problem.split(marker, maxsplit=1)[0].split(":", 1)[1]
    allowed = [field.alias or name for name, field in SconeSpec.model_fields.items()] + list(SECRET_KEYS)
    allowed += list(CLUSTER_KEYS)
    return f"{problem.split(marker, maxsplit=1)[0]}: unknown key{did_you_mean(key, allowed)}"
