"""The strict pydantic base of every stack-config section.

Why a module of its own: the spec (``components.spec``) and the owner settings
(``components.owner.config``, which the spec embeds) must refuse the same things — unknown keys
and values of the wrong type (``"5"`` for a number, ``"true"`` for a boolean) — and the spec
imports the owner settings, so the base cannot live in the spec without an import cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class StrictModel(BaseModel):
    """Base for every spec section: camelCase keys, no unknown keys, no type coercion."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        strict=True,
        frozen=True,
    )
