"""Fixtures for evaluating the program under Pulumi's mock engine."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tools.mock_engine import Evaluation, evaluate, load_stack_config

STACKS = sorted(
    path.name.split(".")[1] for path in (Path(__file__).resolve().parents[2] / "stacks").glob("Pulumi.*.yaml")
)

Evaluate = Callable[..., Evaluation]


@pytest.fixture
def evaluate_stack() -> Evaluate:
    """Evaluate a stack file, optionally with config overrides (keys without the scone: prefix)."""

    def run(stack: str = "dev", preview: bool = False, **overrides: Any) -> Evaluation:
        return evaluate(load_stack_config(stack, overrides=overrides), preview=preview)

    return run
