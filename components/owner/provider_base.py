"""What every owner provider shares: the resource properties, the preview-safe comparisons, the error type.

Why one small base: the five owner providers (upgrade, version gate, provisioning, recovery, vault)
read the same camelCase properties from Pulumi state, compare them the same way in ``diff`` (tolerating
the UNKNOWN sentinel of a preview) and report refusals through the same user-facing error. Nothing here
runs the plugin or kubectl; importing it has no side effects (the provider process re-imports it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.dynamic import CheckFailure
from pulumi.runtime.rpc import UNKNOWN

from components.kube_access import AMBIENT, KubeTarget
from components.names import MAX_CAS_NAME
from components.owner.cluster import Cluster
from components.owner.plugin import PluginEnv, PluginRunner, RunPolicy, preflight
from components.owner.versions import version_problem
from components.provider_errors import UserFacingError

#: Kept out of the outputs. A kubeconfig's content (``kubeconfigContent``) stays in them so that a refresh
#: or delete reaches the stack's cluster: it arrives as a secret input, and the engine marks an output
#: secret whenever the input of the same name is.
SECRET_INPUTS = ("dcapKey",)

#: The inputs every owner resource carries; a change to any of them is a change of the resource.
OWNER_KEYS = (
    "casName",
    "namespace",
    "version",
    "imageRepo",
    "imagePrefix",
    "targetDir",
    "workDir",
    "backupDir",
    "timeoutSeconds",
    "maxAttempts",
    "backoffSeconds",
    "supportedVersions",
    "kubectl",
)


class OwnerOperationError(UserFacingError):
    """A refused or failed owner operation; the text is what the user sees in ``pulumi up``."""


def fail(message: str) -> OwnerOperationError:
    return OwnerOperationError(message)


@dataclass(frozen=True)
class OwnerProps:
    """The properties every owner resource carries (camelCase keys in Pulumi state)."""

    cas_name: str
    namespace: str
    version: str
    image_repo: str
    image_prefix: str
    target_dir: Path
    work_dir: Path
    backup_dir: Path | None
    timeout_seconds: float
    max_attempts: int
    backoff_seconds: float
    supported_versions: tuple[str, ...]
    kubectl: str
    dcap_key: str | None
    target: KubeTarget = AMBIENT

    @staticmethod
    def of(props: dict[str, Any]) -> OwnerProps:
        backup = props.get("backupDir")
        return OwnerProps(
            cas_name=str(props["casName"]),
            namespace=str(props["namespace"]),
            version=str(props["version"]),
            image_repo=str(props.get("imageRepo") or ""),
            image_prefix=str(props.get("imagePrefix") or ""),
            target_dir=Path(str(props.get("targetDir") or "")),
            work_dir=Path(str(props.get("workDir") or "")),
            backup_dir=Path(str(backup)) if backup else None,
            timeout_seconds=float(props.get("timeoutSeconds") or 1800),
            max_attempts=int(props.get("maxAttempts") or 5),
            backoff_seconds=float(props["backoffSeconds"] if props.get("backoffSeconds") is not None else 10),
            supported_versions=tuple(str(v) for v in props.get("supportedVersions") or ()),
            kubectl=str(props.get("kubectl") or "kubectl"),
            dcap_key=props.get("dcapKey") or None,
            target=KubeTarget.of(props),
        )

    def runner(self, version: str | None = None) -> PluginRunner:
        env = PluginEnv(version or self.version, self.image_repo, self.image_prefix, self.target_dir, self.dcap_key)
        return PluginRunner(
            env,
            self.work_dir,
            RunPolicy(self.timeout_seconds, self.max_attempts, self.backoff_seconds),
            kubectl=self.kubectl,
            target=self.target,
        )

    def cluster(self) -> Cluster:
        return Cluster(self.kubectl, self.target)

    def preflight(self, need_identity: bool) -> None:
        cluster = self.cluster()
        preflight(
            target_dir=self.target_dir,
            namespace=self.namespace,
            need_identity=need_identity,
            namespace_exists=lambda: cluster.namespace_exists(self.namespace),
            kubectl=self.kubectl,
        )


def public_outputs(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs minus secrets: what may be recorded as outputs."""
    return {k: v for k, v in props.items() if k not in SECRET_INPUTS and not k.startswith("__")}


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def changed_keys(olds: dict[str, Any], news: dict[str, Any], keys: tuple[str, ...]) -> list[str]:
    return [k for k in keys if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]


def cas_args(p: OwnerProps, *flags: str) -> list[str]:
    """``cas <name> -n <ns> <flags>``: upstream reads ``--upgrade`` only after the service word."""
    return ["cas", p.cas_name, "-n", p.namespace, *flags]


def check_common(news: dict[str, Any]) -> list[CheckFailure]:
    """The input checks every owner resource shares (run in preview; tolerate unknowns)."""
    failures = []
    for key in ("casName", "namespace", "version"):
        if news.get(key) in (None, ""):
            failures.append(CheckFailure(key, f"{key} is required"))
    name = news.get("casName")
    if isinstance(name, str) and not is_unknown(name) and len(name) > MAX_CAS_NAME:
        failures.append(
            CheckFailure(
                "casName",
                f"CAS name '{name}' is longer than {MAX_CAS_NAME} characters, which kubectl-provision refuses",
            )
        )
    version, supported = news.get("version"), news.get("supportedVersions")
    if (
        isinstance(version, str)
        and not is_unknown(version)
        and isinstance(supported, list)
        and not any(map(is_unknown, supported))
    ):
        problem = version_problem(version, tuple(supported))
        if problem:
            failures.append(CheckFailure("version", problem))
    return failures
