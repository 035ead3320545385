"""Which cluster a ``kubectl`` run reaches: the one place that builds kubectl's argv and environment.

Why: a stack belongs to one cluster. Reads during the preview, the guards' and the status's
kubectl runs in the dynamic providers, and the owner's ``kubectl provision`` must reach the cluster
the stack names (``scone:kubeconfig``, ``scone:kubeContext``), not whatever the shell's current
context happens to be. Every kubectl run of the program therefore goes through ``KubeTarget``, and
so does every kubectl run of scone-ops, so that day-2 operations reach the stack's cluster too:

- ``argv`` puts ``--kubeconfig``/``--context`` in front of the arguments (kubectl's global flags);
  with neither setting the argv is exactly the plain ``kubectl <args>`` of an ambient kubeconfig.
- A kubeconfig given as secret content is written, only for the duration of one run, to a file
  readable by this user alone in a fresh private directory, and passed by path: the content never
  appears in a process's arguments or environment.
- ``plugin_environment`` serves ``kubectl provision``: kubectl refuses global flags in front of a
  plugin's name, and upstream's plugin reads ``clusters[0]`` of the kubeconfig, so the plugin gets
  ``KUBECONFIG`` pointing at a minified, flattened copy holding only the target context.

Nothing here imports pulumi: it runs in the program and in the dynamic-provider processes, which
receive the target through the resources' properties (``props``/``of``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Property names under which a resource carries its target (absent when not set).
PROP_KUBECONFIG = "kubeconfig"
PROP_KUBECONFIG_CONTENT = "kubeconfigContent"
PROP_CONTEXT = "kubeContext"
PROP_KEYS = (PROP_KUBECONFIG, PROP_KUBECONFIG_CONTENT, PROP_CONTEXT)
#: Seconds ``kubectl config view`` may take (it reads local files only).
CONFIG_VIEW_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class KubeTarget:
    """A kubeconfig (a path, or content that is a secret) and a context; all empty = the ambient kubeconfig."""

    kubeconfig: str | None = None
    content: str | None = field(default=None, repr=False)
    context: str | None = None

    @property
    def ambient(self) -> bool:
        """True when nothing is named: kubectl then follows ``KUBECONFIG`` and its current context."""
        return not (self.kubeconfig or self.content or self.context)

    def props(self) -> dict[str, str]:
        """The properties a dynamic resource carries for its provider (none when ambient)."""
        values = {PROP_KUBECONFIG: self.kubeconfig, PROP_KUBECONFIG_CONTENT: self.content, PROP_CONTEXT: self.context}
        return {key: value for key, value in values.items() if value}

    @staticmethod
    def of(props: Mapping[str, Any]) -> KubeTarget:
        """The target a provider's properties carry (the ambient kubeconfig when they carry none)."""

        def text(key: str) -> str | None:
            value = props.get(key)
            return str(value) if isinstance(value, str) and value else None

        return KubeTarget(text(PROP_KUBECONFIG), text(PROP_KUBECONFIG_CONTENT), text(PROP_CONTEXT))

    @contextmanager
    def kubeconfig_file(self) -> Iterator[str | None]:
        """The kubeconfig path for one run: the configured path, or the content in a private temporary file."""
        if self.content is None:
            yield self.kubeconfig
            return
        with private_file(self.content, "kubeconfig") as path:
            yield path

    def argv(self, kubectl: str, args: Sequence[str], kubeconfig_path: str | None = None) -> list[str]:
        """``kubectl [--kubeconfig P] [--context C] <args>``; ``kubeconfig_path`` from ``kubeconfig_file``."""
        path = kubeconfig_path if kubeconfig_path is not None else self.kubeconfig
        path = os.path.expanduser(path) if path else None
        flags = [*(["--kubeconfig", path] if path else []), *(["--context", self.context] if self.context else [])]
        return [kubectl, *flags, *args]

    def run(
        self,
        kubectl: str,
        args: Sequence[str],
        *,
        timeout: float,
        stdin: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """One bounded kubectl run against this target (text in and out, never raising on its exit code)."""
        with self.kubeconfig_file() as path:
            return subprocess.run(
                self.argv(kubectl, args, path),
                input=stdin,
                stdin=None if stdin is not None else subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )

    @contextmanager
    def plugin_environment(self, base: Mapping[str, str], kubectl: str = "kubectl") -> Iterator[dict[str, str]]:
        """``base`` with ``KUBECONFIG`` naming a file that holds only the target context (unchanged when ambient).

        Raises ``KubeAccessError`` when kubectl cannot produce that file (unknown context, unreadable file).
        """
        env = dict(base)
        if self.ambient:
            yield env
            return
        view = ["config", "view", "--raw", "--minify", "--flatten"]
        done = self.run(kubectl, view, timeout=CONFIG_VIEW_TIMEOUT_SECONDS)
        if done.returncode != 0 or not done.stdout.strip():
            raise KubeAccessError(
                f"could not select {self.describe()} for kubectl-provision: `kubectl config view --minify` said:"
                f" {done.stderr.strip()[-500:] or '(nothing)'}"
            )
        with private_file(done.stdout, "kubeconfig") as path:
            env["KUBECONFIG"] = path
            yield env

    def describe(self) -> str:
        """Where this target points, for messages (never the content of a kubeconfig)."""
        source = (
            f"kubeconfig {self.kubeconfig}"
            if self.kubeconfig
            else "the kubeconfig given as secret (scone:kubeconfig)"
            if self.content
            else "the ambient kubeconfig (KUBECONFIG)"
        )
        return f"{source}, context {self.context}" if self.context else f"{source}, its current context"


#: No kubeconfig, no context named: kubectl follows ``KUBECONFIG`` and its current context.
AMBIENT = KubeTarget()


@dataclass(frozen=True)
class ClusterChoice:
    """The validated cluster settings: how kubectl reaches the cluster, and an explicit re-pin (or None)."""

    target: KubeTarget
    repin: str | None = None


class KubeAccessError(RuntimeError):
    """kubectl could not be pointed at the stack's cluster; the message names what to fix.

    A plain error (this module imports nothing of the program): the plugin runner turns it into its own
    user-facing error."""


@contextmanager
def private_file(text: str, name: str) -> Iterator[str]:
    """``text`` in ``<fresh 0700 directory>/<name>`` (mode 0600) for the duration of the block, then removed."""
    directory = tempfile.mkdtemp(prefix="scone-kube-")
    try:
        path = Path(directory) / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        yield str(path)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
