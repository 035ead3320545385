"""Names and labels every part of the stack agrees on, in one place.

Labels and Secret names are read by other programs (the backupper, scone-ops, the policy
pack, Prometheus rules), and type tokens are part of every deployed stack's URNs, so each
lives here once and everything else imports it. This module imports nothing.
"""

from __future__ import annotations

#: Label on every Kubernetes object this program creates.
MANAGED_BY: dict[str, str] = {"app.kubernetes.io/managed-by": "scone-stack"}
#: Pod annotation with which SCONE's webhook injects the image pull Secret into the services' pods.
INJECT_PULL_SECRET: dict[str, str] = {"sconeapps/inject-pull-secret": "true"}
#: Name (and app label) of the CAS DB backupper's Deployment, ServiceAccount and Role.
BACKUPPER_APP = "scone-cas-db-backupper"
#: Name (and app label) of the scheduled restore drill's CronJob.
DRILL_APP = f"{BACKUPPER_APP}-drill"
#: The Secret the backupper reads its S3 settings from, in the services namespace (the guide's name).
BACKUP_SECRET_NAME = "s3-bucket-scone-cas-db-backupper"  # noqa: S105 - a Secret's name, not a secret
#: Registry path of the SCONE images when the stack names none (images.repository).
DEFAULT_IMAGE_REPOSITORY = "mtr.devops.telekom.de/osc/security/confidential-computing"

#: kubectl-provision refuses CAS names longer than this.
MAX_CAS_NAME = 15

#: Resource type tokens, as the engine records them.
CAS_TYPE = "kubernetes:services.scone.cloud/v1beta1:CAS"
BUCKET_TYPES: tuple[str, ...] = ("aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2")
STACK_GUARD_TYPE = "pulumi-python:dynamic/scone:StackGuard"

#: Node labels of the CAS placement rule: the zone, and what SCONE marks capable nodes with.
ZONE_LABEL = "topology.kubernetes.io/zone"
CAPABLE_LABELS: dict[str, str] = {
    "las.scontain.com/capable": "true",
    "las.scontain.com/ok": "true",
    "sgx.intel.com/capable": "true",
}


def registration_label(cas: str, namespace: str, version: str) -> str:
    """The label SCONE sets on nodes registered as backups of CAS ``cas`` at ``version``."""
    return f"cas-registered-{cas}.{namespace}-{version}"
