"""The Pulumi program: read the stack config, validate it, declare the stack, export its status.

``declare`` is the one program body. ``__main__.py`` runs it through ``main`` under the
Pulumi CLI; the mock engine (``tools.mock_engine``), and through it the plan tools, the
tests and the benchmark, run the same function, so a pull request's plan shows what
``pulumi up`` would declare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from components.chart_access import ChartAccessError, check_chart_access
from components.config_errors import SpecError
from components.config_source import read_raw_config
from components.live_checks import PlacementError
from components.live_cluster import ClusterView, KubectlView
from components.spec import CONFIG_NAMESPACE, SconeSpec
from components.spec_loader import read_secrets, validate_spec
from components.stack import build_stack, stack_outputs


@dataclass(frozen=True)
class Declared:
    """What one evaluation of the program declared: the validated spec and the stack outputs."""

    spec: SconeSpec
    outputs: dict[str, Any]


def declare(cluster: ClusterView) -> Declared:
    """Validate the stack config and declare every resource, reading ``cluster`` (read-only) for what
    is already there; a bad config raises ``SpecError``, a chart repository that refuses the stack's
    credentials ``ChartAccessError``, an unsafe CAS placement ``PlacementError``."""
    raw = read_raw_config(CONFIG_NAMESPACE)
    spec = validate_spec(raw)
    check_chart_access(spec.operatorChart, spec.serviceVersion, raw.values)
    stack = build_stack(spec, read_secrets(), cluster)
    return Declared(spec=spec, outputs=stack_outputs(stack))


def main() -> None:
    """Run the program against the kubeconfig's cluster; a refusal ends it with the message, not a traceback."""
    try:
        declared = declare(KubectlView())
    except (SpecError, ChartAccessError, PlacementError) as error:
        raise pulumi.RunError(str(error)) from None
    for key, value in declared.outputs.items():
        pulumi.export(key, value)
