"""cas-and-backup-bucket-protected: CAS and the backup bucket carry protect."""

from __future__ import annotations

import pytest

from policy.tests.policy_harness import resource_args, resource_violations

POLICY = "cas-and-backup-bucket-protected"
CAS = "kubernetes:services.scone.cloud/v1beta1:CAS"
CAS_PROPS = {"apiVersion": "services.scone.cloud/v1beta1", "kind": "CAS", "metadata": {"name": "cas"}}


@pytest.mark.parametrize("resource_type", [CAS, "aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"])
def test_a_protected_cas_or_bucket_passes(resource_type: str) -> None:
    assert resource_violations(POLICY, resource_args(resource_type, CAS_PROPS, protect=True)) == []


def test_an_unprotected_cas_is_a_violation_that_says_what_to_do() -> None:
    [message] = resource_violations(POLICY, resource_args(CAS, CAS_PROPS, name="cas", protect=False))
    assert "CAS 'cas' must be protected" in message and "protect=True" in message


def test_an_unprotected_bucket_is_a_violation() -> None:
    [message] = resource_violations(POLICY, resource_args("aws:s3/bucket:Bucket", {}, name="backups"))
    assert "backup bucket 'backups' must be protected" in message


def test_other_resources_need_no_protection() -> None:
    args = resource_args("kubernetes:core/v1:ConfigMap", {"metadata": {"name": "x"}})
    assert resource_violations(POLICY, args) == []
