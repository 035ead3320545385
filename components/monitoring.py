"""Monitoring: scrape the operator and the backupper, alert on what endangers CAS, show it.

The operator chart has no ServiceMonitor; its metrics Service carries
``control-plane: controller-manager`` and the port ``http``, which Scontain's own
ServiceMonitor selects. CAS health is read through kube-state-metrics (the CAS pod's
readiness, which the probes kubectl-provision enables track), because the operator's own
metric names are not documented. Backup freshness comes from the backupper's metrics.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.cron_schedule import schedule_period_seconds
from components.names import BACKUPPER_APP, CAPABLE_LABELS, DRILL_APP, MANAGED_BY, ZONE_LABEL, registration_label
from components.options import WaitingComponent, child

OPERATOR_METRICS_SERVICE = "scone-controller-manager-metrics-service"


#: Node labels the CAS placement alert reads through kube-state-metrics' ``kube_node_labels``.
#: kube-state-metrics exports none by default: allow them with
#: ``--metric-labels-allowlist=nodes=[<these>,<registration_label>]`` (README: Monitoring).
PLACEMENT_NODE_LABELS: tuple[str, ...] = (ZONE_LABEL, *CAPABLE_LABELS)


@dataclass(frozen=True)
class MonitoringArgs:
    """What the monitoring component needs to know, cut from the spec in ``components.settings_slices``."""

    #: Where the ServiceMonitors, rules and dashboard go.
    namespace: str
    operator_namespace: str
    services_namespace: str
    selector_labels: Mapping[str, str]
    dashboard_labels: Mapping[str, str]
    version: str
    cas_name: str
    #: The stack runs a CAS (not skipCas): the CAS alerts apply.
    has_cas: bool
    min_capable_nodes: int
    #: Seconds between backups, when the stack runs the backupper.
    backup_interval: int | None
    #: Cron schedule of the restore drill (backup.restoreDrill.schedule); None: no drill.
    drill_schedule: str | None = None


def ksm_label(key: str) -> str:
    """The Prometheus label kube-state-metrics makes of a Kubernetes label key (``label_`` + sanitised)."""
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)


def node_label_allowlist(args: MonitoringArgs, cas: str) -> str:
    """The kube-state-metrics flag that exports the node labels the placement alert needs."""
    keys = [*PLACEMENT_NODE_LABELS, registration_label(cas, args.services_namespace, args.version)]
    return f"--metric-labels-allowlist=nodes=[{','.join(keys)}]"


def alert(name: str, expr: str, wait: str, severity: str, **annotations: str) -> dict[str, Any]:
    """One PrometheusRule alert: fires when ``expr`` holds for ``wait``; ``annotations`` say what and what to do."""
    return {"alert": name, "expr": expr, "for": wait, "labels": {"severity": severity}, "annotations": annotations}


def cas_pod_not_ready_rule(args: MonitoringArgs, cas: str) -> dict[str, Any]:
    """The CAS pod has not been Ready for 10 minutes (or is gone)."""
    ns = args.services_namespace
    return alert(
        name="SconeCasNotHealthy",
        expr=f'max(kube_pod_status_ready{{namespace="{ns}", pod="{cas}-0", condition="true"}}) < 1'
        f' or absent(kube_pod_status_ready{{namespace="{ns}", pod="{cas}-0"}})',
        wait="10m",
        severity="critical",
        summary=f"CAS {cas} is not HEALTHY",
        description=f"Pod {cas}-0 in {ns} has not been ready for 10 minutes. Check"
        f" `kubectl get cas {cas} -n {ns}` (README: Moving CAS between nodes).",
        runbook=f"1. `kubectl get cas {cas} -n {ns}` and `kubectl describe pod {cas}-0 -n {ns}`: is the pod"
        " Pending (no node can host it: see SconeCasTooFewNodesInZone), crash-looping (`kubectl logs"
        f" {cas}-0 -n {ns}`), or failing its probes? 2. Pending: its volume pins it to one zone; uncordon or add"
        " a registered SGX node in that zone. 3. Never delete the CAS CR or its PVCs to 'repair' it: that loses"
        " the database; restore from a backup only through the documented recovery (README: Operations,"
        " Recovery).",
    )


def too_few_cas_nodes_rule(args: MonitoringArgs, cas: str) -> dict[str, Any]:
    """Fewer than ``cas.minCapableNodesInZone`` nodes in the CAS's zone could take the CAS over."""
    ns, minimum = args.services_namespace, args.min_capable_nodes
    zone = ksm_label(ZONE_LABEL)
    wanted = {**CAPABLE_LABELS, registration_label(cas, ns, args.version): "true"}
    selector = ", ".join(f'{ksm_label(key)}="{value}"' for key, value in wanted.items())
    cas_pod = f'kube_pod_info{{namespace="{ns}", pod="{cas}-0"}}'
    cas_zone = f"max by ({zone}) (kube_node_labels * on(node) group_left() max by (node) ({cas_pod}))"
    capable = (
        f"kube_node_labels{{{selector}}} * on(node) group_left() max by (node) (kube_node_spec_unschedulable == 0)"
    )
    return alert(
        name="SconeCasTooFewNodesInZone",
        expr=f"(count({capable} * on({zone}) group_left() {cas_zone}) or on() vector(0)) < {minimum}"
        f" and on() count({cas_pod}) > 0",
        wait="15m",
        severity="critical",
        summary=f"Fewer than {minimum} nodes in the zone of CAS {cas} could take it over",
        description=f"Fewer than {minimum} schedulable nodes in the zone of pod {cas}-0 ({ns}) are"
        f" registered for CAS {cas} and labelled {', '.join(f'{k}=true' for k in CAPABLE_LABELS)}. The CAS"
        " database opens only on registered nodes and its volume stays in its zone: losing the CAS node"
        " loses the database.",
        runbook=f"1. Find the zone: `kubectl get pod {cas}-0 -n {ns} -o wide` and `kubectl get nodes -L"
        f" {ZONE_LABEL}`. 2. List the nodes there that could host CAS (the preview prints them as 'CAS"
        " placement'). 3. Uncordon a cordoned one, or add SGX nodes in that zone; the CAS backup controller"
        " registers new nodes itself (watch `kubectl get cas` MIGRATION reach N/N). 4. Do not drain or remove"
        " the CAS node until the alert clears. (An unprovisioned CAS has no registered node yet: provision it.)"
        f" Needs kube-state-metrics with {node_label_allowlist(args, cas)}.",
    )


