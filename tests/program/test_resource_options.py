"""What the engine is told about each resource: protect, retain, ignore, depends-on, secrets."""

from __future__ import annotations

import pytest

from components.cas import OWNER_MANAGED_PATHS
from components.options import OBJECT_INPUTS, RELEASE_INPUTS
from tests.program.conftest import STACKS, Evaluate
from tests.program.fake_cluster import FakeClusterView
from tools.mock_engine import Evaluation, StackConfig, contains_plain, evaluate, load_stack_config, secret_sentinel

CAS = "kubernetes:services.scone.cloud/v1beta1:CAS"
RELEASE = "kubernetes:helm.sh/v3:Release"
WEBHOOKS_READY = "pulumi-python:dynamic/scone:WebhooksReady"
LAS = "kubernetes:base.scone.cloud/v1beta1:LAS"
SGX = "kubernetes:base.scone.cloud/v1beta1:SGXPlugin"
BUCKET = "aws:s3/bucket:Bucket"
NAMESPACE = "kubernetes:core/v1:Namespace"
SECRET = "kubernetes:core/v1:Secret"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"


def operator_release(evaluation: Evaluation) -> object:
    return evaluation.one(RELEASE, "scone-operator")


def test_cas_is_protected_retained_and_leaves_owner_fields_to_the_plugin(evaluate_stack: Evaluate) -> None:
    cas = evaluate_stack("prod").one(CAS)
    assert cas.protect is True
    assert cas.retain_on_delete is True
    assert set(cas.ignore_changes) == set(OWNER_MANAGED_PATHS)


