"""Monitoring: scrape the operator and the backupper, alert on what endangers CAS, show it.

The operator chart has no ServiceMonitor (reference §3.4); its metrics Service carries
``control-plane: controller-manager`` and the port ``http``, which Scontain's own
ServiceMonitor selects. CAS health is read through kube-state-metrics (the CAS pod's
readiness, which the probes kubectl-provision enables track), because the operator's own
metric names are not documented. Backup freshness comes from the backupper's metrics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.backupper import APP as BACKUPPER
from components.backupper import DRILL
from components.cron_schedule import schedule_period_seconds
from components.operator import MANAGED_BY
from components.options import WaitingComponent, child
from components.spec import SconeSpec

OPERATOR_METRICS_SERVICE = "scone-controller-manager-metrics-service"


def alert_rules(spec: SconeSpec) -> list[dict[str, Any]]:
    """PrometheusRule alerts: operator down, CAS not healthy, backups stale or failing."""
    ns_ops, ns_svc, cas = spec.namespaces.operator, spec.namespaces.services, spec.cas.name
    stale_after = 2 * spec.backup.interval
    rules: list[dict[str, Any]] = [
        {
            "alert": "SconeOperatorDown",
            "expr": f'absent(up{{namespace="{ns_ops}", service="{OPERATOR_METRICS_SERVICE}"}} == 1)',
            "for": "10m",
            "labels": {"severity": "critical"},
            "annotations": {
                "summary": "The scone-operator is not running or not scraped",
                "description": f"No healthy scrape of {OPERATOR_METRICS_SERVICE} in {ns_ops} for 10 minutes;"
                " LAS, SGX plugin and CAS are not reconciled.",
            },
        }
    ]
    if spec.has_cas:
        rules.append(
            {
                "alert": "SconeCasNotHealthy",
                "expr": f'max(kube_pod_status_ready{{namespace="{ns_svc}", pod="{cas}-0", condition="true"}}) < 1'
                f' or absent(kube_pod_status_ready{{namespace="{ns_svc}", pod="{cas}-0"}})',
                "for": "10m",
                "labels": {"severity": "critical"},
                "annotations": {
                    "summary": f"CAS {cas} is not HEALTHY",
                    "description": f"Pod {cas}-0 in {ns_svc} has not been ready for 10 minutes. Check"
                    f" `kubectl get cas {cas} -n {ns_svc}` (README: Moving CAS between nodes).",
                },
            }
        )
    if spec.backup.enabled and spec.has_cas:
        rules.extend(
            [
                {
                    "alert": "SconeCasBackupTooOld",
                    "expr": f'time() - max(scone_backupper_last_success_timestamp_seconds{{namespace="{ns_svc}"}})'
                    f" > {stale_after}",
                    "for": "5m",
                    "labels": {"severity": "critical"},
                    "annotations": {
                        "summary": "The newest CAS database backup is older than twice the backup interval",
                        "description": f"No backup for more than {stale_after} s (2 x backup.interval).",
                    },
                },
                {
                    "alert": "SconeCasBackupperFailing",
                    "expr": f'sum(increase(scone_backupper_failures_total{{namespace="{ns_svc}"}}'
                    f"[{stale_after}s])) > 0",
                    "for": "1m",
                    "labels": {"severity": "warning"},
                    "annotations": {
                        "summary": "The CAS DB backupper reports failures",
                        "description": f"See `kubectl logs deploy/{BACKUPPER} -n {ns_svc}`; failures are counted"
                        " by kind.",
                    },
                },
            ]
        )
    if spec.backup.enabled and spec.has_cas and spec.backup.restoreDrill.cron:
        rules.append(restore_drill_rule(spec))
    return rules


def restore_drill_rule(spec: SconeSpec) -> dict[str, Any]:
    """The last passed restore drill is older than twice the schedule's longest gap (or none passed).

    The drill is a CronJob, so kube-state-metrics carries its result and age: the time of the last
    Job that succeeded, kept in the CronJob's status across pod and Prometheus restarts.
    """
    ns_svc = spec.namespaces.services
    schedule = spec.backup.restoreDrill.cron or ""
    limit = 2 * schedule_period_seconds(schedule)
    cron_job = f'{{namespace="{ns_svc}", cronjob="{DRILL}"}}'
    passed = f"max(kube_cronjob_status_last_successful_time{cron_job})"
    return {
        "alert": "SconeCasRestoreDrillOverdue",
        "expr": f"time() - {passed} > {limit}"
        f" or (time() - max(kube_cronjob_created{cron_job}) > {limit} unless on() {passed})",
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "No CAS database restore drill has passed for twice its schedule's period",
            "description": f"CronJob {DRILL} in {ns_svc} has had no successful drill for more than {limit} s"
            f" (2 x the longest gap of '{schedule}'). The newest backup set"
            " may not be restorable.",
            "runbook": f"1. `kubectl get jobs -n {ns_svc} -l app.kubernetes.io/name={DRILL}`, then"
            f" `kubectl logs job/<newest> -n {ns_svc}`: the line `restore drill FAILED: ...` names the set and"
            " the object or file at fault (exit codes: backupper/README.md). No Job at all: the CronJob is"
            " suspended or cannot create pods (`kubectl describe cronjob`). 2. Re-run it on demand:"
            " `scone-ops backup drill --stack <env>`. 3. A damaged or missing object in the newest set: take a"
            " new backup (`scone-ops backup now --stack <env>`) and drill again; keep the damaged set for"
            " investigation (`scone-backupper list --all`), never delete sets by hand. 4. Encryption key"
            " errors: the Secret's ENCRYPTION_KEY no longer matches the sets; restore the old key.",
        },
    }


def dashboard(spec: SconeSpec) -> dict[str, Any]:
    """A small Grafana dashboard: operator up, CAS ready, backup age, size, duration, failures."""
    ns_svc = spec.namespaces.services
    panels = [
        ("Operator up", f'up{{service="{OPERATOR_METRICS_SERVICE}"}}'),
        ("CAS pod ready", f'kube_pod_status_ready{{namespace="{ns_svc}", pod="{spec.cas.name}-0", condition="true"}}'),
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
        spec: SconeSpec,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:Monitoring", name, waits_for, opts)
        namespace = spec.monitoring.namespace or spec.namespaces.operator
        labels = {**MANAGED_BY, **spec.monitoring.selectorLabels}
        self._service_monitor(
            "scone-operator",
            namespace,
            labels,
            target=(spec.namespaces.operator, {"control-plane": "controller-manager"}, "http"),
        )
        if spec.backup.enabled and spec.has_cas:
            self._service_monitor(
                BACKUPPER,
                namespace,
                labels,
                target=(spec.namespaces.services, {"app.kubernetes.io/name": BACKUPPER}, "metrics"),
            )
        self._rules(spec, namespace, labels)
        self._dashboard(spec, namespace)
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

    def _rules(self, spec: SconeSpec, namespace: str, labels: dict[str, str]) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            "scone-alerts",
            api_version="monitoring.coreos.com/v1",
            kind="PrometheusRule",
            metadata={"name": "scone-alerts", "namespace": namespace, "labels": labels},
            spec={"groups": [{"name": "scone", "rules": alert_rules(spec)}]},
            opts=child(self),
        )

    def _dashboard(self, spec: SconeSpec, namespace: str) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            "scone-dashboard",
            metadata={
                "name": "scone-dashboard",
                "namespace": namespace,
                "labels": {**MANAGED_BY, **spec.monitoring.dashboardLabels},
            },
            data={"scone.json": json.dumps(dashboard(spec), sort_keys=True)},
            opts=child(self),
        )
