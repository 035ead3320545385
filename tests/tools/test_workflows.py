"""The GitHub workflows pass actionlint, and say what the project promises about CI.

actionlint (rhysd/actionlint) is built from its Go module into a cache outside the
repository the first time (its PyPI wrapper downloads the binary at install time, which
cannot work here). It checks workflow syntax, expressions, step references, and the
inputs of well-known actions such as pulumi/actions@v6 and actions/github-script.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools.fixture_repo import PROJECT
from tools.plan_diff import COMMENT_MARKER
from tools.revision_plans import stacks_in

ACTIONLINT_VERSION = "v1.7.12"
ACTIONLINT_MODULE = "github.com/rhysd/actionlint/cmd/actionlint"
CACHE = Path(os.environ.get("SCONE_TOOLS_CACHE", Path.home() / ".cache" / "scone-stack")) / "actionlint"
WORKFLOWS = PROJECT / ".github" / "workflows"


#: Every workflow of the repository.
WORKFLOW_NAMES = ["ci.yml", "plan-diff.yml", "preview.yml", "reconcile-drift.yml", "release-backupper.yml"]


@pytest.fixture(scope="module")
def actionlint() -> Path:
    """The actionlint binary, built once from the Go module proxy into the cache."""
    binary = CACHE / ACTIONLINT_VERSION / "actionlint"
    if binary.is_file():
        return binary
    go = shutil.which("go")
    if go is None:
        pytest.fail(f"actionlint is not in {binary.parent} and there is no `go` to build it (make tools needs Go too)")
    env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    built = subprocess.run(
        [go, "install", f"{ACTIONLINT_MODULE}@{ACTIONLINT_VERSION}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0 and binary.is_file(), f"building actionlint failed:\n{built.stderr[-2000:]}"
    return binary


def lint(binary: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), "-no-color", "-oneline", *map(str, files)], capture_output=True, text=True, check=False
    )


def workflow(name: str) -> dict[Any, Any]:
    document: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    return document


def steps(document: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in document["jobs"].values() for step in job["steps"]]


def test_every_workflow_passes_actionlint(actionlint: Path) -> None:
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {path.name for path in files} == set(WORKFLOW_NAMES)
    result = lint(actionlint, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_checks_action_inputs(actionlint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "preview.yml"
    broken.write_text((WORKFLOWS / "preview.yml").read_text().replace("policyPacks: policy", "policyPack: policy"))
    result = lint(actionlint, broken)
    assert result.returncode == 1
    assert 'input "policyPack" is not defined in action "pulumi/actions@v6"' in result.stdout


def test_tests_and_lint_run_on_every_push_through_the_ci_script() -> None:
    document = workflow("ci.yml")
    assert "push" in document[True]  # YAML 1.1 reads the key `on` as True
    assert any(step.get("run") == "bash .ci/run" for step in steps(document))


def test_the_plan_diff_is_one_comment_updated_in_place() -> None:
    document = workflow("plan-diff.yml")
    assert "pull_request" in document[True]
    script = next(step["with"]["script"] for step in steps(document) if "github-script" in step.get("uses", ""))
    assert f"const marker = '{COMMENT_MARKER}';" in script
    assert "updateComment" in script and "createComment" in script
    runs = " ".join(step.get("run", "") for step in steps(document))
    assert "python -m tools.plan_diff --base" in runs and "--head worktree" in runs


def test_the_real_preview_runs_for_each_environment_with_comment_and_policy_pack() -> None:
    document = workflow("preview.yml")
    job = document["jobs"]["preview"]
    matrix = job["strategy"]["matrix"]["include"]
    stacks = {entry["stack"] for entry in matrix}
    assert {"dev", "staging", "prod"} <= stacks <= set(stacks_in(PROJECT))
    assert all(entry["kubeconfig"] == f"KUBECONFIG_{entry['stack'].upper()}" for entry in matrix)
    preview = next(step for step in job["steps"] if step.get("uses", "").startswith("pulumi/actions@"))
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["comment-on-pr"] is True
    assert preview["with"]["policyPacks"] == "policy"
    assert "policy-${{ matrix.stack }}.json" in preview["with"]["policyPackConfigs"]
    assert preview["if"] == "steps.creds.outputs.configured == 'true'"


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_no_secret_or_pull_request_text_is_spliced_into_a_shell_script(name: str) -> None:
    for step in steps(workflow(name)):
        script = step.get("run", "")
        assert "secrets." not in script and "secrets[" not in script, step
        assert "github.event" not in script, step
