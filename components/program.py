"""The Pulumi program: read the stack config, validate it, declare the stack, export its status.

Kept out of ``__main__.py`` so that tests, the plan tool and the benchmark run exactly the
same program under the in-process mock engine.
"""

from __future__ import annotations

import pulumi

from components.config_errors import SpecError
from components.config_source import read_raw_config
from components.spec import CONFIG_NAMESPACE
from components.spec_loader import read_secrets, validate_spec
from components.stack import build_stack, stack_outputs
from components.support_matrix import TEST_ONLY_KUBERNETES_OVERRIDE_ENV, test_only_kubernetes_overrides


def main() -> None:
    """Run the program; a config error ends it cleanly with the message, not a traceback."""
    raw = read_raw_config(CONFIG_NAMESPACE)
    try:
        spec = validate_spec(raw)
    except SpecError as error:
        raise pulumi.RunError(str(error)) from None
    if test_only_kubernetes_overrides():
        pulumi.log.warn(
            f"{TEST_ONLY_KUBERNETES_OVERRIDE_ENV} is set: the support-matrix check accepts Kubernetes versions"
            " outside SCONE's tested range. This is for the e2e harness only."
        )
    stack = build_stack(spec, read_secrets())
    for key, value in stack_outputs(stack).items():
        pulumi.export(key, value)
