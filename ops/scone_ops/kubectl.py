"""Every cluster call goes through real ``kubectl``, with the chosen kubeconfig and context.

The argv is built by the program's ``KubeTarget`` (one builder of kubectl's global flags for the
program and scone-ops); ``scone_ops.stack_kube`` chooses the target: the flags, else the stack's
``scone:kubeconfig``/``scone:kubeContext``, else the ambient ``KUBECONFIG``.

Why kubectl and not a client library: it is what the administrator already trusts and has
configured (auth plugins, contexts), its drain/cordon logic is the reference one, and it keeps
scone-ops free of a second Kubernetes client. Arguments never carry secrets.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from components.kube_access import KubeTarget
from scone_ops.errors import ExitCode, OpsError

JsonObj = dict[str, Any]
#: What to check when kubectl fails: where it went, and whether this user may do it there.
NEXT_STEP = ("check --kubeconfig/--context (or scone:kubeconfig/scone:kubeContext of the stack) and your"
             " permissions (kubectl auth can-i)")


@dataclass(frozen=True)
class Kubectl:
    """``kubectl`` bound to one kubeconfig/context (both optional)."""

    kubeconfig: str | None = None
    context: str | None = None
    binary: str = "kubectl"

    @staticmethod
    def of(target: KubeTarget) -> Kubectl:
        """kubectl bound to ``target`` (a kubeconfig file and context; scone-ops never holds kubeconfig content)."""
        return Kubectl(target.kubeconfig, target.context)

    @property
    def target(self) -> KubeTarget:
        """The program's own description of where kubectl goes (it builds the argv, as for the program)."""
        return KubeTarget(self.kubeconfig, None, self.context)

    def argv(self, *args: str) -> list[str]:
        """The full command line, as `--dry-run` prints it."""
        return self.target.argv(self.binary, args)

    def env(self) -> dict[str, str]:
        """Environment for child programs that call kubectl themselves (the backupper's source)."""
        env = dict(os.environ)
        if self.kubeconfig:
            env["KUBECONFIG"] = self.kubeconfig
        return env

    def run(self, *args: str, check: bool = True, input_text: str | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """Run kubectl; a failure raises ``OpsError(CLUSTER)`` with kubectl's own message."""
        try:
            done = subprocess.run(self.argv(*args), capture_output=True, text=True, input=input_text,
                                  timeout=timeout, check=False)
        except FileNotFoundError:
            raise OpsError(ExitCode.CLUSTER, f"{self.binary} not found",
                           "install kubectl or put it on PATH") from None
        except subprocess.TimeoutExpired:
            raise OpsError(ExitCode.CLUSTER, f"`kubectl {' '.join(args)}` did not answer within {timeout:.0f} s",
                           "check that the cluster is reachable (kubectl cluster-info)") from None
        if check and done.returncode != 0:
            raise OpsError(ExitCode.CLUSTER, f"`kubectl {' '.join(args)}` failed: {done.stderr.strip()}",
                           f"kubectl used {self.target.describe()}; {NEXT_STEP}")
        return done

    def get_json(self, *args: str) -> JsonObj:
        """``kubectl get ... -o json``."""
        done = self.run("get", *args, "-o", "json", timeout=120)
        parsed: JsonObj = json.loads(done.stdout)
        return parsed

    def get_or_none(self, *args: str) -> JsonObj | None:
        """Like get_json, None when the object does not exist (any other failure still raises)."""
        done = self.run("get", *args, "-o", "json", check=False, timeout=120)
        if done.returncode == 0:
            parsed: JsonObj = json.loads(done.stdout)
            return parsed
        if "NotFound" in done.stderr or "not found" in done.stderr:
            return None
        raise OpsError(ExitCode.CLUSTER, f"`kubectl get {' '.join(args)}` failed: {done.stderr.strip()}",
                       f"kubectl used {self.target.describe()}; {NEXT_STEP}")

    def change(self, args: Sequence[str], timeout: float | None = None) -> str:
        """A changing call (cordon, delete, drain ...): its stdout, or OpsError with stderr."""
        return self.run(*args, timeout=timeout).stdout
