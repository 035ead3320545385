"""The CasBackupper Deployment and the backupper program agree on their contract.

Why: the two live in different folders and change separately. The Deployment passes its
settings as environment variables and runs the image's entry point with ``loop``; the image
(backupper/Dockerfile) runs as a fixed non-root user with ``HOME=/tmp``. A renamed variable or
a changed port would not fail either side's own tests, only the cluster. Here the rendered
Deployment is fed to the backupper's real settings resolver and CLI parser, and the Dockerfile's
user, port, entry point and home are checked against the pod spec.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from scone_backupper.cli import build_parser
from scone_backupper.settings import SETTINGS, resolve_settings

from components.backupper import BACKUPPER_UID, CREDENTIALS_DIR, METRICS_PORT
from tests.program.conftest import STACKS, Evaluate

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "backupper" / "Dockerfile").read_text()
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def _deployment(evaluate_stack: Evaluate, stack: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """The backupper's pod spec (None for a stack without CAS or backups, checked) and the stack outputs."""
    evaluation = evaluate_stack(stack)
    deployments = evaluation.by_type(DEPLOYMENT)
    if not deployments:
        assert "cas" not in evaluation.outputs or evaluation.outputs["backup"]["enabled"] is False, stack
        return None, evaluation.outputs
    assert len(deployments) == 1, f"{stack}: expected one Deployment, the backupper"
    pod: dict[str, Any] = deployments[0].inputs["spec"]["template"]["spec"]
    return pod, evaluation.outputs


def _final_stage(instruction: str) -> list[str]:
    """Arguments of ``instruction`` lines in the Dockerfile's last stage."""
    last_stage = DOCKERFILE.rsplit("\nFROM ", 1)[1]
    return [m.group(1).strip() for m in re.finditer(rf"^{instruction}\s+(.+)$", last_stage, re.MULTILINE)]


@pytest.mark.parametrize("stack", STACKS)
def test_backupper_program_accepts_the_deployment_settings_and_reads_the_spec_back(
    evaluate_stack: Evaluate, stack: str
) -> None:
    pod, outputs = _deployment(evaluate_stack, stack)
    if pod is None:
        return
    container = pod["containers"][0]
    env = {item["name"]: item["value"] for item in container["env"]}
    known = {setting.env for setting in SETTINGS}
    assert set(env) <= known, f"variables the backupper does not read: {sorted(set(env) - known)}"
    settings = resolve_settings({}, environ=env)
    assert settings.interval_seconds == outputs["backup"]["interval"]
    assert settings.retention_days == outputs["backup"]["retention"]
    assert (settings.cas_name, settings.cas_namespace) == (outputs["cas"]["name"], outputs["cas"]["namespace"])
    assert settings.cas_version == outputs["deployedVersion"]
    assert settings.credentials_dir == Path(CREDENTIALS_DIR)
    assert settings.metrics_port == METRICS_PORT
    assert build_parser().parse_args(container["args"]).command == "loop"


def test_image_user_port_entry_point_and_home_match_the_pod(evaluate_stack: Evaluate) -> None:
    pod, _outputs = _deployment(evaluate_stack, "prod")
    assert pod is not None
    container = pod["containers"][0]
    assert _final_stage("USER") == [f"{BACKUPPER_UID}:{BACKUPPER_UID}"]
    assert container["securityContext"]["runAsUser"] == BACKUPPER_UID
    assert _final_stage("EXPOSE") == [str(METRICS_PORT)]
    assert container["ports"] == [{"name": "metrics", "containerPort": METRICS_PORT}]
    scripts = tomllib.loads((ROOT / "backupper" / "pyproject.toml").read_text())["project"]["scripts"]
    assert _final_stage("ENTRYPOINT") == [f'["{next(iter(scripts))}"]']
    assert "HOME=/tmp" in DOCKERFILE  # kubectl's cache: writable only because the pod mounts /tmp
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]
