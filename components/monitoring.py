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
    return rules


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
