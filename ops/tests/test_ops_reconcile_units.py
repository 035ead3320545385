"""The pure parts of the reconciler: redaction, the status record, phases, budgets, durations."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from scone_ops.durations import Duration
from scone_ops.reconcile_status import MANAGED_BY, PhaseExit, StatusRecord, manifest
from scone_ops.reconciler import Budget, intent
from scone_ops.stack_workspace import Deployed

from components.redaction import MASK, Redactor


def test_redactor_masks_known_secret_values_and_credential_looking_text() -> None:
    redact = Redactor.of(["s3cr3t-value-xyz", "ab"])
    text = ("error: s3cr3t-value-xyz rejected\n  scone:dcapKey: secure: v1:AbCdEf0123456789xyz==\n"
            "AWS_SECRET_ACCESS_KEY=abc/def+ghi password: \"hunter22\"\nid AKIAABCDEFGHIJKLMNOP\n"
            "grab bag \x1b[31mblob QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5\x1b[0m and DCAP-0123abcd")
    out = redact(text)
    for leaked in ("s3cr3t-value-xyz", "v1:AbCd", "abc/def+ghi", "hunter22", "AKIAABCDEFGHIJKLMNOP",
                   "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0MTIzNDU2Nzg5", "DCAP-0123abcd", "\x1b["):
        assert leaked not in out, leaked
    assert MASK in out and "rejected" in out and "grab bag" in out  # short values are not masked literally


def test_error_tail_keeps_the_last_lines_bounded() -> None:
    text = "\n".join(f"line {i}" for i in range(100))
    tail = Redactor().error_tail(text)
    assert tail.splitlines()[-1] == "line 99" and len(tail.splitlines()) == 12


def test_status_record_round_trips_through_configmap_data_and_ignores_unknown_keys() -> None:
    record = StatusRecord("prod", "Running", deployedSpec="abc", observedGeneration="7")
    assert StatusRecord.from_data({**record.as_data(), "extra": "x"}) == record
    cm = manifest("ops-ns", record)
    assert cm["metadata"] == {"name": "scone-status", "namespace": "ops-ns", "labels": MANAGED_BY}


@pytest.mark.parametrize(("phase", "last", "expected"), [
    ("Running", "Updating", "Running"), ("Error", "Repairing", "Repairing"), ("", "", "")])
def test_last_success_phase_is_the_previous_phase_but_never_error(phase: str, last: str, expected: str) -> None:
    assert StatusRecord("s", phase, lastSuccessPhase=last).next_success_phase() == expected


def test_every_phase_has_its_own_exit_code() -> None:
    codes = {phase: PhaseExit.of(phase) for phase in ("Running", "Creating", "Updating", "Repairing", "Error")}
    assert codes["Running"] == 0 and len(set(codes.values())) == 5


def test_intent_creating_updating_or_left_to_the_preview() -> None:
    deployed = Deployed(20, {"deployedSpec": "aaa"}, None)
    assert intent(Deployed(0, {}, None), "aaa") == "Creating"
    assert intent(deployed, "bbb") == "Updating"
    assert intent(deployed, "aaa") is None


def test_backoff_doubles_and_is_capped() -> None:
    budget = Budget(5, 10.0)
    assert [budget.pause(n) for n in range(1, 5)] == [10.0, 20.0, 40.0, 80.0]
    assert Budget(10, 100.0).pause(6) == 300.0


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30.0), ("5m", 300.0), ("1h", 3600.0), ("0.5", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert Duration().convert(text, None, None) == seconds


def test_a_bad_duration_names_the_accepted_forms() -> None:
    with pytest.raises(click.BadParameter, match="30s, 5m, 1h"):
        Duration().convert("5 minutes", None, None)


def test_readme_phase_exit_code_table_matches_the_code() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("| code | phase | meaning |", 1)[1].split("\n\n", 1)[0]
    rows = dict(re.findall(r"^\| (\d+) \| (\w+|—) \|", section, flags=re.M))
    assert {int(code): phase for code, phase in rows.items() if phase != "—"} == {
        int(PhaseExit.of(p)): p for p in ("Running", "Creating", "Updating", "Repairing", "Error")}
    assert rows.get("9") == "—" and int(PhaseExit.BUSY) == 9


FAILED_UP = """
 code: 255
 stdout: Updating (local):
    pulumi:pulumi:Stack scone-local running
 ~  kubernetes:helm.sh/v3:Release scone-operator updating (0s) [diff: ~chart]
 ~  kubernetes:helm.sh/v3:Release scone-operator **updating failed** error: chart fetch failed
Diagnostics:
  kubernetes:helm.sh/v3:Release (scone-operator):
    error: failed to pull chart: Get "http://127.0.0.1:9/charts/scone-operator-5.8.0.tgz":
      dial tcp 127.0.0.1:9: connect: connection refused

  pulumi:pulumi:Stack (scone-local):
{warnings}
    error: Resource monitor has terminated, shutting down

Resources:
    11 unchanged
    2 errored

Duration: 4s

 stderr:
"""


@pytest.mark.parametrize("warnings", [0, 3, 30])
def test_error_tail_keeps_the_failing_resources_error_however_much_the_engine_prints_after_it(warnings: int) -> None:
    noise = "\n".join(f"    warning: plugin kubernetes {i} from $PATH" for i in range(warnings))
    text = FAILED_UP.format(warnings=noise)
    kept = Redactor().error_tail(text)
    lines = kept.splitlines()
    assert lines[0].strip() == "kubernetes:helm.sh/v3:Release (scone-operator):"
    assert "127.0.0.1:9" in lines[1] and "connection refused" in lines[2]
    assert lines[-1].strip() == "error: Resource monitor has terminated, shutting down"
    assert "warning:" not in kept and "Resources:" not in kept


def test_error_tail_of_an_error_without_diagnostics_is_its_last_lines() -> None:
    assert Redactor().error_tail("one\ntwo\nfailed: no stack named 'x'") == "one\ntwo\nfailed: no stack named 'x'"
