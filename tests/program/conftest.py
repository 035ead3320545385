"""Fixtures for evaluating the program under Pulumi's mock engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.config_source import stack_names
from tools.mock_engine import ROOT, Evaluation, evaluate, load_stack_config

STACKS = stack_names(ROOT)

Evaluate = Callable[..., Evaluation]


@pytest.fixture
def evaluate_stack() -> Evaluate:
    """Evaluate a stack file, optionally with config overrides (keys without the scone: prefix)."""

    def run(stack: str = "dev", preview: bool = False, **overrides: Any) -> Evaluation:
        return evaluate(load_stack_config(stack, overrides=overrides), preview=preview)

    return run
