"""What scone-ops needs to know about a stack, read from its stack file by the program's own loader.

Why the program's loader (``components.spec_loader.validate_spec``): the namespaces, CAS name,
version and backup settings must be exactly the ones ``pulumi up`` uses, defaults included, and a
bad stack file must fail here with the same message it gets in a preview. No Pulumi state and no
credentials are needed: ``secure:`` values are never decrypted, only noted as present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from scone_ops.errors import ExitCode, OpsError
from scone_ops.stack_kube import StackCluster, stack_cluster

#: The repository this package lives in (ops/ is installed editable from it).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_NAMESPACE = "scone"
#: The Secret the program copies the bucket credentials into, in the services namespace.
BACKUPPER_SECRET = "s3-bucket-scone-cas-db-backupper"  # noqa: S105 - a name, not a password
BACKUPPER_DEPLOYMENT = "scone-cas-db-backupper"


@dataclass(frozen=True)
class BackupTarget:
    """Where the stack's backup sets live in the bucket and how often one is taken."""

    enabled: bool
    interval_seconds: int
    retention_days: int
    min_keep: int
    prefix: str


@dataclass(frozen=True)
class StackTarget:
    """The CAS a stack runs and where."""

    stack_file: str
    namespace: str
    cas_name: str
    version: str
    has_cas: bool
    backup: BackupTarget
    cluster: StackCluster = field(default_factory=StackCluster)

    @property
    def pod_name(self) -> str:
        """The CAS StatefulSet's only pod."""
        return f"{self.cas_name}-0"

    @property
    def registration_label(self) -> str:
        """The node label the CAS backup controller sets on nodes registered for this CAS."""
        return f"cas-registered-{self.cas_name}.{self.namespace}-{self.version}"

    def as_dict(self) -> dict[str, Any]:
        """For `--output json`."""
        return {"stack_file": self.stack_file, "namespace": self.namespace, "cas": self.cas_name,
                "version": self.version}


def _engine_string(value: Any) -> str:
    """The CLI hands every config value to the program as a string, maps and lists as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _project_defaults(root: Path) -> dict[str, Any]:
    project_file = root / "Pulumi.yaml"
    if not project_file.is_file():
        return {}
    project = yaml.safe_load(project_file.read_text()) or {}
    return {f"{CONFIG_NAMESPACE}:{key}": decl["default"] for key, decl in (project.get("config") or {}).items()
            if isinstance(decl, dict) and "default" in decl}


def stack_file_for(stack: str, root: Path = PROJECT_ROOT) -> Path:
    """``stacks/Pulumi.<stack>.yaml`` of the project."""
    return root / "stacks" / f"Pulumi.{stack}.yaml"


def read_raw(path: Path, root: Path = PROJECT_ROOT) -> Any:
    """The stack file's ``scone:`` values as the engine hands them to the program (``RawConfig``), or OpsError."""
    from components.config_source import RawConfig, decode_value, stack_names_in  # noqa: PLC0415

    if not path.is_file():
        stacks = stack_names_in(path.parent)
        raise OpsError(ExitCode.CONFIG, f"stack file {path} does not exist",
                       f"pass --stack with one of: {', '.join(stacks) or '(none found)'}, or --stack-file PATH")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise OpsError(ExitCode.CONFIG, f"{path} is not valid YAML: {err}", "fix the stack file") from None
    merged = {**_project_defaults(root), **(document.get("config") or {})}
    values: dict[str, Any] = {}
    secret_keys: set[str] = set()
    prefix = f"{CONFIG_NAMESPACE}:"
    for key, value in merged.items():
        full = key if ":" in key else prefix + key
        if not full.startswith(prefix):
            continue
        short = full[len(prefix):]
        if isinstance(value, dict) and set(value) == {"secure"}:
            secret_keys.add(short)
            values[short] = "(secret, not decrypted)"
        else:
            values[short] = decode_value(_engine_string(value))
    return RawConfig(values=values, secret_keys=frozenset(secret_keys), stack_file=str(path))


def load_spec(path: Path, root: Path = PROJECT_ROOT) -> Any:
    """The stack's validated ``SconeSpec`` (the program's own model), or OpsError(CONFIG)."""
    return _validated(read_raw(path, root), path)


def _validated(raw: Any, path: Path) -> Any:
    from components.config_errors import SpecError  # noqa: PLC0415
    from components.spec_loader import validate_spec  # noqa: PLC0415

    try:
        spec = validate_spec(raw)
    except SpecError as err:
        raise OpsError(ExitCode.CONFIG, str(err), f"fix {path}; `pulumi preview` shows the same problems") from None
    return spec


def load_target(path: Path, root: Path = PROJECT_ROOT) -> StackTarget:
    """Validate the stack file with the program's spec loader and keep what operations need."""
    raw = read_raw(path, root)
    spec = _validated(raw, path)
    return StackTarget(
        stack_file=str(path),
        namespace=spec.namespaces.services,
        cas_name=spec.cas.name,
        version=spec.serviceVersion,
        has_cas=spec.has_cas,
        backup=BackupTarget(enabled=spec.backup.enabled, interval_seconds=spec.backup.interval,
                            retention_days=spec.backup.retention, min_keep=spec.backup.minKeep,
                            prefix=spec.backup.prefix),
        cluster=stack_cluster(raw, root),
    )
