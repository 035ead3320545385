"""Every built-in Kubernetes object the program renders is valid for each Kubernetes version
its SCONE release supports (strict mode).

kubernetes-validate is pinned at 1.28.0: the newest release that still ships schemas for every
Kubernetes minor in the support matrix (1.20-1.28; 1.37.0 starts at 1.25). It uses deprecated
pkg_resources/distutils/jsonschema APIs, hence the warning filter below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from components import support_matrix
from tests.program.conftest import STACKS
from tools.mock_engine import SECRET_MARK, SECRET_SIG, evaluate, load_stack_config

#: Built-in kinds: their type token starts with one of these API groups.
BUILT_IN = ("kubernetes:core/", "kubernetes:apps/", "kubernetes:rbac.authorization.k8s.io/", "kubernetes:policy/")


def plain(value: Any) -> Any:
    """The value with secret wrappers unwrapped (schemas know nothing of Pulumi secrets)."""
    if isinstance(value, dict):
        if value.get(SECRET_SIG) == SECRET_MARK:
            return plain(value["value"])
        return {key: plain(item) for key, item in value.items() if not key.startswith("__")}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


SCHEMAS = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def has_schema(version: str) -> bool:
    """kubernetes-validate ships strict schemas per minor version."""
    return (SCHEMAS / f"v{version}.0-local-strict").is_dir()


def cases() -> list[tuple[str, str, str]]:
    found = []
    for stack in STACKS:
        config = load_stack_config(stack)
        version = config.values["scone:serviceVersion"]
        for kubernetes in support_matrix.release(version).kubernetes_minors():
            found.append((stack, version, kubernetes))
    return found


def test_schemas_exist_for_every_supported_kubernetes_of_every_release() -> None:
    for release in support_matrix.releases():
        missing = [minor for minor in release.kubernetes_minors() if not has_schema(minor)]
        assert not missing, f"{release.version}: kubernetes-validate has no schema for Kubernetes {missing}"


@pytest.mark.parametrize(("stack", "version", "kubernetes"), cases())
def test_rendered_objects_are_valid_kubernetes(stack: str, version: str, kubernetes: str) -> None:
    evaluation = evaluate(load_stack_config(stack))
    objects = [r for r in evaluation.registrations if r.type.startswith(BUILT_IN) and not r.read]
    assert objects
    for registration in objects:
        manifest = plain(registration.inputs)
        try:
            kubernetes_validate.validate(manifest, kubernetes, strict=True)
        except kubernetes_validate.ValidationError as error:
            first_line = str(error).splitlines()[0]
            pytest.fail(f"{registration.type} {registration.name} is invalid on Kubernetes {kubernetes}: {first_line}")
