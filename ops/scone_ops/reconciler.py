"""One reconcile of one stack, bounded like the scone-service-operator's.

Refresh and preview in one engine run (`preview --refresh`, which persists nothing); no change is
`Running`. Changes are `Creating` (never deployed), `Updating` (the stack file's spec digest differs
from the deployed `deployedSpec`) or `Repairing` (same spec, the cluster drifted), followed by
`up --refresh` (refresh and update under the backend's lock). A failing attempt is retried with
exponential backoff up to the budget, then the phase is `Error` with the redacted last error.

A CAS is never re-created by a reconcile: a new, empty CAS would be a new trust anchor. When the
state holds a CAS that the cluster no longer has (or a preview would create one), the reconcile
stops with `Error` and the recovery steps, before any refresh could drop the CAS from the state.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pulumi import automation as auto

from components.redaction import Redactor
from scone_ops.kubectl import Kubectl
from scone_ops.reconcile_status import StatusRecord, now, read_status, write_status
from scone_ops.stack_workspace import CAS_TYPE, Deployed, StackRef, deployed, desired, secret_values

NOT_CHANGES = frozenset({"same", "read", "refresh", "discard", "read-discard"})
CREATES = frozenset({"create", "replace", "create-replacement"})
MAX_BACKOFF_SECONDS = 300.0
RECOVERY_STEPS = (
    "the CAS {cas} in {ns} is in the stack's state but not in the cluster; a reconcile never creates an"
    " empty CAS (a new trust anchor). Recover it as its owner (README: 'Recovery (under Unmanaged)'):"
    " set scone:managementState Unmanaged and scone:provisioning.recovery.snapshotDir to a restored"
    " snapshot (`scone-backupper restore --set latest --target DIR`), run `pulumi up` (without --refresh);"
    " then set Managed, remove snapshotDir and run `pulumi up`. Do not run `pulumi refresh` meanwhile."
)


@dataclass(frozen=True)
class Budget:
    """How hard one reconcile tries: attempts (the operator's 5) and the first backoff (then doubled)."""

    attempts: int = 5
    backoff_seconds: float = 10.0

    def pause(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))


@dataclass
class Outcome:
    """What one reconcile found and did."""

    stack: str
    phase: str
    phases: list[str] = field(default_factory=list)
    attempts: int = 0
    changes: dict[str, int] = field(default_factory=dict)
    error: str = ""
    next_step: str = ""
    busy: bool = False
    status: StatusRecord | None = None
    applied: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"stack": self.stack, "phase": self.phase, "phases": self.phases, "attempts": self.attempts,
                "changes": self.changes, "error": self.error, "next_step": self.next_step, "busy": self.busy,
                "applied": self.applied, "status": self.status.as_data() if self.status else None}


class BusyError(Exception):
    """Another update holds the stack's lock."""


@dataclass
class Reconciler:
    """Reconciles `ref` once per `run()`; `stop` ends backoff waits early (SIGTERM)."""

    ref: StackRef
    kubectl: Kubectl
    budget: Budget = field(default_factory=Budget)
    detect_only: bool = False
    progress: Callable[[str], None] = lambda _m: None
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> Outcome:
        stack = auto_stack(self.ref)
        redact = Redactor.of(secret_values(stack))
        want = desired(self.ref)
        have = deployed(stack)
        namespace = have.operator_namespace() or str(want.spec.namespaces.operator)
        run = _Run(self, stack, redact, have, namespace, read_status(self.kubectl, namespace))
        return run.reconcile(intent(have, want.digest))


def auto_stack(ref: StackRef) -> auto.Stack:
    from scone_ops.stack_workspace import open_stack  # noqa: PLC0415 - kept late: opening runs the CLI

    return open_stack(ref)


def intent(have: Deployed, digest: str) -> str | None:
    """The phase the spec alone implies; None means: whatever the preview shows (Running or Repairing)."""
    if not have.ever_deployed:
        return "Creating"
    return "Updating" if have.output("deployedSpec") != digest else None


