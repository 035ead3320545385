"""`scone-ops cas nodes` and `scone-ops cas move`: where CAS can go, and moving it there."""

from __future__ import annotations

import click
from rich.console import Console

from scone_ops.cas_state import health_problem, read_cas, require_cas_pod
from scone_ops.context import Ops, changing_options, common_options
from scone_ops.errors import ExitCode
from scone_ops.moving import check_move
from scone_ops.nodes import SCONE_LABELS, capable_nodes
from scone_ops.output import mark, table
from scone_ops.plan import move_plan
from scone_ops.runbook import Runbook

DEFAULT_TIMEOUT = 900


@click.group(name="cas")
def group() -> None:
    """The CAS of a stack: its capable nodes, and moving it within its zone."""


@group.command(name="nodes")
@common_options
def nodes(ops: Ops) -> int:
    """Where CAS runs and which nodes of its zone can take it now.

    Exit 0 when at least one other node can take CAS, 6 when none can.
    """
    target = ops.target
    view = read_cas(ops.kubectl, target)
    cas_node = require_cas_pod(view, target)
    report = capable_nodes(view.nodes, target.registration_label, cas_node)
    health = health_problem(view.cas) or "HEALTHY"

    def human(console: Console) -> None:
        console.print(f"CAS {target.namespace}/{target.cas_name} ({health}) runs on {cas_node} in zone {report.zone}",
                      markup=False, highlight=False)
        rows = [[n.name + (" (CAS)" if n.hosts_cas else ""), mark(n.registered),
                 *(mark(n.labels[k]) for k in SCONE_LABELS), mark(n.schedulable), mark(n.ready),
                 mark(n.can_take_cas), "; ".join(n.problems) or "-"] for n in report.nodes]
        console.print(table(f"nodes of zone {report.zone}", ["node", "registered", *SCONE_LABELS,
                                                              "schedulable", "ready", "can take CAS", "problems"],
                            rows))
        console.print(f"registration label: {report.registration_label}", markup=False, highlight=False)
        console.print(report.verdict(), markup=False, highlight=False)

    ops.output.result({**target.as_dict(), "health": health, **report.as_dict()}, human)
    return int(ExitCode.OK if report.candidates else ExitCode.REFUSED)


@group.command(name="move")
@click.option("--to", metavar="NODE", help="Move CAS to this node (same zone, capable, registered, schedulable).")
@click.option("--keep-cordoned", is_flag=True, help="Leave the node CAS left cordoned (e.g. before maintenance).")
@click.option("--skip-backup-check", is_flag=True,
              help="Move without a complete backup set younger than the backup interval (warns).")
@click.option("--timeout", type=click.IntRange(min=30), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds to wait for CAS to be HEALTHY on its new node.")
@changing_options
def move(ops: Ops, to: str | None, keep_cordoned: bool, skip_backup_check: bool, timeout: int) -> int:
    """Move CAS to another node of its zone: cordon, delete the pod, wait until HEALTHY, uncordon.

    Refuses (exit 6, nothing changed) unless CAS is HEALTHY and another capable node of its zone
    exists; needs a recent complete backup set (exit 7) unless --skip-backup-check. On failure or
    SIGINT/SIGTERM it uncordons what it cordoned and says where CAS is (exit 8 / 130).
    """
    check = check_move(ops, to, skip_backup_check)
    plan = move_plan(ops.kubectl, ops.target, cas_node=check.cas_node, zone=check.zone, to=to,
                     steer_away=check.steer_away, keep_cordoned=keep_cordoned, timeout=timeout)
    plan.facts["backup"] = check.backup
    ops.output.plan(plan, dry_run=ops.dry_run)
    if ops.dry_run:
        return int(ExitCode.OK)
    runbook = Runbook(ops.kubectl, ops.target, check.report.zone, timeout, ops.output.progress)
    new_node = runbook.execute(plan)
    left = f"; {check.cas_node} stays cordoned (--keep-cordoned)" if keep_cordoned else ""
    ops.output.result({"moved": True, "from": check.cas_node, "to": new_node, "zone": check.zone,
                       "kept_cordoned": check.cas_node if keep_cordoned else None, **plan.as_dict()},
                      lambda c: c.print(f"CAS {ops.target.cas_name} is HEALTHY on {new_node} (was {check.cas_node})"
                                        f"{left}", markup=False, highlight=False))
    return int(ExitCode.OK)
