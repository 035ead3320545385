"""The backupper release workflow builds both platforms with the tested script, under the name the program pulls.

actionlint checks the workflow's syntax and action inputs (tests/tools/test_workflows.py);
these tests check what it promises: the image name the backupper Deployment expects, both
platforms, keyless cosign signing of the pushed digest and an SBOM attestation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from components.spec import SconeSpec

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release-backupper.yml"


def workflow() -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return document


def job() -> dict[str, Any]:
    value: dict[str, Any] = workflow()["jobs"]["image"]
    return value


def runs() -> str:
    return "\n".join(step.get("run", "") for step in job()["steps"])


def test_the_pushed_name_with_the_default_inputs_is_the_image_the_program_pulls() -> None:
    inputs = workflow()[True]["workflow_dispatch"]["inputs"]  # YAML 1.1 reads the key `on` as True
    spec = SconeSpec.model_validate({"serviceVersion": "5.8.0"})
    image = (
        job()["env"]["IMAGE"]
        .replace("${{ inputs.repository }}", inputs["repository"]["default"])
        .replace("${{ inputs.prefix }}", inputs["prefix"]["default"])
    )
    assert job()["env"]["VERSION"] == "${{ inputs.version }}"
    assert f"{image}:5.8.0" == spec.backupper_image
    assert (inputs["repository"]["default"], inputs["prefix"]["default"]) == (
        spec.images.repository,
        spec.images.prefix,
    )


def test_both_platforms_are_built_by_the_tested_script_and_pushed() -> None:
    script = runs()
    assert "backupper/image/build_image.sh --platform linux/amd64 --platform linux/arm64" in script
    assert '--push "$IMAGE:$VERSION"' in script
    assert "e2e/build_tools.sh image" in script
    assert job()["env"]["SCONE_IMAGE_ARCHES"].split() == ["amd64", "arm64"]


def test_the_pushed_digest_is_signed_keyless_and_gets_an_sbom_attestation() -> None:
    assert job()["permissions"]["id-token"] == "write"
    script = runs()
    assert 'cosign sign --yes --recursive "$IMAGE@$DIGEST"' in script
    assert 'cosign attest --yes --type spdxjson --predicate sbom.spdx.json "$IMAGE@$DIGEST"' in script
    assert "--key" not in script
    sbom = next(step for step in job()["steps"] if step.get("uses", "").startswith("anchore/sbom-action@"))
    assert sbom["with"]["image"] == "${{ env.IMAGE }}@${{ steps.build.outputs.digest }}"
    assert sbom["with"]["output-file"] == "sbom.spdx.json"


def test_registry_credentials_reach_the_login_only_through_the_environment() -> None:
    login = next(step for step in job()["steps"] if step.get("name") == "Log in to the registry")
    assert set(login["env"]) == {"REGISTRY_USERNAME", "REGISTRY_PASSWORD"}
    assert "--password-stdin" in login["run"] and "secrets." not in login["run"]