def alert_rules(args: MonitoringArgs) -> list[dict[str, Any]]:
    """PrometheusRule alerts: operator down, CAS not healthy, too few nodes for CAS, backups stale or failing."""
    ns_ops, ns_svc = args.operator_namespace, args.services_namespace
    rules: list[dict[str, Any]] = [
        alert(
            name="SconeOperatorDown",
            expr=f'absent(up{{namespace="{ns_ops}", service="{OPERATOR_METRICS_SERVICE}"}} == 1)',
            wait="10m",
            severity="critical",
            summary="The scone-operator is not running or not scraped",
            description=f"No healthy scrape of {OPERATOR_METRICS_SERVICE} in {ns_ops} for 10 minutes;"
            " LAS, SGX plugin and CAS are not reconciled.",
        )
    ]
    if args.has_cas:
        rules.extend([cas_pod_not_ready_rule(args, args.cas_name), too_few_cas_nodes_rule(args, args.cas_name)])
    if args.backup_interval is not None:
        stale_after = 2 * args.backup_interval
        rules.extend(
            [
                alert(
                    name="SconeCasBackupTooOld",
                    expr=f'time() - max(scone_backupper_last_success_timestamp_seconds{{namespace="{ns_svc}"}})'
                    f" > {stale_after}",
                    wait="5m",
                    severity="critical",
                    summary="The newest CAS database backup is older than twice the backup interval",
                    description=f"No backup for more than {stale_after} s (2 x backup.interval).",
                ),
                alert(
                    name="SconeCasBackupperFailing",
                    expr=f'sum(increase(scone_backupper_failures_total{{namespace="{ns_svc}"}}[{stale_after}s])) > 0',
                    wait="1m",
                    severity="warning",
                    summary="The CAS DB backupper reports failures",
                    description=f"See `kubectl logs deploy/{BACKUPPER_APP} -n {ns_svc}`; failures are counted by kind.",
                ),
            ]
        )
    if args.backup_interval is not None and args.drill_schedule:
        rules.append(restore_drill_rule(args, args.drill_schedule))
    return rules


