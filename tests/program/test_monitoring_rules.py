"""The CAS alerts: a CAS pod that is not Ready, and too few nodes in the CAS's zone to take it over.

Both read kube-state-metrics series; the node-label one needs the node labels allow-listed
(kube-state-metrics exports none by default), which the runbook and the README state.
"""

from __future__ import annotations

from typing import Any

from components.monitoring import alert_rules, ksm_label, node_label_allowlist
from components.settings_slices import monitoring_args
from components.spec import SconeSpec
from tests.program.test_readme import ROOT

LABEL = "cas-registered-cas.osc-scone-system-5.8.0"


def _alerts(spec: SconeSpec) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in alert_rules(monitoring_args(spec))}


def _spec(**cas: Any) -> SconeSpec:
    return SconeSpec.model_validate({"serviceVersion": "5.8.0", "cas": cas})


def test_kube_state_metrics_label_names_are_sanitised_as_it_exports_them() -> None:
    assert ksm_label("topology.kubernetes.io/zone") == "label_topology_kubernetes_io_zone"
    assert ksm_label(LABEL) == "label_cas_registered_cas_osc_scone_system_5_8_0"


def test_too_few_nodes_alert_counts_registered_capable_schedulable_nodes_in_the_cas_zone() -> None:
    rule = _alerts(_spec())["SconeCasTooFewNodesInZone"]
    expr = rule["expr"]
    for series in (
        'label_cas_registered_cas_osc_scone_system_5_8_0="true"',
        'label_las_scontain_com_capable="true"',
        'label_las_scontain_com_ok="true"',
        'label_sgx_intel_com_capable="true"',
        "kube_node_spec_unschedulable == 0",
        'kube_pod_info{namespace="osc-scone-system", pod="cas-0"}',
        "on(label_topology_kubernetes_io_zone)",
    ):
        assert series in expr, series
    # No capable node at all must still fire (count() of nothing is empty, hence "or vector(0)").
    assert "or on() vector(0)) < 2" in expr
    assert rule["labels"]["severity"] == "critical"
    assert "kubectl get nodes -L topology.kubernetes.io/zone" in rule["annotations"]["runbook"]
    assert node_label_allowlist(monitoring_args(_spec()), "cas") in rule["annotations"]["runbook"]


def test_too_few_nodes_alert_follows_min_capable_nodes_in_zone() -> None:
    assert ") < 3 and" in _alerts(_spec(minCapableNodesInZone=3))["SconeCasTooFewNodesInZone"]["expr"]


def test_allowlist_names_every_node_label_the_alert_reads() -> None:
    flag = node_label_allowlist(monitoring_args(_spec()), "cas")
    assert flag.startswith("--metric-labels-allowlist=nodes=[")
    for key in (
        "topology.kubernetes.io/zone",
        "las.scontain.com/capable",
        "las.scontain.com/ok",
        "sgx.intel.com/capable",
        LABEL,
    ):
        assert key in flag


def test_cas_pod_not_ready_alert_carries_a_runbook() -> None:
    rule = _alerts(_spec())["SconeCasNotHealthy"]
    assert 'kube_pod_status_ready{namespace="osc-scone-system", pod="cas-0", condition="true"}' in rule["expr"]
    runbook = rule["annotations"]["runbook"]
    assert "kubectl describe pod cas-0 -n osc-scone-system" in runbook
    assert "Never delete the CAS CR or its PVCs" in runbook


def test_a_stack_without_cas_has_no_cas_alerts() -> None:
    alerts = _alerts(SconeSpec.model_validate({"serviceVersion": "5.8.0", "skipCas": True}))
    assert "SconeCasTooFewNodesInZone" not in alerts and "SconeCasNotHealthy" not in alerts


def test_the_readme_states_the_kube_state_metrics_allowlist() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "--metric-labels-allowlist=nodes=[" in readme
    assert "SconeCasTooFewNodesInZone" in readme
