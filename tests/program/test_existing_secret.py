"""``backup.s3.useExistingSecret``: the backupper uses the Secret already in the services namespace."""

from __future__ import annotations

import pytest

from tests.program.conftest import Evaluate
from tools.mock_engine import evaluate, load_stack_config

CHECK = "pulumi-python:dynamic/scone:ExistingSecretCheck"
SECRET = "kubernetes:core/v1:Secret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
EXISTING = {"s3": {"useExistingSecret": True}}


def test_existing_secret_creates_no_bucket_and_copies_no_secret(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", backup=EXISTING)
    assert evaluation.error is None
    assert [r.type for r in evaluation.registrations if r.type.startswith("aws:")] == []
    assert evaluation.by_type("pulumi:providers:aws") == []
    assert [r.name for r in evaluation.by_type(SECRET)] == []
    check = evaluation.one(CHECK)
    assert {k: v for k, v in check.inputs.items() if not k.startswith("__")} == {
        "name": "s3-bucket-scone-cas-db-backupper",
        "namespace": "osc-scone-system",
        "kubectl": "kubectl",
    }
    assert evaluation.outputs["backup"]["secretName"] == "s3-bucket-scone-cas-db-backupper"


def test_the_backupper_mounts_the_existing_secret_and_waits_for_its_check(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", backup=EXISTING)
    backupper = evaluation.one(DEPLOYMENT)
    assert evaluation.one(CHECK).urn in backupper.dependencies
    volumes = backupper.inputs["spec"]["template"]["spec"]["volumes"]
    assert {
        "name": "s3-credentials",
        "secret": {"secretName": "s3-bucket-scone-cas-db-backupper", "defaultMode": 0o440},
    } in volumes


def test_the_existing_secret_check_waits_for_the_guard_and_the_services_namespace(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", backup=EXISTING)
    check = evaluation.one(CHECK)
    assert evaluation.one("pulumi-python:dynamic/scone:StackGuard").urn in check.dependencies
    assert evaluation.one("kubernetes:core/v1:Namespace", "osc-scone-system").urn in check.dependencies


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        (
            {"s3Creds": {"secret": "team-s3", "namespace": "team"}, **EXISTING},
            "scone:backup.s3Creds: cannot be combined with backup.s3.useExistingSecret: s3Creds copies its Secret"
            " over s3-bucket-scone-cas-db-backupper, useExistingSecret uses the one already there; keep one",
        ),
        (
            {"s3": {"useExistingSecret": True, "endpoint": "http://127.0.0.1:9000", "bucketName": "b"}},
            "scone:backup.s3.useExistingSecret: cannot be combined with backup.s3.bucketName, backup.s3.endpoint:"
            " the existing Secret already names the bucket and its store; remove those keys or set"
            " useExistingSecret to false",
        ),
        (
            {"s3": {"useExistingSecret": "yes please"}},
            "scone:backup.s3.useExistingSecret: must be",
        ),
    ],
)
def test_existing_secret_with_other_bucket_settings_is_refused_naming_the_keys(
    evaluate_stack: Evaluate, backup: dict[str, object], message: str
) -> None:
    evaluation = evaluate_stack("dev", backup=backup)
    assert evaluation.error is not None
    assert message in evaluation.error
    assert evaluation.registrations == []


def test_existing_secret_with_store_keys_is_refused_as_unused() -> None:
    config = load_stack_config("dev", overrides={"backup": EXISTING, "s3AccessKeyId": "AKIAX"})
    evaluation = evaluate(config)
    assert evaluation.error is not None
    assert "scone:s3AccessKeyId is set but unused" in evaluation.error
