"""`scone-ops reconcile`: what the scone-service-operator did all the time, for one stack.

`--once` reconciles and exits with the phase's code; `--interval 5m` loops until SIGTERM/SIGINT
(the reconcile running then finishes first, so no update is cut off). Two reconcilers of one stack
never run an update at once: the backend's lock lets one in, the other exits 9 (or, in a loop,
tries again next interval) having changed nothing.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click
from rich.console import Console

from scone_ops.context import Ops, common_options
from scone_ops.durations import Duration
from scone_ops.errors import ExitCode, OpsError
from scone_ops.output import table
from scone_ops.reconcile_status import PhaseExit
from scone_ops.reconciler import Budget, Outcome, Reconciler
from scone_ops.stack_target import PROJECT_ROOT
from scone_ops.stack_workspace import StackRef, stack_kubectl


@click.command(name="reconcile")
@click.option("--once", is_flag=True, help="Reconcile once and exit with the phase's code.")
@click.option("--interval", type=Duration(), metavar="DURATION",
              help="Reconcile every DURATION (30s, 5m, 1h) until SIGTERM/SIGINT.")
@click.option("--detect-only", is_flag=True,
              help="Refresh and preview only: report the phase a reconcile would enter; change nothing.")
@click.option("--cwd", type=click.Path(file_okay=False, exists=True, path_type=Path), default=PROJECT_ROOT,
              show_default="this repository", help="The Pulumi project directory.")
@click.option("--backend-url", envvar="PULUMI_BACKEND_URL", metavar="URL",
              help="State backend (file://..., s3://..., https://api.pulumi.com); default: the ambient login.")
@click.option("--attempts", type=click.IntRange(1, 10), default=5, show_default=True,
              help="Attempts per reconcile before the phase is Error.")
@click.option("--backoff", type=Duration(), default=10.0, show_default=True, metavar="DURATION",
              help="Pause before the 2nd attempt; doubled for each further one (at most 300 s).")
@common_options
def group(ops: Ops, once: bool, interval: float | None, detect_only: bool,  # noqa: PLR0917 - click passes options
          cwd: Path, backend_url: str | None, attempts: int, backoff: float) -> int:
    """Bring a stack to its stack file and record the status in the cluster (ConfigMap scone-status).

    \b
    Phases: Running (no change), Creating (never deployed), Updating (the stack file changed),
    Repairing (the cluster drifted), Error (the budget ran out, or a CAS is missing: it is never
    re-created; the error gives the recovery steps).
    \b
    Exit codes (--once): 0 Running, 9 another reconcile holds the stack's lock (nothing changed),
    10 Creating, 11 Updating, 12 Repairing (with --detect-only: that change is needed), 13 Error.
    The secrets passphrase comes from PULUMI_CONFIG_PASSPHRASE(_FILE) only.
    """
    if once == (interval is not None):
        raise OpsError(ExitCode.USAGE, "give exactly one of --once and --interval",
                       "--once for a single reconcile (CI, cron), --interval 5m for a long-running reconciler")
    if ops.stack is None:
        raise OpsError(ExitCode.USAGE, "no stack given", "pass --stack <env> (the Pulumi stack name) or set"
                       " SCONE_OPS_STACK")
    if ops.context_flag:
        raise OpsError(ExitCode.USAGE, "--context is not used by reconcile",
                       "the program reaches the context scone:kubeContext of the stack names (else the"
                       f" kubeconfig's current one): `pulumi config set kubeContext NAME --stack {ops.stack}`")
    ref = StackRef(ops.stack, cwd.resolve(), backend_url, ops.kubeconfig_flag, ops.stack_file)
    with stack_kubectl(ref, ops.kubeconfig_flag) as kubectl:
        reconciler = Reconciler(ref, kubectl, Budget(attempts, backoff), detect_only, ops.output.progress)
        return run_reconciler(ops, reconciler, interval)


def run_reconciler(ops: Ops, reconciler: Reconciler, interval: float | None) -> int:
    """Once (``interval`` None: the phase's exit code) or every ``interval`` seconds until a signal."""
    with stop_on_signals(reconciler.stop, ops.output.progress):
        if interval is None:
            outcome = reconciler.run()
            show(ops, outcome)
            return int(PhaseExit.BUSY if outcome.busy else PhaseExit.of(outcome.phase))
        while not reconciler.stop.is_set():
            try:
                show(ops, reconciler.run())
            except OpsError as err:  # a loop outlives a bad round (cluster down, backend unreachable)
                ops.output.error(err)
            reconciler.stop.wait(interval)
    ops.output.progress("reconciler stopped")
    return int(ExitCode.OK)


class stop_on_signals:  # noqa: N801 - used as a context manager, reads as one
    """SIGTERM/SIGINT set `stop`: the running reconcile finishes, backoff and interval waits end."""

    def __init__(self, stop: threading.Event, say: object) -> None:
        self.stop = stop
        self.say = say
        self.old: dict[int, object] = {}

    def _handler(self, signum: int, _frame: FrameType | None) -> None:
        self.stop.set()
        if callable(self.say):
            self.say(f"{signal.Signals(signum).name}: stopping after the current reconcile")

    def __enter__(self) -> stop_on_signals:
        self.old = {s: signal.signal(s, self._handler) for s in (signal.SIGTERM, signal.SIGINT)}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, h in self.old.items():
            signal.signal(s, h)  # type: ignore[arg-type]


def show(ops: Ops, outcome: Outcome) -> None:
    def human(console: Console) -> None:
        changes = ", ".join(f"{op} {n}" for op, n in sorted(outcome.changes.items())) or "none"
        console.print(table(f"reconcile {outcome.stack}", ["PHASE", "PASSED THROUGH", "ATTEMPTS", "CHANGES"],
                            [[outcome.phase or "-", " → ".join(outcome.phases) or "-", outcome.attempts, changes]]))
    ops.output.result(outcome.as_dict(), human)
    if outcome.error:
        ops.output.err.print(f"{'busy' if outcome.busy else 'error'}: {outcome.error}", markup=False, highlight=False)
    if outcome.next_step:
        ops.output.err.print(f"next step: {outcome.next_step}", markup=False, highlight=False)
