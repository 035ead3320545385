"""The scheduled drift workflow runs `reconcile --once --detect-only` per stack, fails on drift and
writes a step summary that says what the phase means."""

from __future__ import annotations

from typing import Any

import yaml
from scone_ops.drift_summary import summary

from tests.tools.fixture_repo import PROJECT
from tools.revision_plans import stacks_in

WORKFLOW = PROJECT / ".github" / "workflows" / "reconcile-drift.yml"


def document() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def test_drift_detection_is_scheduled_per_stack_with_its_own_credentials() -> None:
    doc = document()
    assert "schedule" in doc[True] and "workflow_dispatch" in doc[True]  # YAML 1.1 reads `on` as True
    job = doc["jobs"]["drift"]
    matrix = job["strategy"]["matrix"]["include"]
    assert {entry["stack"] for entry in matrix} <= set(stacks_in(PROJECT))
    assert all(entry["kubeconfig"] == f"KUBECONFIG_{entry['stack'].upper()}" for entry in matrix)
    assert job["concurrency"]["cancel-in-progress"] is False  # never cut a running engine off


def test_the_job_runs_detect_only_fails_on_drift_and_writes_a_step_summary() -> None:
    step = next(s for s in document()["jobs"]["drift"]["steps"] if "reconcile" in s.get("run", ""))
    script = step["run"]
    assert "reconcile --once --detect-only --stack \"$STACK\"" in script
    assert "$GITHUB_STEP_SUMMARY" in script and 'exit "$code"' in script
    assert " up" not in script and "--yes" not in script


def test_the_summary_names_the_phase_its_meaning_and_the_changes() -> None:
    text = summary({"stack": "prod", "phase": "Repairing", "changes": {"create": 1}}, 12)
    assert "`prod`: Repairing (exit 12)" in text and "drift" in text and "| create | 1 |" in text
    error = summary({"stack": "dev", "phase": "Error", "error": "CAS missing", "next_step": "recover"}, 13)
    assert "CAS missing" in error and "recover" in error
    assert "lock" in summary({"stack": "dev", "phase": "Running", "busy": True}, 9)
    assert "failed before" in summary({}, 2)