def test_cas_cr_has_exactly_the_image_kubectl_provision_expects(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod", images={"repository": "registry.example.com/sc", "prefix": "x-"})
    cas = evaluation.one(CAS)
    assert evaluation.spec is not None
    assert cas.inputs["spec"]["image"] == f"registry.example.com/sc/x-cas:{evaluation.spec.serviceVersion}"
    assert cas.inputs["spec"]["backup-controller"] == {"enabled": False}


def test_bucket_and_its_versioning_are_protected_and_retained(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    for resource in (evaluation.one(BUCKET), evaluation.one("aws:s3/bucketVersioning:BucketVersioning")):
        assert resource.protect is True
        assert resource.retain_on_delete is True
    assert evaluation.one(BUCKET).inputs["forceDestroy"] is False


def test_backupper_secret_is_retained_and_its_data_secret(evaluate_stack: Evaluate) -> None:
    secret = evaluate_stack("prod").one(SECRET, "s3-bucket-scone-cas-db-backupper")
    assert secret.retain_on_delete is True
    assert {"data", "stringData"} <= set(secret.additional_secret_outputs)


def test_operator_release_is_protected_while_a_cas_exists(evaluate_stack: Evaluate) -> None:
    release = evaluate_stack("prod").one(RELEASE, "scone-operator")
    assert release.protect is True
    assert release.inputs["atomic"] is False


def test_operator_release_is_not_protected_without_cas_in_stack_or_cluster(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("edge", cluster=FakeClusterView())
    assert evaluation.by_type(CAS) == []
    release = evaluation.one(RELEASE, "scone-operator")
    assert release.protect is False
    assert release.retain_on_delete is True


def test_services_namespace_holding_cas_is_protected_and_retained(evaluate_stack: Evaluate) -> None:
    namespace = evaluate_stack("prod").one(NAMESPACE, "osc-scone-system")
    assert namespace.protect is True
    assert namespace.retain_on_delete is True


@pytest.mark.parametrize("kind", [LAS, SGX])
def test_scone_crs_wait_for_the_operator_webhooks_and_the_upgrade_gate(evaluate_stack: Evaluate, kind: str) -> None:
    evaluation = evaluate_stack("prod")
    service = evaluation.one(kind)
    webhooks = evaluation.one(WEBHOOKS_READY)
    gate = evaluation.one("pulumi-python:dynamic/scone:CasVersionGate")
    assert webhooks.urn in service.dependencies
    assert gate.urn in service.dependencies


def test_the_webhook_wait_follows_each_release_revision_of_the_operator_namespace(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    release = evaluation.one(RELEASE, "scone-operator")
    webhooks = evaluation.one(WEBHOOKS_READY)
    assert release.urn in webhooks.dependencies
    assert webhooks.inputs["namespace"] == release.inputs["namespace"]
    assert webhooks.inputs["timeoutSeconds"] == release.inputs["timeout"]
    assert "revision" in webhooks.inputs


def test_operator_release_waits_for_the_cas_upgrade_gate(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    gate = evaluation.one("pulumi-python:dynamic/scone:CasVersionGate")
    release = evaluation.one(RELEASE, "scone-operator")
    assert gate.urn in release.dependencies
    # ...and the gate does not wait for the CAS CR, which waits for the release (no cycle).
    cas = evaluation.one(CAS)
    assert evaluation.one(WEBHOOKS_READY).urn in cas.dependencies
    assert cas.urn not in gate.dependencies


def test_node_selectors_reach_the_right_objects(evaluate_stack: Evaluate) -> None:
    service_selector = {"pool": "sgx"}
    operator_selector = {"pool": "system"}
    evaluation = evaluate_stack("dev", serviceNodeSelector=service_selector, operatorNodeSelector=operator_selector)
    assert evaluation.one(RELEASE, "scone-operator").inputs["values"]["nodeSelector"] == operator_selector
    for kind in (LAS, SGX, CAS):
        assert evaluation.one(kind).inputs["spec"]["nodeSelector"] == service_selector
    pod = evaluation.one(DEPLOYMENT).inputs["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == service_selector


def test_operator_release_uses_the_configured_chart_and_image(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", operatorChart={"location": "/charts/scone-operator-{version}.tgz"})
    release = evaluation.one(RELEASE, "scone-operator")
    spec = evaluation.spec
    assert spec is not None
    assert release.inputs["chart"] == f"/charts/scone-operator-{spec.serviceVersion}.tgz"
    assert release.inputs["values"]["image"] == f"{spec.images.repository}/k8soperators:{spec.serviceVersion}"


def test_the_operator_image_name_on_the_mirror_is_a_setting(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev", images={"operatorImageName": "osc-k8soperators"})
    spec = evaluation.spec
    assert spec is not None
    image = evaluation.one(RELEASE, "scone-operator").inputs["values"]["image"]
    assert image == f"{spec.images.repository}/osc-k8soperators:{spec.serviceVersion}"


def with_secrets(stack: str, *keys: str, **overrides: object) -> StackConfig:
    """The stack's config plus ``keys`` set as Pulumi secrets holding recognisable sentinels."""
    config = load_stack_config(stack, overrides=overrides)
    values = {**config.values, **{f"scone:{key}": secret_sentinel(key) for key in keys}}
    return StackConfig(stack, values, config.secret_keys | {f"scone:{key}" for key in keys})


@pytest.mark.parametrize("stack", STACKS)
def test_configured_secrets_never_appear_in_plain_inputs_or_outputs(stack: str) -> None:
    keys = ("dcapKey", "registryAuth")
    evaluation = evaluate(with_secrets(stack, *keys))
    assert evaluation.error is None
    for registration in evaluation.registrations:
        for key in keys:
            assert not contains_plain(registration.inputs, secret_sentinel(key)), (registration.name, key)
    assert not any(secret_sentinel(key) in str(evaluation.outputs) for key in keys)


def test_registry_auth_creates_pull_secrets_whose_content_is_secret() -> None:
    evaluation = evaluate(with_secrets("dev", "registryAuth"))
    pull_secrets = [r for r in evaluation.by_type(SECRET) if r.inputs.get("type") == "kubernetes.io/dockerconfigjson"]
    assert {r.inputs["metadata"]["name"] for r in pull_secrets} == {"scone-operator-pull", "sconeapps"}
    for secret in pull_secrets:
        assert str(secret.inputs).count(secret_sentinel("registryAuth")) == 1
        assert not contains_plain(secret.inputs, secret_sentinel("registryAuth"))


def test_unmanaged_freezes_every_scone_service_without_dropping_it(evaluate_stack: Evaluate) -> None:
    managed = evaluate_stack("prod")
    unmanaged = evaluate_stack("prod", managementState="Unmanaged")
    for kind in (RELEASE, LAS, SGX, CAS):
        assert {r.urn for r in managed.by_type(kind)} == {r.urn for r in unmanaged.by_type(kind)}
    assert set(unmanaged.one(RELEASE, "scone-operator").ignore_changes) == set(RELEASE_INPUTS)
    for kind in (LAS, SGX, CAS):
        assert set(unmanaged.one(kind).ignore_changes) == set(OBJECT_INPUTS)
    assert unmanaged.outputs["managementState"] == "Unmanaged"


def test_skip_cas_creates_no_cas_no_backupper_and_no_owner(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod", skipCas=True)
    assert evaluation.by_type(CAS) == []
    assert evaluation.by_type(DEPLOYMENT) == []
    assert evaluation.by_type("scone:index:CasOwner") == []
    assert "cas" not in evaluation.outputs


def test_s3_creds_copy_the_named_secret_and_create_no_bucket(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("edge")
    assert evaluation.by_type(BUCKET) == []
    source = evaluation.one(SECRET, "s3-creds-source")
    assert source.read is True
    copy = evaluation.one(SECRET, "s3-bucket-scone-cas-db-backupper")
    assert copy.inputs["metadata"]["namespace"] == "osc-scone-system"


def test_s3_compatible_store_uses_the_configured_keys_and_no_iam_user() -> None:
    store = {"s3": {"endpoint": "http://127.0.0.1:9000", "forcePathStyle": True}}
    evaluation = evaluate(with_secrets("dev", "s3AccessKeyId", "s3SecretAccessKey", backup=store))
    assert evaluation.error is None
    assert evaluation.by_type("aws:iam/user:User") == []
    provider = evaluation.one("pulumi:providers:aws")
    assert provider.inputs["s3UsePathStyle"] in (True, "true")
    secret = evaluation.one(SECRET, "s3-bucket-scone-cas-db-backupper")
    assert not contains_plain(secret.inputs, secret_sentinel("s3SecretAccessKey"))
    assert secret_sentinel("s3SecretAccessKey") in str(secret.inputs)


def test_aws_bucket_gets_an_iam_user_limited_to_that_bucket(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    policy = evaluation.one("aws:iam/userPolicy:UserPolicy").inputs["policy"]
    assert '"Resource": "arn:aws:s3:::scone-cas-db-backupper-mock/*"' in policy
    assert '"s3:*"' not in policy
    lifecycle = evaluation.one("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    rule = lifecycle.inputs["rules"][0]
    assert rule["expiration"]["days"] == 30
    assert rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"] == 1


def test_backupper_runs_non_root_read_only_without_capabilities(evaluate_stack: Evaluate) -> None:
    pod = evaluate_stack("prod").one(DEPLOYMENT).inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["BACKUP_INTERVAL_SECONDS"] == "14400"
    assert env["BACKUP_RETENTION_DAYS"] == "30"
    assert pod["volumes"][0]["secret"]["secretName"] == "s3-bucket-scone-cas-db-backupper"


def test_backupper_may_only_exec_into_the_cas_pod(evaluate_stack: Evaluate) -> None:
    role = evaluate_stack("prod").one("kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert role.inputs["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "resourceNames": ["cas-0"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "resourceNames": ["cas-0"], "verbs": ["create"]},
    ]


def test_changing_the_backup_interval_changes_only_the_backupper_and_its_alert(evaluate_stack: Evaluate) -> None:
    before = {r.urn: r.inputs for r in evaluate_stack("prod").registrations}
    longer = {"interval": 7200, "retention": 30, "minKeep": 6}
    after = {r.urn: r.inputs for r in evaluate_stack("prod", backup=longer).registrations}
    changed = {
        urn.split("::")[-2].split("$")[-1] + "/" + urn.split("::")[-1] for urn in before if before[urn] != after[urn]
    }
    assert changed == {
        "kubernetes:apps/v1:Deployment/scone-cas-db-backupper",
        "kubernetes:monitoring.coreos.com/v1:PrometheusRule/scone-alerts",
        "pulumi-python:dynamic/scone:SconeStatus/scone-status",  # records the new deployed spec
    }


def test_monitoring_alerts_on_operator_cas_and_backups(evaluate_stack: Evaluate) -> None:
    rules = evaluate_stack("prod").one("kubernetes:monitoring.coreos.com/v1:PrometheusRule").inputs["spec"]
    alerts = {rule["alert"]: rule for rule in rules["groups"][0]["rules"]}
    assert set(alerts) == {
        "SconeOperatorDown",
        "SconeCasNotHealthy",
        "SconeCasTooFewNodesInZone",
        "SconeCasBackupTooOld",
        "SconeCasBackupperFailing",
    }
    assert "> 28800" in alerts["SconeCasBackupTooOld"]["expr"]


def test_monitoring_off_creates_no_monitoring_objects(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("dev")
    assert evaluation.by_type("kubernetes:monitoring.coreos.com/v1:ServiceMonitor") == []
    assert evaluation.by_type("scone:index:Monitoring") == []


def test_destroy_guard_depends_on_everything_and_is_protected_while_cas_exists(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    guard = evaluation.one("pulumi-python:dynamic/scone:DestroyGuard")
    assert guard.protect is True
    others = [r for r in evaluation.registrations if r.urn != guard.urn and r.custom and not r.read]
    # Depending on a component means depending on its children: every other resource is waited for.
    assert {r.urn for r in others} <= set(guard.dependencies)


def test_destroy_guard_is_not_protected_without_cas_in_stack_or_cluster(evaluate_stack: Evaluate) -> None:
    guard = evaluate_stack("edge", cluster=FakeClusterView()).one("pulumi-python:dynamic/scone:DestroyGuard")
    assert guard.protect is False
