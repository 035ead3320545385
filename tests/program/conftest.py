"""Fixtures for evaluating the program under Pulumi's mock engine."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.config_source import stack_names
from components.live_cluster import ClusterView
from tools.mock_engine import ROOT, Evaluation, evaluate, load_stack_config

STACKS = stack_names(ROOT)

Evaluate = Callable[..., Evaluation]


@pytest.fixture
def evaluate_stack() -> Evaluate:
    """Evaluate a stack file, optionally with config overrides (keys without the scone: prefix).

    ``cluster`` is what the program reads of the live cluster; without it, no cluster (offline).
    """

    def run(
        stack: str = "dev", preview: bool = False, cluster: ClusterView | None = None, **overrides: Any
    ) -> Evaluation:
        return evaluate(load_stack_config(stack, overrides=overrides), preview=preview, cluster=cluster)

    return run
