"""What a stack owns and what it exports: ``SconeStack``, its outputs and the spec's digest.

``components.program`` declares the parts (in dependency order) and hands them over here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.backup_bucket import BackupBucket
from components.backupper import CasBackupper
from components.cas import Cas
from components.guards import StackGuard
from components.monitoring import Monitoring
from components.names import BACKUP_SECRET_NAME
from components.operator import SconeOperator
from components.owner.component import CasOwner
from components.scone_status import canonical_spec, digest_of
from components.services import SconeServices
from components.spec import SconeSpec


@dataclass
class SconeStack:
    """What a stack owns; ``None`` where the spec turns a part off."""

    spec: SconeSpec
    guard: StackGuard
    operator: SconeOperator
    services: SconeServices
    cas: Cas | None
    owner: CasOwner | None
    bucket: BackupBucket | None
    backupper: CasBackupper | None
    monitoring: Monitoring | None


def spec_digest(spec: SconeSpec) -> str:
    """A stable hash of the normalised spec (defaults applied); the guide's status.deployedSpec."""
    return digest_of(canonical_spec(spec))


def stack_outputs(stack: SconeStack) -> dict[str, Any]:
    """What stands in for the Scone CR's status (README: "Status fields")."""
    spec = stack.spec
    outputs: dict[str, Any] = {
        "deployedVersion": spec.serviceVersion,
        "deployedSpec": spec_digest(spec),
        "managementState": spec.managementState,
        "skipCas": spec.skipCas,
        "namespaces": {"operator": spec.namespaces.operator, "services": spec.namespaces.services},
        "operatorRelease": {
            "name": stack.operator.release.name,
            "status": stack.operator.release.status.apply(lambda status: status.status if status else None),
            "revision": stack.operator.release.status.apply(lambda status: status.revision if status else None),
        },
        "backup": {
            "enabled": spec.backup.enabled,
            "interval": spec.backup.interval,
            "retention": spec.backup.retention,
            "secretName": BACKUP_SECRET_NAME if stack.bucket else None,
            "bucket": stack.bucket.bucket_name if stack.bucket else None,
        },
    }
    if stack.cas is not None:
        outputs["cas"] = {
            "name": spec.cas.name,
            "namespace": spec.namespaces.services,
            "image": spec.cas_image,
            "statusCommand": f"kubectl get cas {spec.cas.name} -n {spec.namespaces.services}",
        }
    if stack.owner is not None:
        # No secrets: public keys and digests only.
        outputs["owner"] = {
            "casVersion": stack.owner.cas_version,
            "publicKeys": stack.owner.public_keys,
            "preUpgradeBackupPath": stack.owner.backup_path,
            "preUpgradeBackupSha256": stack.owner.backup_sha256,
        }
    return outputs
