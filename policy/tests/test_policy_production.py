"""production-backups-enabled and production-monitoring-enabled (stack policies)."""

from __future__ import annotations

from policy.scone_policy import stack_facts
from policy.tests.policy_harness import policy_resource, stack_violations

CAS = policy_resource("kubernetes:services.scone.cloud/v1beta1:CAS", {"metadata": {"name": "cas"}}, "cas")
BACKUPPER = policy_resource(
    "kubernetes:apps/v1:Deployment", {"metadata": {"name": "scone-cas-db-backupper"}}, "scone-cas-db-backupper"
)
BUCKET = policy_resource("aws:s3/bucket:Bucket", {}, "scone-cas-db-backupper")
SECRET = policy_resource(
    "kubernetes:core/v1:Secret", {"metadata": {"name": "s3-bucket-scone-cas-db-backupper"}}, "s3-bucket"
)
ALERTS = policy_resource("kubernetes:monitoring.coreos.com/v1:PrometheusRule", {}, "scone-alerts")
PRODUCTION = {"production": True}


def test_a_production_stack_with_cas_backupper_and_bucket_passes() -> None:
    assert stack_violations("production-backups-enabled", [CAS, BACKUPPER, BUCKET], PRODUCTION) == []
    assert stack_violations("production-backups-enabled", [CAS, BACKUPPER, SECRET], PRODUCTION) == []


def test_a_production_stack_with_cas_but_no_backupper_is_a_violation() -> None:
    [message] = stack_violations("production-backups-enabled", [CAS, BUCKET], PRODUCTION)
    assert "backup.enabled: true" in message


def test_a_production_backupper_without_a_bucket_is_a_violation() -> None:
    [message] = stack_violations("production-backups-enabled", [CAS, BACKUPPER], PRODUCTION)
    assert "no bucket" in message


def test_a_production_stack_without_cas_has_nothing_to_back_up() -> None:
    assert stack_violations("production-backups-enabled", [], PRODUCTION) == []


def test_a_stack_not_marked_production_may_run_without_backups() -> None:
    assert stack_violations("production-backups-enabled", [CAS], {"production": False}) == []
    assert stack_violations("production-backups-enabled", [CAS], None) == []


def test_the_stack_guard_can_mark_a_stack_production() -> None:
    guard = policy_resource("pulumi-python:dynamic/scone:StackGuard", {"production": True}, "stack-guard")
    assert stack_violations("production-backups-enabled", [guard, CAS], None)


def test_production_needs_the_alerts() -> None:
    assert stack_violations("production-monitoring-enabled", [ALERTS], PRODUCTION) == []
    [message] = stack_violations("production-monitoring-enabled", [CAS], PRODUCTION)
    assert "monitoring.enabled: true" in message
    assert stack_violations("production-monitoring-enabled", [CAS], {"production": False}) == []


def test_only_a_boolean_true_marks_production() -> None:
    assert stack_facts.production({"production": True}) is True
    assert stack_facts.production({"production": "true"}) is False
    assert stack_facts.production({}) is False
