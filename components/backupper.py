"""CasBackupper: the workload that ships CAS snapshots to S3 every ``backup.interval``.

It runs ``scone-backupper loop`` (``backupper/``) with the least it needs: its own
ServiceAccount that may only exec into ``<cas>-0`` (the way upstream's ``--local-backup``
copies a snapshot, so the CAS volume is never mounted or blocked), non-root, read-only
root filesystem, no capabilities, RuntimeDefault seccomp.

The S3 Secret is mounted as files, which kubelet updates in place, and the backupper
reads them fresh for every run: a changed Secret applies without a restart, which fixes
the guide's known inconvenience.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.backup_settings import BackupSpec
from components.names import BACKUP_SECRET_NAME, BACKUPPER_APP, DRILL_APP, MANAGED_BY
from components.options import WaitingComponent, child, metadata

APP = BACKUPPER_APP
CREDENTIALS_DIR = "/var/run/secrets/scone-backupper/s3"
METRICS_PORT = 9102
#: The non-root user the backupper image runs as (backupper/Dockerfile).
BACKUPPER_UID = 10001
LABELS = {"app.kubernetes.io/name": APP, **MANAGED_BY}
#: The CronJob of the scheduled restore drill (backup.restoreDrill.schedule); its own labels, so
#: the metrics Service never selects a drill pod.
DRILL = DRILL_APP
DRILL_LABELS = {"app.kubernetes.io/name": DRILL, **MANAGED_BY}
#: The environment variables the backupper gets straight from the spec's ``backup`` section:
#: field of ``BackupSpec`` -> variable. The component receives the section whole, so a new
#: setting is a spec field and one line here; nothing in between changes.
BACKUP_ENV: dict[str, str] = {
    "interval": "BACKUP_INTERVAL_SECONDS",
    "retention": "BACKUP_RETENTION_DAYS",
    "minKeep": "BACKUP_MIN_KEEP",
    "prefix": "BACKUP_PREFIX",
}


@dataclass(frozen=True)
class BackupperArgs:
    """What the backupper component needs to know, cut from the spec in ``components.settings_slices``."""

    cas_name: str
    namespace: str
    version: str
    image: str
    node_selector: Mapping[str, str]
    pull_secret_name: str
    #: The spec's ``backup`` section, whole (see ``BACKUP_ENV``).
    backup: BackupSpec

    @property
    def drill_schedule(self) -> str | None:
        """Cron schedule of the restore drill (backup.restoreDrill.schedule); None: no drill."""
        return self.backup.restoreDrill.cron


def backupper_env(args: BackupperArgs) -> list[dict[str, str]]:
    """The backupper's settings (backupper/README.md: flags and environment)."""
    settings = {
        "CAS_NAME": args.cas_name,
        "CAS_NAMESPACE": args.namespace,
        "CAS_VERSION": args.version,
        **{variable: str(getattr(args.backup, field)) for field, variable in BACKUP_ENV.items()},
        "S3_CREDENTIALS_DIR": CREDENTIALS_DIR,
        "METRICS_PORT": str(METRICS_PORT),
    }
    return [{"name": key, "value": value} for key, value in settings.items()]


