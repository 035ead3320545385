"""Running the real Pulumi CLI offline against the local cluster.

Why a helper: every e2e test and the human script must run `pulumi` the same way:
the built CLI and plugins first on PATH (ambient plugins serve any version the SDK
asks for), a local file state backend (or, with `backend_url`, the shared backend
that `pulumi login` stored in the workspace's own PULUMI_HOME), the passphrase secrets
provider, no update check, no plugin downloads, a private PULUMI_HOME, and KUBECONFIG
pointing at the harness's API server. Nothing here talks to anything but loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.harness.processes import Child, start_child
from e2e.harness.tools import REPO_ROOT, Tools

VENV = REPO_ROOT / ".venv"


@dataclass
class PulumiRun:
    """The result of one CLI invocation, with its wall time."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> PulumiRun:
        if self.returncode != 0:
            raise RuntimeError(
                f"pulumi {' '.join(self.args)} failed ({self.returncode}):\n{self.stdout[-6000:]}\n"
                f"{self.stderr[-4000:]}")
        return self


@dataclass
class PulumiWorkspace:
    """A project directory + state directory + environment for the pulumi CLI.

    Without `backend_url` the state lives in a file backend under `state_dir`. With it,
    PULUMI_BACKEND_URL stays unset and `login()` stores the URL in this workspace's
    PULUMI_HOME, as `pulumi login` does on an operator's machine; a second workspace
    with another `state_dir` is another machine.
    """

    tools: Tools
    project_dir: Path
    state_dir: Path
    kubeconfig: Path
    passphrase: str = "e2e-passphrase"  # noqa: S105 - throw-away state of a test run
    extra_env: dict[str, str] = field(default_factory=dict)
    backend_url: str | None = None

    def env(self) -> dict[str, str]:
        home = self.state_dir / "pulumi-home"
        home.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
        if self.backend_url is None:
            backend = self.state_dir / "backend"
            backend.mkdir(parents=True, exist_ok=True)
            base["PULUMI_BACKEND_URL"] = f"file://{backend}"
        return {
            **base,
            "PATH": f"{self.tools.bin_dir}{os.pathsep}{VENV / 'bin'}{os.pathsep}{base.get('PATH', '')}",
            "PULUMI_HOME": str(home),
            "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_DISABLE_REGISTRY_RESOLVE": "true",
            "PULUMI_CREDENTIAL_STORE": "plaintext",
            "KUBECONFIG": str(self.kubeconfig),
            **self.extra_env,
        }

    def run(self, *args: str, check: bool = False, stdin: str | None = None) -> PulumiRun:
        argv = [str(self.tools.pulumi), *args, "--non-interactive"]
        start = time.monotonic()
        proc = subprocess.run(argv, cwd=self.project_dir, env=self.env(), text=True,
                              capture_output=True, input=stdin, check=False)
        result = PulumiRun(list(args), proc.returncode, proc.stdout, proc.stderr,
                           time.monotonic() - start)
        return result.check() if check else result

    def start(self, name: str, *args: str) -> Child:
        """Start one CLI invocation in the background (own process group, output in
        state_dir/<name>.log), e.g. to overlap two updates of the same stack."""
        argv = [str(self.tools.pulumi), *args, "--non-interactive"]
        return start_child(name, argv, self.state_dir, env=self.env(), cwd=self.project_dir)

    def login(self) -> PulumiRun:
        """`pulumi login <backend_url>`: this workspace's PULUMI_HOME remembers the backend."""
        if self.backend_url is None:
            raise ValueError("login() needs backend_url; without it the workspace uses its file backend")
        return self.run("login", self.backend_url, check=True)

    def stack_init(self, stack: str, secrets_provider: str = "passphrase") -> None:
        self.run("stack", "init", stack, "--secrets-provider", secrets_provider, check=True)

    def stack_select(self, stack: str) -> None:
        self.run("stack", "select", stack, check=True)

    def outputs(self, show_secrets: bool = False) -> dict[str, Any]:
        args = ["stack", "output", "--json"] + (["--show-secrets"] if show_secrets else [])
        parsed: dict[str, Any] = json.loads(self.run(*args, check=True).stdout or "{}")
        return parsed

    def state_files(self) -> list[Path]:
        """Every file of the local backend (checkpoints, history, backups)."""
        return [p for p in (self.state_dir / "backend").rglob("*") if p.is_file()]
