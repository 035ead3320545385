"""What scripts read: one JSON document on stdout, errors included; people get tables and text."""

from __future__ import annotations

import io
import json

from rich.console import Console
from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import Kubectl
from scone_ops.output import Output
from scone_ops.plan import move_plan
from scone_ops.stack_target import load_target, stack_file_for

PLAN = move_plan(Kubectl(), load_target(stack_file_for("local")), cas_node="n1", zone="z", to=None, steer_away=(),
                 keep_cordoned=False, timeout=600)


def _output(mode: str) -> tuple[Output, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Output(mode, Console(file=out, soft_wrap=True), Console(file=err, soft_wrap=True)), out, err


def test_a_real_run_in_json_mode_prints_one_document_with_its_plan() -> None:
    output, out, _ = _output("json")
    output.plan(PLAN, dry_run=False)
    output.result({"moved": True, **PLAN.as_dict()}, lambda c: None)
    document = json.loads(out.getvalue())
    assert document["moved"] and document["steps"][0]["action"] == "cordon"


def test_dry_run_in_json_mode_is_the_plan_marked_dry() -> None:
    output, out, _ = _output("json")
    output.plan(PLAN, dry_run=True)
    document = json.loads(out.getvalue())
    assert document["dry_run"] is True and len(document["steps"]) == 4


def test_an_error_is_a_json_document_on_stdout_and_text_on_stderr() -> None:
    output, out, err = _output("json")
    output.error(OpsError(ExitCode.REFUSED, "no [other] node", "add one", "nothing changed"))
    assert json.loads(out.getvalue()) == {"error": "no [other] node", "exit_code": 6, "kind": "refused",
                                          "next_step": "add one", "cluster_state": "nothing changed"}
    text = err.getvalue()
    assert "error: no [other] node" in text and "next step: add one" in text and "cluster state" in text


def test_table_mode_shows_each_step_with_its_command() -> None:
    output, out, _ = _output("table")
    output.plan(PLAN, dry_run=True)
    text = out.getvalue()
    assert "DRY RUN, nothing changed" in text and "kubectl cordon n1" in text and "(reads only)" in text
