"""What each committed environment promises; the only tests that pin the stack files' values.

The rest of the suite asserts relative to each stack file's own spec, so moving every stack to
a new SCONE version (with its support-matrix entry) fails none of it; these tests say what an
environment is for, and a change of those promises should be a deliberate edit here.
"""

from __future__ import annotations

from components.spec import SconeSpec
from components.support_matrix import supported_versions
from tests.program.conftest import STACKS, Evaluate

CAS_KIND = "kubernetes:services.scone.cloud/v1beta1:CAS"
BUCKET = "aws:s3/bucket:Bucket"
ALERTS = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def spec_of(evaluate_stack: Evaluate, stack: str) -> SconeSpec:
    evaluation = evaluate_stack(stack)
    assert evaluation.error is None and evaluation.spec is not None
    return evaluation.spec


def test_the_committed_environments_are_dev_staging_prod_edge_and_local() -> None:
    assert STACKS == ["dev", "edge", "local", "prod", "staging"]


def test_prod_is_production_with_long_backups_bigger_volumes_and_alerts(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    spec = evaluation.spec
    assert spec is not None
    assert spec.production is True
    assert (spec.backup.interval, spec.backup.retention, spec.backup.minKeep) == (14400, 30, 6)
    assert (spec.cas.databaseSize, spec.cas.snapshotSize) == ("5Gi", "10Gi")
    assert evaluation.by_type(ALERTS) and evaluation.by_type(CAS_KIND) and evaluation.by_type(BUCKET)


def test_staging_is_shaped_like_prod_and_rehearses_its_upgrades(evaluate_stack: Evaluate) -> None:
    staging, prod = spec_of(evaluate_stack, "staging"), spec_of(evaluate_stack, "prod")
    assert staging.production is False
    assert staging.serviceNodeSelector == prod.serviceNodeSelector
    assert staging.operatorNodeSelector == prod.operatorNodeSelector
    assert staging.monitoring.enabled is True
    assert (staging.backup.interval, staging.backup.retention) == (7200, 7)
    versions = supported_versions()
    # Upgrades go to staging first, one release at a time: staging is on prod's release or the next.
    assert versions.index(staging.serviceVersion) - versions.index(prod.serviceVersion) in (0, 1)


def test_dev_backs_up_hourly_into_its_own_bucket_and_installs_cert_manager(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev")
    spec = evaluation.spec
    assert spec is not None
    assert (spec.backup.interval, spec.backup.retention) == (3600, 3)
    assert spec.certManager.mode == "install"
    assert spec.monitoring.enabled is False
    assert evaluation.by_type(BUCKET)


def test_edge_has_no_cas_and_takes_its_backup_secret_from_s3creds(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("edge")
    spec = evaluation.spec
    assert spec is not None
    assert spec.skipCas is True and not evaluation.by_type(CAS_KIND)
    assert spec.backup.s3Creds is not None and not evaluation.by_type(BUCKET)


def test_local_runs_on_the_embedded_control_plane_without_cloud_resources(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("local")
    spec = evaluation.spec
    assert spec is not None
    assert spec.certManager.mode == "skip"
    assert spec.backup.s3Creds is not None and not evaluation.by_type(BUCKET)
    assert evaluation.by_type(CAS_KIND)
