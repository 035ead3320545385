"""The Scone status record (one shape for `pulumi up` and `scone-ops reconcile`) and the program's
`SconeStatus` resource as the engine receives it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pulumi.dynamic.dynamic import serialize_provider

from components.scone_status import Deployment, StatusRecord, canonical_spec, digest_of, masked
from components.status_provider import SconeStatusProvider
from tests.program.conftest import Evaluate
from tests.program.test_resource_options import with_secrets
from tools.mock_engine import contains_plain, evaluate, secret_sentinel

ROOT = Path(__file__).resolve().parents[2]
STATUS = "pulumi-python:dynamic/scone:SconeStatus"
FACTS = Deployment(version="5.8.0", spec_digest="d1", spec_document="{}", management_state="Managed")


def test_entering_a_phase_keeps_the_phase_left_as_last_success_and_never_error() -> None:
    running = StatusRecord("prod", "Running")
    repairing = running.entering("prod", "Repairing", attempts=1)
    assert (repairing.phase, repairing.lastSuccessPhase, repairing.attempts) == ("Repairing", "Running", "1")
    failed = repairing.entering("prod", "Error", error="boom")
    assert (failed.lastSuccessPhase, failed.lastError, failed.attempts) == ("Repairing", "boom", "1")
    back = failed.entering("prod", "Running", attempts=0)
    assert (back.lastSuccessPhase, back.lastError) == ("Repairing", "")
    assert back.entering("prod", "Running").lastSuccessPhase == "Repairing", "staying in a phase is no transition"


def test_the_generation_moves_only_when_the_deployed_spec_changes() -> None:
    first = StatusRecord("prod", "Running").deployed(FACTS)
    assert first.observedGeneration == "1" and first.lastUpdate.endswith("Z")
    assert first.deployed(FACTS).observedGeneration == "1", "a repair deploys the same spec"
    changed = Deployment("5.8.0", "d2", '{"x":1}', "Managed")
    assert first.deployed(changed).observedGeneration == "2"
    assert StatusRecord("prod", "Error", observedGeneration="7").deployed(FACTS).observedGeneration == "8"


def test_a_record_shows_the_facts_only_when_running_on_exactly_them() -> None:
    record = StatusRecord("prod", "Running").deployed(FACTS)
    assert record.shows(FACTS)
    assert not record.entering("prod", "Error").shows(FACTS)
    assert not record.shows(Deployment("5.8.1", "d1", "{}", "Managed"))
    assert not record.shows(Deployment("5.8.0", "d1", "{}", "Unmanaged"))


def test_masking_replaces_known_secret_values_but_not_short_ones() -> None:
    assert masked('{"a":"hunter22","b":"ab"}', ["hunter22", "ab"]) == '{"a":"[redacted]","b":"ab"}'


def test_changed_inputs_are_a_diff_without_reading_the_cluster() -> None:
    olds = {"stack": "prod", "namespace": "ops", "deployedVersion": "5.8.0", "deployedSpec": "d1",
            "deployedSpecDocument": "{}", "managementState": "Managed"}
    diff = SconeStatusProvider().diff("scone-status", olds, {**olds, "deployedSpec": "d2"})
    assert diff.changes is True and not diff.replaces


def test_the_status_provider_is_pickled_by_reference_and_unpickles_from_the_project_root() -> None:
    pickled = serialize_provider(SconeStatusProvider())
    assert len(pickled) < 200
    code = "import base64,sys,dill; p=dill.loads(base64.b64decode(sys.stdin.read())); print(type(p).__module__)"
    done = subprocess.run([sys.executable, "-c", code], input=pickled, capture_output=True, text=True, cwd=ROOT,
                          check=True)
    assert done.stdout.strip() == "components.status_provider"


def test_the_status_is_declared_after_every_other_resource_and_before_the_destroy_guard(
        evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    status = evaluation.one(STATUS)
    guard = evaluation.one("pulumi-python:dynamic/scone:DestroyGuard")
    assert status.urn in guard.dependencies
    resources = {r.urn for r in evaluation.registrations
                 if r.custom and not r.read and r.urn not in (status.urn, guard.urn)
                 and not r.type.startswith("pulumi:providers:")}
    assert resources and resources <= set(status.dependencies), resources - set(status.dependencies)


def test_the_status_inputs_are_the_deployed_facts_of_the_spec(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    spec = evaluation.spec
    assert spec is not None
    inputs = evaluation.one(STATUS).inputs
    assert inputs["deployedSpec"] == digest_of(canonical_spec(spec)) == evaluation.outputs["deployedSpec"]
    assert inputs["deployedVersion"] == spec.serviceVersion
    assert inputs["namespace"] == spec.namespaces.operator
    assert json.loads(inputs["deployedSpecDocument"])["serviceVersion"] == spec.serviceVersion
    assert inputs.get("lastUpdate") is None and "lastReconcile" not in inputs, "a time input would diff every preview"


def test_the_status_inputs_hold_no_secret_even_when_one_is_set() -> None:
    keys = ("dcapKey", "registryAuth")
    evaluation = evaluate(with_secrets("prod", *keys))
    inputs = evaluation.one(STATUS).inputs
    for key in keys:
        assert not contains_plain(inputs, secret_sentinel(key)), key
        assert secret_sentinel(key) not in json.dumps(inputs, default=str), key
