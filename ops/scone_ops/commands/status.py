"""`scone-ops status`: the recorded reconcile status, as `kubectl get scone` showed it.

Reads only the ConfigMap `scone-status` in the stack's operator namespace (no Pulumi state, no
credentials), and exits with the phase's code so that scripts can branch on it.
"""

from __future__ import annotations

import calendar
import time
from pathlib import Path

import click
from rich.console import Console

from scone_ops.context import Ops, common_options
from scone_ops.errors import ExitCode, OpsError
from scone_ops.output import table
from scone_ops.reconcile_status import CONFIGMAP, PHASES, PhaseExit, read_status
from scone_ops.stack_target import load_spec, stack_file_for


def age(stamp: str) -> str:
    """kubectl-style age of an ISO UTC time (`42s`, `5m`, `3h`, `2d`)."""
    try:
        seconds = int(time.time() - calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


@click.command(name="status")
@click.option("--namespace", "-n", metavar="NS", help="Operator namespace (default: from the stack file).")
@common_options
def group(ops: Ops, namespace: str | None) -> int:
    """Print the stack's status (phase, versions, last error) and exit with its phase's code.

    \b
    Exit codes: 0 Running, 10 Creating, 11 Updating, 12 Repairing, 13 Error,
    5 no status recorded yet (neither a reconcile nor a `pulumi up` ran), 3/4 stack file or kubectl problem.
    """
    if namespace is None:
        if ops.stack_file is None and ops.stack is None:
            raise OpsError(ExitCode.USAGE, "no stack given", "pass --stack <env>, --stack-file PATH or --namespace NS")
        path = ops.stack_file if ops.stack_file is not None else stack_file_for(str(ops.stack))
        namespace = str(load_spec(Path(path)).namespaces.operator)
    record = read_status(ops.kubectl, namespace)
    if record is None or record.phase not in PHASES:
        raise OpsError(ExitCode.NOT_FOUND, f"no reconcile status in {namespace} (ConfigMap {CONFIGMAP})",
                       "run `pulumi up --stack <env>` or `scone-ops reconcile --once --stack <env>`")

    def human(console: Console) -> None:
        console.print(table("", ["NAME", "PHASE", "VERSION", "MANAGEMENT", "LAST SUCCESS", "GENERATION",
                                 "LAST UPDATE", "RECONCILED"],
                            [[record.stack, record.phase, record.deployedVersion or "-", record.managementState or "-",
                              record.lastSuccessPhase or "-", record.observedGeneration or "-",
                              record.lastUpdate or "-", f"{age(record.lastReconcile)} ago"]]))
        if record.lastError:
            console.print(f"last error:\n{record.lastError}", markup=False, highlight=False)
    ops.output.result({"namespace": namespace, **record.as_data()}, human)
    return int(PhaseExit.of(record.phase))