def restore_drill_rule(args: MonitoringArgs, schedule: str) -> dict[str, Any]:
    """The last passed restore drill is older than twice the schedule's longest gap (or none passed).

    The drill is a CronJob, so kube-state-metrics carries its result and age: the time of the last
    Job that succeeded, kept in the CronJob's status across pod and Prometheus restarts.
    """
    ns_svc = args.services_namespace
    limit = 2 * schedule_period_seconds(schedule)
    cron_job = f'{{namespace="{ns_svc}", cronjob="{DRILL_APP}"}}'
    passed = f"max(kube_cronjob_status_last_successful_time{cron_job})"
    return alert(
        name="SconeCasRestoreDrillOverdue",
        expr=f"time() - {passed} > {limit}"
        f" or (time() - max(kube_cronjob_created{cron_job}) > {limit} unless on() {passed})",
        wait="15m",
        severity="warning",
        summary="No CAS database restore drill has passed for twice its schedule's period",
        description=f"CronJob {DRILL_APP} in {ns_svc} has had no successful drill for more than {limit} s"
        f" (2 x the longest gap of '{schedule}'). The newest backup set"
        " may not be restorable.",
        runbook=f"1. `kubectl get jobs -n {ns_svc} -l app.kubernetes.io/name={DRILL_APP}`, then"
        f" `kubectl logs job/<newest> -n {ns_svc}`: the line `restore drill FAILED: ...` names the set and"
        " the object or file at fault (exit codes: backupper/README.md). No Job at all: the CronJob is"
        " suspended or cannot create pods (`kubectl describe cronjob`). 2. Re-run it on demand:"
        " `scone-ops backup drill --stack <env>`. 3. A damaged or missing object in the newest set: take a"
        " new backup (`scone-ops backup now --stack <env>`) and drill again; keep the damaged set for"
        " investigation (`scone-backupper list --all`), never delete sets by hand. 4. Encryption key"
        " errors: the Secret's ENCRYPTION_KEY no longer matches the sets; restore the old key.",
    )


def dashboard(args: MonitoringArgs) -> dict[str, Any]:
    """A small Grafana dashboard: operator up, CAS ready, backup age, size, duration, failures."""
    ns_svc = args.services_namespace
    panels = [
        ("Operator up", f'up{{service="{OPERATOR_METRICS_SERVICE}"}}'),
        ("CAS pod ready", f'kube_pod_status_ready{{namespace="{ns_svc}", pod="{args.cas_name}-0", condition="true"}}'),
        ("Seconds since last backup", "time() - scone_backupper_last_success_timestamp_seconds"),
        ("Last backup size (bytes)", "scone_backupper_last_backup_size_bytes"),
        ("Last run duration (s)", "scone_backupper_last_run_duration_seconds"),
        ("Backup failures by kind", "sum by (kind) (increase(scone_backupper_failures_total[1h]))"),
    ]
    return {
        "title": "SCONE services",
        "uid": "scone-services",
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "panels": [
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "targets": [{"expr": expr, "refId": "A"}],
            }
            for index, (title, expr) in enumerate(panels)
        ],
    }


class Monitoring(WaitingComponent):
    """ServiceMonitors, PrometheusRule and the Grafana dashboard ConfigMap."""

    def __init__(
        self,
        name: str,
        args: MonitoringArgs,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:Monitoring", name, waits_for, opts)
        namespace = args.namespace
        labels = {**MANAGED_BY, **args.selector_labels}
        self._service_monitor(
            "scone-operator",
            namespace,
            labels,
            target=(args.operator_namespace, {"control-plane": "controller-manager"}, "http"),
        )
        if args.backup_interval is not None:
            self._service_monitor(
                BACKUPPER_APP,
                namespace,
                labels,
                target=(args.services_namespace, {"app.kubernetes.io/name": BACKUPPER_APP}, "metrics"),
            )
        self._rules(args, namespace, labels)
        self._dashboard(args, namespace)
        self.register_outputs({"namespace": namespace})

    def _service_monitor(
        self,
        name: str,
        namespace: str,
        labels: dict[str, str],
        *,
        target: tuple[str, dict[str, str], str],
    ) -> k8s.apiextensions.CustomResource:
        """A ServiceMonitor for ``target`` = (namespace, service selector, port name)."""
        target_namespace, selector, port = target
        return k8s.apiextensions.CustomResource(
            f"{name}-servicemonitor",
            api_version="monitoring.coreos.com/v1",
            kind="ServiceMonitor",
            metadata={"name": name, "namespace": namespace, "labels": labels},
            spec={
                "namespaceSelector": {"matchNames": [target_namespace]},
                "selector": {"matchLabels": selector},
                "endpoints": [{"port": port, "path": "/metrics", "interval": "30s"}],
            },
            opts=child(self),
        )

    def _rules(self, args: MonitoringArgs, namespace: str, labels: dict[str, str]) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            "scone-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "scone-alerts", "namespace": namespace, "labels": labels},
            spec={"groups": [{"name": "scone", "rules": alert_rules(args)}]},
            opts=child(self),
        )

    def _dashboard(self, args: MonitoringArgs, namespace: str) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            "scone-dashboard",
            metadata={
                "name": "scone-dashboard",
                "namespace": namespace,
                "labels": {**MANAGED_BY, **args.dashboard_labels},
            },
            data={"scone.json": json.dumps(dashboard(args), sort_keys=True)},
            opts=child(self),
        )