def restricted_security_context() -> dict[str, Any]:
    """The container security context of the Kubernetes "restricted" profile."""
    return {
        "runAsNonRoot": True,
        "runAsUser": BACKUPPER_UID,
        "runAsGroup": BACKUPPER_UID,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def backupper_pod_spec(args: BackupperArgs, service_account: pulumi.Input[str]) -> dict[str, Any]:
    """The Deployment's pod spec."""
    return {
        "serviceAccountName": service_account,
        "automountServiceAccountToken": True,
        "nodeSelector": dict(args.node_selector),
        "securityContext": {
            "runAsNonRoot": True,
            "fsGroup": BACKUPPER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "imagePullSecrets": [{"name": args.pull_secret_name}],
        "containers": [
            {
                "name": "backupper",
                "image": args.image,
                "args": ["loop"],
                "env": backupper_env(args),
                "ports": [{"name": "metrics", "containerPort": METRICS_PORT}],
                "securityContext": restricted_security_context(),
                "resources": {
                    "requests": {"cpu": "50m", "memory": "64Mi"},
                    "limits": {"cpu": "1", "memory": "256Mi"},
                },
                "livenessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 30},
                "readinessProbe": {"httpGet": {"path": "/healthz", "port": "metrics"}, "periodSeconds": 30},
                "volumeMounts": [
                    {"name": "s3-credentials", "mountPath": CREDENTIALS_DIR, "readOnly": True},
                    {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a private emptyDir
                ],
            }
        ],
        "volumes": [
            {"name": "s3-credentials", "secret": {"secretName": BACKUP_SECRET_NAME, "defaultMode": 0o440}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
        ],
    }


def drill_cron_job_spec(args: BackupperArgs) -> dict[str, Any]:
    """The restore drill: the Deployment's pod running `drill` on backup.restoreDrill.schedule.

    Same image, settings and Secret as the backupper, so the drill reads the bucket exactly as
    the backups are written. It needs no Kubernetes API (no token, the namespace's default
    ServiceAccount), no port or probes, and a /tmp without the Deployment's 64 MiB limit: it
    restores a full copy of the database there (and removes it). One drill at a time, no retry:
    a failed drill is a result, kept as the CronJob's status for the alert.
    """
    pod = backupper_pod_spec(args, "default")
    pod["automountServiceAccountToken"] = False
    pod["restartPolicy"] = "Never"
    pod["volumes"] = [v if v["name"] != "tmp" else {"name": "tmp", "emptyDir": {}} for v in pod["volumes"]]
    container = pod["containers"][0]
    for key in ("ports", "livenessProbe", "readinessProbe"):
        container.pop(key)
    container["args"] = ["drill"]
    container["env"] = [e if e["name"] != "METRICS_PORT" else {**e, "value": "0"} for e in container["env"]]
    return {
        "schedule": args.drill_schedule,
        "concurrencyPolicy": "Forbid",
        "startingDeadlineSeconds": 3600,
        "successfulJobsHistoryLimit": 1,
        "failedJobsHistoryLimit": 3,
        "jobTemplate": {
            "metadata": {"labels": DRILL_LABELS},
            "spec": {"backoffLimit": 0, "template": {"metadata": {"labels": DRILL_LABELS}, "spec": pod}},
        },
    }


class CasBackupper(WaitingComponent):
    """The backupper Deployment, its identity and its metrics Service."""

    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service

    def __init__(
        self,
        name: str,
        args: BackupperArgs,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:CasBackupper", name, waits_for, opts)
        account = self._service_account(args.namespace)
        role = self._exec_into_cas_role(args)
        self._role_binding(args.namespace, account, role)
        self.deployment = self._deployment(args, account)
        self.service = self._metrics_service(args.namespace)
        if args.drill_schedule:
            drill_meta = metadata(DRILL, args.namespace, DRILL_LABELS)
            k8s.batch.v1.CronJob(DRILL, metadata=drill_meta, spec=drill_cron_job_spec(args), opts=child(self))
        self.register_outputs({"deployment": APP, "image": args.image})

    def _service_account(self, namespace: str) -> k8s.core.v1.ServiceAccount:
        return k8s.core.v1.ServiceAccount(
            APP,
            metadata=metadata(APP, namespace, LABELS),
            opts=child(self),
        )

    def _exec_into_cas_role(self, args: BackupperArgs) -> k8s.rbac.v1.Role:
        """Read the CAS pod and exec into it; nothing else, and no other pod."""
        cas_pod = f"{args.cas_name}-0"
        rules: list[Any] = [
            {"apiGroups": [""], "resources": ["pods"], "resourceNames": [cas_pod], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "resourceNames": [cas_pod], "verbs": ["create"]},
        ]
        return k8s.rbac.v1.Role(
            APP,
            metadata=metadata(APP, args.namespace, LABELS),
            rules=rules,
            opts=child(self),
        )

    def _role_binding(
        self, namespace: str, account: k8s.core.v1.ServiceAccount, role: k8s.rbac.v1.Role
    ) -> k8s.rbac.v1.RoleBinding:
        role_ref: Any = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role.metadata.name}
        subjects: list[Any] = [{"kind": "ServiceAccount", "name": account.metadata.name, "namespace": namespace}]
        return k8s.rbac.v1.RoleBinding(
            APP,
            metadata=metadata(APP, namespace, LABELS),
            role_ref=role_ref,
            subjects=subjects,
            opts=child(self),
        )

    def _deployment(self, args: BackupperArgs, account: k8s.core.v1.ServiceAccount) -> k8s.apps.v1.Deployment:
        deployment_spec: Any = {
            "replicas": 1,
            # Never two backuppers at once: they would race on retention.
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
            "template": {"metadata": {"labels": LABELS}, "spec": backupper_pod_spec(args, account.metadata.name)},
        }
        return k8s.apps.v1.Deployment(
            APP,
            metadata=metadata(APP, args.namespace, LABELS),
            spec=deployment_spec,
            opts=child(self),
        )

    def _metrics_service(self, namespace: str) -> k8s.core.v1.Service:
        service_spec: Any = {
            "selector": {"app.kubernetes.io/name": APP},
            "ports": [{"name": "metrics", "port": METRICS_PORT, "targetPort": "metrics"}],
        }
        return k8s.core.v1.Service(
            f"{APP}-metrics",
            metadata=metadata(f"{APP}-metrics", namespace, LABELS),
            spec=service_spec,
            opts=child(self),
        )