@dataclass
class _Run:
    owner: Reconciler
    stack: auto.Stack
    redact: Redactor
    have: Deployed
    namespace: str
    current: StatusRecord | None
    outcome: Outcome = field(init=False)

    def __post_init__(self) -> None:
        self.outcome = Outcome(self.owner.ref.stack, "")

    # -- status ------------------------------------------------------------------------------
    def record(self, phase: str, error: str = "", attempts: int = 0, *, updated: bool = False) -> None:
        """Write the status ConfigMap for `phase` (not under --detect-only: it changes nothing).

        The deployed facts (version, spec, generation) are the ones the program's status resource
        wrote when an update succeeded; a reconcile moves the phase and stamps itself (and lastUpdate
        when its update succeeded).
        """
        self.outcome.phases.append(phase)
        if self.owner.detect_only:
            return
        stack = self.owner.ref.stack
        base = read_status(self.owner.kubectl, self.namespace) or self.current or StatusRecord(stack, "")
        record = replace(base.entering(stack, phase, error=error, attempts=attempts), lastReconcile=now())
        if updated:  # this reconcile's update succeeded (a repair may leave the program's status untouched)
            record = replace(record, lastUpdate=record.lastReconcile)
        if write_status(self.owner.kubectl, self.namespace, record):
            self.current = record
            self.outcome.status = record
        else:
            self.owner.progress(f"status not recorded: namespace {self.namespace} does not exist yet")

    # -- the reconcile ----------------------------------------------------------------------
    def reconcile(self, phase: str | None) -> Outcome:
        if self.have.cas is not None and self._cas_missing(*self.have.cas):
            return self.refuse_cas()
        last_error = ""
        budget = self.owner.budget
        for attempt in range(1, budget.attempts + 1):
            self.outcome.attempts = attempt
            try:
                return self.attempt(phase)
            except BusyError:
                self.outcome.busy = True
                self.outcome.phase = self.current.phase if self.current else ""
                self.outcome.error = "another update holds the stack's lock; this reconcile changed nothing"
                self.outcome.next_step = "nothing to do: the running update reconciles the stack"
                return self.outcome
            except _CasRefusedError:
                return self.refuse_cas()
            except auto.CommandError as err:
                last_error = self.redact.error_tail(str(err))
                self.owner.progress(f"attempt {attempt}/{budget.attempts} failed: {last_error.splitlines()[-1:]}")
                if attempt < budget.attempts and not self.owner.detect_only:
                    self.record(phase or "Repairing", last_error, attempt)
                    if self.owner.stop.wait(budget.pause(attempt)):
                        break
                elif self.owner.detect_only:
                    break
        self.outcome.phase = "Error"
        self.outcome.error = last_error
        self.outcome.next_step = ("fix the cause (see the error), then run `scone-ops reconcile --once`;"
                                  " each reconcile starts a fresh budget")
        self.record("Error", last_error, self.outcome.attempts)
        return self.outcome

    def attempt(self, phase: str | None) -> Outcome:
        changes, creates_cas = self.preview()
        self.outcome.changes = changes
        if creates_cas and self.have.cas is not None:
            raise _CasRefusedError
        if not changes:
            self.outcome.phase = "Running"
            self.record("Running")
            return self.outcome
        phase = phase or "Repairing"
        self.outcome.phase = phase
        if self.owner.detect_only:
            self.outcome.phases.append(phase)
            return self.outcome
        self.owner.progress(f"{phase}: {changes}")
        self.up(phase)
        self.outcome.applied = True
        self.outcome.phase = "Running"
        self.record("Running", updated=True)
        return self.outcome

    def preview(self) -> tuple[dict[str, int], bool]:
        creates_cas = False

        def seen(event: auto.EngineEvent) -> None:
            nonlocal creates_cas
            pre = event.resource_pre_event
            if pre is not None and pre.metadata.type == CAS_TYPE and _op(pre.metadata.op) in CREATES:
                creates_cas = True

        result = self._engine(lambda: self.stack.preview(refresh=True, on_event=seen, color="never"))
        changes = {op: n for op, n in ((_op(k), v) for k, v in (result.change_summary or {}).items())
                   if op not in NOT_CHANGES and n}
        return changes, creates_cas

    def up(self, phase: str) -> None:
        started = threading.Event()

        def seen(event: auto.EngineEvent) -> None:
            if event.prelude_event is not None and not started.is_set():
                started.set()  # the update holds the stack's lock from here on
                try:
                    self.record(phase, attempts=self.outcome.attempts)
                except Exception as err:
                    self.owner.progress(f"status not recorded: {err}")

        self._engine(lambda: self.stack.up(refresh=True, on_event=seen, color="never"))

    def _engine(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except auto.ConcurrentUpdateError:
            raise BusyError from None

    def _cas_missing(self, name: str, namespace: str) -> bool:
        return self.owner.kubectl.get_or_none("cas", name, "-n", namespace) is None

    def refuse_cas(self) -> Outcome:
        name, namespace = self.have.cas or ("?", "?")
        self.outcome.phase = "Error"
        self.outcome.error = f"CAS {name} in {namespace} is missing from the cluster; not re-created"
        self.outcome.next_step = RECOVERY_STEPS.format(cas=name, ns=namespace)
        self.record("Error", f"{self.outcome.error}. {self.outcome.next_step}")
        return self.outcome


class _CasRefusedError(Exception):
    """The preview would create a CAS that the state already has."""


def _op(value: Any) -> str:
    return str(getattr(value, "value", value))
