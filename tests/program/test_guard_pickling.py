"""The guard and wait providers are pickled by reference into state and unpickled by the provider process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.guard_providers import CertManagerCheckProvider, StackGuardProvider
from components.webhooks_ready import WebhooksReadyProvider

ROOT = Path(__file__).resolve().parents[2]

UNPICKLE = """
import base64, sys, dill
provider = dill.loads(base64.b64decode(sys.stdin.read()))
print(type(provider).__module__ + "." + type(provider).__qualname__)
"""


PROVIDERS = [StackGuardProvider(), CertManagerCheckProvider(), WebhooksReadyProvider()]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_unpickles_in_a_fresh_process_from_the_project_root(provider: object) -> None:
    pickled = serialize_provider(provider)
    result = subprocess.run(
        [sys.executable, "-c", UNPICKLE], input=pickled, capture_output=True, text=True, cwd=ROOT, check=True
    )
    assert result.stdout.strip() == f"{type(provider).__module__}.{type(provider).__qualname__}"


@pytest.mark.parametrize("provider", PROVIDERS)
def test_provider_is_pickled_by_reference_not_by_value(provider: object) -> None:
    # By reference, the pickle names the class and stays small; by value it would carry bytecode.
    assert len(serialize_provider(provider)) < 200
