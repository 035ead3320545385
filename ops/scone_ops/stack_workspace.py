"""One Pulumi stack opened through the Automation API, and what a reconcile reads from it.

Why the Automation API over the project directory (not an inline program): the reconcile must run
exactly the program `pulumi up` runs, with the same project settings, backend, secrets provider and
stack config, so previews, policy, protect and the state stay the team's usual ones. The backend is
`--backend-url` or the ambient login; the secrets passphrase comes only from the environment
(`PULUMI_CONFIG_PASSPHRASE[_FILE]`), never from a flag, so it never shows in process arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from components.cluster_settings import looks_like_content
from components.kube_access import KubeTarget
from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import Kubectl
from scone_ops.stack_kube import KUBECONFIG_SETTING, StackCluster, kube_target, local_path, stack_cluster
from scone_ops.stack_target import PROJECT_ROOT, load_spec, read_raw

CAS_TYPE = "kubernetes:services.scone.cloud/v1beta1:CAS"


@dataclass(frozen=True)
class StackRef:
    """Where the stack lives: project directory, stack name, backend, cluster."""

    stack: str
    cwd: Path = PROJECT_ROOT
    backend_url: str | None = None
    kubeconfig: str | None = None
    stack_file: Path | None = None

    def project(self) -> dict[str, Any]:
        path = self.cwd / "Pulumi.yaml"
        if not path.is_file():
            raise OpsError(ExitCode.USAGE, f"--cwd {self.cwd} holds no Pulumi.yaml",
                           "pass --cwd with the project directory (default: this repository)")
        loaded: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        return loaded

    def program_dir(self) -> Path:
        """Where the program's code is: the project's `main`, else the project directory."""
        main = self.project().get("main")
        return (self.cwd / str(main)).resolve() if main else self.cwd

    def config_file(self) -> Path:
        """The stack file, `<stackConfigDir>/Pulumi.<stack>.yaml` of the project (or --stack-file)."""
        if self.stack_file is not None:
            return self.stack_file
        config_dir = self.project().get("stackConfigDir") or "."
        return self.cwd / str(config_dir) / f"Pulumi.{self.stack}.yaml"

    def cluster(self) -> StackCluster | None:
        """The cluster the stack file names (None without a stack file: the reconcile reports that itself)."""
        path = self.config_file()
        return stack_cluster(read_raw(path, self.cwd), self.cwd) if path.is_file() else None


@dataclass(frozen=True)
class Desired:
    """The stack file's spec and its digest, computed by the program's own code."""

    spec: Any
    digest: str


def desired(ref: StackRef) -> Desired:
    """Validate the stack file with the program's loader and hash it with its `spec_digest`."""
    program = str(ref.program_dir())
    if program not in sys.path:
        sys.path.insert(0, program)
    spec = load_spec(ref.config_file(), ref.cwd)
    from components.stack import spec_digest  # noqa: PLC0415 - the program's code, found through its project

    return Desired(spec, spec_digest(spec))


@dataclass(frozen=True)
class Deployed:
    """What the stack's state says was deployed by the last successful update."""

    resources: int
    outputs: dict[str, Any]
    cas: tuple[str, str] | None  # name, namespace of the CAS CR the state holds

    @property
    def ever_deployed(self) -> bool:
        return self.resources > 0 and bool(self.outputs.get("deployedSpec"))

    def output(self, key: str) -> str:
        value = self.outputs.get(key)
        return "" if value is None else str(value)

    def operator_namespace(self) -> str | None:
        namespaces = self.outputs.get("namespaces")
        return str(namespaces["operator"]) if isinstance(namespaces, dict) and namespaces.get("operator") else None


def open_stack(ref: StackRef) -> auto.Stack:
    """Select the existing stack (a reconciler never creates one)."""
    env: dict[str, str] = {}
    if ref.backend_url:
        env["PULUMI_BACKEND_URL"] = ref.backend_url
    if ref.kubeconfig:
        env["KUBECONFIG"] = ref.kubeconfig
    ref.project()
    try:
        workspace = auto.LocalWorkspace(work_dir=str(ref.cwd), env_vars=env)
        return auto.Stack.select(ref.stack, workspace)
    except auto.StackNotFoundError:
        raise OpsError(ExitCode.USAGE, f"stack {ref.stack!r} does not exist in this backend",
                       "check --stack and --backend-url (or `pulumi login`); create it with `pulumi stack init`"
                       ) from None
    except (auto.CommandError, FileNotFoundError) as err:
        first = str(err).strip().splitlines()
        raise OpsError(ExitCode.CLUSTER, "cannot open the stack with the pulumi CLI"
                       f" ({first[-1][:300] if first else type(err).__name__})",
                       "check that `pulumi` is on PATH, the backend is reachable and"
                       " PULUMI_CONFIG_PASSPHRASE(_FILE) is set") from None


def deployed(stack: auto.Stack) -> Deployed:
    """Resource count, plain outputs and the CAS of the stack's state (no secret is decrypted)."""
    state = stack.export_stack().deployment or {}
    resources = list(state.get("resources") or [])
    cas = None
    for resource in resources:
        if resource.get("type") == CAS_TYPE and not resource.get("delete"):
            meta = (resource.get("outputs") or {}).get("metadata") or {}
            cas = (str(meta.get("name")), str(meta.get("namespace")))
    outputs = {key: value.value for key, value in stack.outputs().items() if not value.secret}
    return Deployed(len(resources), outputs, cas)


def secret_values(stack: auto.Stack) -> list[str]:
    """The stack's secret config values, decrypted in memory only so that errors can be redacted."""
    return [value.value for value in stack.get_all_config().values() if value.secret and value.value]


@contextmanager
def stack_kubectl(ref: StackRef, kubeconfig: str | None) -> Iterator[Kubectl]:
    """kubectl for the reconcile's own calls: on the cluster the stack names, as ``kube_target``.

    A ``scone:kubeconfig`` set with ``--secret`` is decrypted through Pulumi here (the reconcile runs
    the stack with its passphrase anyway); its content stays in a private file for the block.
    """
    cluster = ref.cluster()
    if kubeconfig or cluster is None or not cluster.secret_kubeconfig:
        yield Kubectl.of(kube_target(cluster, kubeconfig, None))
        return
    try:
        value = open_stack(ref).get_config(KUBECONFIG_SETTING).value
    except auto.CommandError:
        raise OpsError(ExitCode.CONFIG, f"{KUBECONFIG_SETTING} of stack {ref.stack} is a secret that Pulumi could"
                       " not decrypt here", "set PULUMI_CONFIG_PASSPHRASE(_FILE) for the stack, or pass"
                       " --kubeconfig PATH") from None
    content = looks_like_content(value)
    target = KubeTarget(None if content else local_path(value, ref.cwd), value if content else None, cluster.context)
    with target.kubeconfig_file() as path:
        yield Kubectl(path, cluster.context)
