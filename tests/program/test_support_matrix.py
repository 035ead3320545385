"""The support matrix is data: every listed version evaluates; Kubernetes ranges are enforced."""

from __future__ import annotations

import pytest

from components import support_matrix
from tests.program.conftest import Evaluate


def test_matrix_lists_the_guides_versions_in_upgrade_order() -> None:
    versions = support_matrix.supported_versions()
    assert versions.index("5.8.0-rc.19") < versions.index("5.8.0")
    assert len(set(versions)) == len(versions)
    assert support_matrix.release("5.8.0").kubernetes_minors() == ["1.24", "1.25", "1.26"]
    assert support_matrix.release("5.8.0-rc.19").kubernetes_minors() == ["1.23", "1.24", "1.25"]


@pytest.mark.parametrize("version", support_matrix.supported_versions())
def test_every_supported_version_evaluates_with_its_own_images(evaluate_stack: Evaluate, version: str) -> None:
    evaluation = evaluate_stack("prod", serviceVersion=version, kubernetesVersion="1.25")
    assert evaluation.error is None
    las = evaluation.one("kubernetes:base.scone.cloud/v1beta1:LAS")
    assert las.inputs["spec"]["image"].endswith(f"/osc-las:{version}")
    assert evaluation.outputs["deployedVersion"] == version


def test_rc19_on_kubernetes_1_26_is_refused(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod", serviceVersion="5.8.0-rc.19", kubernetesVersion="1.26")
    assert evaluation.error is not None
    assert "scone:kubernetesVersion: 1.26 is outside what SCONE 5.8.0-rc.19 supports (1.23-1.25)" in evaluation.error


def test_an_undeclared_kubernetes_version_is_not_checked(evaluate_stack: Evaluate) -> None:
    assert evaluate_stack("prod", serviceVersion="5.8.0-rc.19", kubernetesVersion=None).error is None


def test_a_kubernetes_version_that_is_not_a_version_is_refused(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod", kubernetesVersion="latest")
    assert evaluation.error is not None
    assert "scone:kubernetesVersion: 'latest' is not a Kubernetes version like 1.26 or v1.26.3" in evaluation.error
