"""The checks before CAS leaves its node, shared by `cas move` and `node drain`.

Refuse (exit 6, nothing changed) unless the CAS is HEALTHY and another capable, registered,
schedulable node of its own zone exists (or the one asked for with --to is such a node); then
require a complete backup set younger than the backup interval (exit 7), unless the administrator
knowingly skips that check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from scone_ops.backups import freshness, list_sets
from scone_ops.cas_state import CasView, health_problem, read_cas, require_cas_pod
from scone_ops.context import Ops
from scone_ops.errors import ExitCode, OpsError
from scone_ops.nodes import CapableNodes, capable_nodes, target_problems


@dataclass(frozen=True)
class MoveCheck:
    """What the checks found: where CAS is, where it may go."""

    view: CasView
    cas_node: str
    report: CapableNodes
    to: str | None
    steer_away: tuple[str, ...]
    backup: str

    @property
    def zone(self) -> str:
        return self.report.zone or "(no zone)"


def check_move(ops: Ops, to: str | None, skip_backup_check: bool) -> MoveCheck:
    """Run every read-only check of a move; raise OpsError naming what is missing and the next step."""
    target = ops.target
    view = read_cas(ops.kubectl, target)
    cas_node = require_cas_pod(view, target)
    problem = health_problem(view.cas)
    if problem:
        raise OpsError(ExitCode.REFUSED, f"CAS {target.cas_name} is not HEALTHY: {problem}; nothing was changed",
                       f"wait until `kubectl get cas {target.cas_name} -n {target.namespace}` shows HEALTHY HEALTHY"
                       " (EnablingMigration means not every node is registered yet), then run this again")
    report = capable_nodes(view.nodes, target.registration_label, cas_node)
    if to is not None:
        problems = target_problems(view.nodes, target.registration_label, cas_node, to)
        if problems:
            others = ", ".join(n.name for n in report.candidates) or "none"
            raise OpsError(ExitCode.REFUSED, f"CAS cannot move to {to}: {to} " + "; ".join(problems)
                           + "; nothing was changed",
                           f"pick a node of zone {report.zone} that can take CAS (now: {others}); "
                           "`scone-ops cas nodes` lists them with their problems")
    elif not report.candidates:
        details = "; ".join(f"{n.name} {', '.join(n.problems)}" for n in report.nodes if not n.hosts_cas)
        raise OpsError(ExitCode.REFUSED,
                       f"no other node in zone {report.zone} can take CAS {target.cas_name} from {cas_node}"
                       + (f" ({details})" if details else " (it is the only node of its zone)")
                       + "; nothing was changed",
                       f"add an SGX node in zone {report.zone} and wait until it is registered"
                       f" ({target.registration_label}=true), or uncordon/fix a node listed; then run this again")
    steer = tuple(n.name for n in report.candidates if n.name != to) if to else ()
    backup = "skipped (--skip-backup-check)" if skip_backup_check else _check_backup(ops)
    if skip_backup_check:
        ops.output.warn("the backup check is skipped: if the move goes wrong there may be no recent backup set")
    return MoveCheck(view=view, cas_node=cas_node, report=report, to=to, steer_away=steer, backup=backup)


def _check_backup(ops: Ops) -> str:
    target = ops.target
    if not target.backup.enabled:
        raise OpsError(ExitCode.BACKUP, f"{target.stack_file} has backup.enabled: false, so no backup set is"
                       " known to be recent", "pass --skip-backup-check if you accept moving CAS without one")
    listing = list_sets(ops.kubectl, target)
    fresh = freshness(listing.complete, target.backup.interval_seconds, dt.datetime.now(dt.UTC))
    problem = fresh.problem()
    if problem:
        raise OpsError(ExitCode.BACKUP, f"{problem}; nothing was changed",
                       "take one now: `scone-ops backup now --stack <env>`; or, knowingly, --skip-backup-check")
    assert fresh.newest is not None and fresh.age_seconds is not None
    return f"set {fresh.newest.set_id}, {fresh.age_seconds:.0f} s old (interval {fresh.interval_seconds} s)"
