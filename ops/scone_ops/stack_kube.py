"""Which cluster scone-ops' kubectl reaches: the one the stack names, unless a flag says otherwise.

Why: ``pulumi up`` reaches the cluster of the stack's ``scone:kubeconfig`` / ``scone:kubeContext``
(the ambient ``KUBECONFIG`` only when they are not set). An operation on that stack's CAS must reach
the same cluster: following the shell's current context instead would cordon, drain or move on
another cluster, or report a healthy CAS that is not this stack's.

- The stack's settings are validated by the program's own ``read_cluster_settings``; a relative path
  is taken from the project directory, where Pulumi runs the program.
- ``--kubeconfig`` replaces ``scone:kubeconfig`` and ``--context`` replaces ``scone:kubeContext``, each
  on its own (as kubectl's own flags replace ``KUBECONFIG`` and the current context).
- A kubeconfig set with ``--secret`` is encrypted in the stack file. scone-ops reads no Pulumi state
  and decrypts nothing, so it refuses, naming ``scone:kubeconfig``, until ``--kubeconfig`` names a file
  for the stack's cluster on this machine. The secret's value is never read, so never shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.cluster_settings import CONTEXT_KEY, KUBECONFIG_KEY, read_cluster_settings
from components.config_errors import SpecError
from components.config_source import RawConfig
from components.kube_access import KubeTarget
from scone_ops.errors import ExitCode, OpsError

KUBECONFIG_SETTING = f"scone:{KUBECONFIG_KEY}"
CONTEXT_SETTING = f"scone:{CONTEXT_KEY}"


@dataclass(frozen=True)
class StackCluster:
    """The cluster a stack file names; all empty: the ambient ``KUBECONFIG`` and its current context."""

    kubeconfig: str | None = None
    context: str | None = None
    #: ``scone:kubeconfig`` is set with ``--secret``: a path or content scone-ops cannot read.
    secret_kubeconfig: bool = False
    stack_file: str = ""


def stack_cluster(raw: RawConfig, root: Path) -> StackCluster:
    """The stack's ``scone:kubeconfig`` (absolute, from ``root`` when relative) and ``scone:kubeContext``."""
    secret = KUBECONFIG_KEY in raw.secret_keys
    values: dict[str, Any] = {k: v for k, v in raw.values.items() if not (secret and k == KUBECONFIG_KEY)}
    plain = RawConfig(values=values, secret_keys=raw.secret_keys - {KUBECONFIG_KEY}, stack_file=raw.stack_file)
    try:
        target = read_cluster_settings(plain, local_files=False).target
    except SpecError as err:
        raise OpsError(ExitCode.CONFIG, str(err), f"fix {raw.stack_file}; `pulumi preview` shows the same"
                       " problems") from None
    path = local_path(target.kubeconfig, root) if target.kubeconfig is not None else None
    return StackCluster(path, target.context, secret, raw.stack_file)


def local_path(value: str, root: Path) -> str:
    """A kubeconfig path of the stack file on this machine: ``~`` expanded, a relative one from ``root``."""
    written = Path(value.strip()).expanduser()
    return str(written if written.is_absolute() else (root / written).absolute())


def kube_target(stack: StackCluster | None, kubeconfig: str | None, context: str | None) -> KubeTarget:
    """The target of every kubectl call: the flags where given, else the stack's settings, else ambient."""
    context = context or (stack.context if stack is not None else None)
    if kubeconfig or stack is None:
        return KubeTarget(kubeconfig or None, None, context)
    if stack.secret_kubeconfig:
        raise OpsError(
            ExitCode.CONFIG,
            f"{KUBECONFIG_SETTING} of {stack.stack_file} is a secret (set with --secret), and scone-ops reads no"
            " secret of the stack: it cannot tell which cluster the stack runs on",
            "pass --kubeconfig PATH with a kubeconfig of the stack's cluster on this machine (and --context NAME"
            f" when its context is not the one {CONTEXT_SETTING} names)",
        )
    if stack.kubeconfig is not None and not Path(stack.kubeconfig).is_file():
        raise OpsError(
            ExitCode.CONFIG,
            f"{KUBECONFIG_SETTING} of {stack.stack_file} names {stack.kubeconfig}, which is not a file on this"
            " machine",
            "run scone-ops where that kubeconfig exists, or pass --kubeconfig PATH for the stack's cluster",
        )
    return KubeTarget(stack.kubeconfig, None, context)
