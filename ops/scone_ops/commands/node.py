"""`scone-ops node drain` and `scone-ops node preflight-upgrade`: nodes out of service, safely for CAS."""

from __future__ import annotations

import click
from rich.console import Console

from scone_ops.cas_state import health_problem, read_cluster
from scone_ops.context import Ops, changing_options, common_options
from scone_ops.errors import ExitCode, OpsError
from scone_ops.moving import check_move
from scone_ops.nodes import capable_nodes
from scone_ops.plan import drain_plan
from scone_ops.runbook import Runbook
from scone_ops.upgrade import headroom_reminder, subnet_headroom

DEFAULT_TIMEOUT = 900


@click.group(name="node")
def group() -> None:
    """Nodes: take one out of service, or check before a rolling upgrade."""


@group.command(name="drain")
@click.argument("node")
@click.option("--to", metavar="NODE", help="When CAS runs on NODE: move it to this node of its zone.")
@click.option("--skip-backup-check", is_flag=True, help="When CAS must move: move without a recent backup set.")
@click.option("--timeout", type=click.IntRange(min=30), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds for the CAS move and, separately, for the drain.")
@changing_options
def drain(ops: Ops, node: str, to: str | None, skip_backup_check: bool, timeout: int) -> int:
    """Take NODE out of service: move CAS off it first (if it runs there), then cordon and drain.

    The drain uses --force --ignore-daemonsets --delete-emptydir-data. NODE stays cordoned when
    the command succeeds; on failure or signal it is uncordoned again (exit 8 / 130).
    """
    target = ops.target
    view = read_cluster(ops.kubectl, target)
    if not any(n["metadata"]["name"] == node for n in view.nodes):
        raise OpsError(ExitCode.NOT_FOUND, f"node {node} does not exist", "`kubectl get nodes` lists the nodes")
    cas_node, zone = view.node, None
    steer: tuple[str, ...] = ()
    backup = "not needed (CAS does not run on this node)"
    if cas_node == node:
        check = check_move(ops, to, skip_backup_check)
        zone, steer, backup = check.report.zone, check.steer_away, check.backup
    elif cas_node is not None:
        report = capable_nodes(view.nodes, target.registration_label, cas_node)
        left = [n.name for n in report.candidates if n.name != node]
        if report.node(node) is not None and not left:
            ops.output.warn(f"after this drain no other node of zone {report.zone} can take CAS from {cas_node}:"
                            " the next outage of that node is not covered")
    plan = drain_plan(ops.kubectl, target, node=node, cas_node=cas_node, zone=zone, to=to, steer_away=steer,
                      timeout=timeout)
    plan.facts["backup"] = backup
    ops.output.plan(plan, dry_run=ops.dry_run)
    if ops.dry_run:
        return int(ExitCode.OK)
    final = Runbook(ops.kubectl, target, zone, timeout, ops.output.progress).execute(plan)
    where = final or cas_node or "(no CAS pod)"
    ops.output.result({"drained": node, "cas_node": where, "cas_moved": cas_node == node, **plan.as_dict()},
                      lambda c: c.print(f"{node} is drained and stays cordoned; CAS runs on {where}",
                                        markup=False, highlight=False))
    return int(ExitCode.OK)


@group.command(name="preflight-upgrade")
@click.option("--subnet-cidr", metavar="CIDR", help="The node subnet, e.g. 10.250.0.0/28: check its headroom.")
@common_options
def preflight_upgrade(ops: Ops, subnet_cidr: str | None) -> int:
    """What a rolling node upgrade needs: another capable node for CAS, and subnet headroom.

    Exit 0 when both hold, 6 when CAS has no other capable node or the subnet is too small.
    """
    target = ops.target
    view = read_cluster(ops.kubectl, target)
    node_count = len(view.nodes)
    checks: list[dict[str, object]] = []
    if not target.has_cas:
        checks.append({"check": "CAS can move", "ok": None, "detail": "this stack runs no CAS (skipCas: true)"})
    elif view.node is None:
        checks.append({"check": "CAS can move", "ok": False,
                       "detail": f"{target.pod_name} runs on no node; fix that first"})
    else:
        report = capable_nodes(view.nodes, target.registration_label, view.node)
        health = health_problem(view.cas)
        checks.append({"check": "CAS can move", "ok": bool(report.candidates), "detail": report.verdict()})
        checks.append({"check": "CAS HEALTHY", "ok": health is None, "detail": health or "HEALTHY"})
    if subnet_cidr:
        try:
            room = subnet_headroom(subnet_cidr, node_count)
        except ValueError as err:
            raise OpsError(ExitCode.USAGE, f"--subnet-cidr {subnet_cidr!r} is not a CIDR: {err}",
                           "give it like 10.250.0.0/28") from None
        checks.append({"check": "subnet headroom", "ok": room.ok, "detail": room.message()})
    else:
        checks.append({"check": "subnet headroom", "ok": None, "detail": headroom_reminder(node_count)})
    ok = all(c["ok"] is not False for c in checks)

    def human(console: Console) -> None:
        for c in checks:
            flag = {True: "ok  ", False: "FAIL", None: "NOTE"}[c["ok"]]  # type: ignore[index]
            console.print(f"{flag} {c['check']}: {c['detail']}", markup=False, highlight=False)
        if view.node is not None:
            console.print("During the upgrade, when a node that hosts CAS is next: "
                          "`scone-ops node drain <node> --stack <env>` (or `scone-ops cas move`)",
                          markup=False, highlight=False)

    ops.output.result({**target.as_dict(), "nodes": node_count, "checks": checks, "ok": ok}, human)
    return int(ExitCode.OK if ok else ExitCode.REFUSED)
