"""Running SCONE's ``kubectl provision`` safely: preflight, timeout, bounded retries, clean errors.

Why: upstream's plugin (kubectl-provision 5.8.0) waits forever, prints ANSI-coloured stderr, aborts when
another ``kubectl port-forward`` runs, needs several tools and the owner identity, and takes the DCAP
key either from argv (visible to every process on the machine) or from the ``DCAP_KEY`` env var. This
module is the only place that starts it: the DCAP key goes in the environment only, each run is bounded
by a timeout and killed with its whole process group, failed runs are retried with backoff, and the
error that reaches Pulumi carries the last stderr lines with colours stripped and secrets redacted.
Nothing here imports pulumi: it runs inside the dynamic-provider process.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from components.kube_access import AMBIENT, KubeAccessError, KubeTarget
from components.provider_errors import UserFacingError, clean

REQUIRED_TOOLS = ("kubectl", "jq", "docker", "cosign", "gpg")
STDERR_TAIL_LINES = 15
BACKOFF_CAP_SECONDS = 300.0


class PluginError(UserFacingError):
    """A kubectl-provision run (or its preconditions) failed; the message is safe to show.

    A ``UserFacingError``: inside Pulumi's provider server it reaches the user as the message alone,
    without the stack frames of the provider and this runner in front of it.
    """


class PreflightError(PluginError):
    """The machine is not ready for a run; one line per problem, each saying what to do."""


@dataclass(frozen=True)
class PluginEnv:
    """The environment variables upstream reads. ``dcap_key`` is only ever put into ``DCAP_KEY``."""

    version: str
    image_repo: str
    image_prefix: str
    target_dir: Path
    dcap_key: str | None = None

    def build(self) -> dict[str, str]:
        env = dict(os.environ)
        for inherited in ("DCAP_KEY", "NAMESPACE", "CONFIG_FILE", "V"):
            env.pop(inherited, None)  # we pass -n; a stray NAMESPACE/CONFIG_FILE would change what runs
        env.update(
            {
                "VERSION": self.version,
                "IMAGE_REPO": self.image_repo,
                "IMAGE_PREFIX": self.image_prefix,
                "TARGET_DIR": str(self.target_dir),
            }
        )
        if self.dcap_key:
            env["DCAP_KEY"] = self.dcap_key
        return env


@dataclass(frozen=True)
class RunPolicy:
    """Bounds for one logical operation: per-run timeout, attempts, first backoff (doubled, capped)."""

    timeout_seconds: float = 1800.0
    max_attempts: int = 5
    backoff_seconds: float = 10.0

    def backoff(self, attempt: int) -> float:
        return float(min(self.backoff_seconds * (2 ** (attempt - 1)), BACKOFF_CAP_SECONDS))


@dataclass
class PluginResult:
    args: list[str]
    returncode: int | None  # None: killed after the timeout
    stdout: str  # ANSI stripped, redacted
    stderr: str  # ANSI stripped, redacted
    attempts: int = 1
    history: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass(frozen=True)
class PluginRunner:
    """Starts ``<kubectl> provision <args>`` in ``work_dir`` (upstream writes snapshots relative to cwd)."""

    env: PluginEnv
    work_dir: Path
    policy: RunPolicy = RunPolicy()
    kubectl: str = "kubectl"
    extra_secrets: tuple[str, ...] = ()
    #: The stack's cluster; the plugin reaches it through ``KUBECONFIG`` (see ``KubeTarget.plugin_environment``).
    target: KubeTarget = AMBIENT

    @property
    def secrets(self) -> tuple[str | None, ...]:
        return (self.env.dcap_key, *self.extra_secrets)

    def _log(self, text: str) -> None:
        """Append a redacted transcript to ``<work_dir>/kubectl-provision.log`` for the owner to read."""
        with open(self.work_dir / "kubectl-provision.log", "a", encoding="utf-8") as handle:
            handle.write(text if text.endswith("\n") else text + "\n")

    @contextlib.contextmanager
    def _environment(self) -> Iterator[dict[str, str]]:
        """The plugin's environment, its ``KUBECONFIG`` pointing at the stack's cluster."""
        try:
            with self.target.plugin_environment(self.env.build(), self.kubectl) as env:
                yield env
        except KubeAccessError as error:
            raise PluginError(str(error)) from None

    def run_once(self, args: Sequence[str]) -> PluginResult:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        command = [self.kubectl, "provision", *args]
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with self._environment() as env:
            proc = subprocess.Popen(
                command,
                cwd=self.work_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            returncode: int | None
            try:
                out, err = proc.communicate(timeout=self.policy.timeout_seconds)
                returncode = proc.returncode
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                out, err = proc.communicate()
                returncode = None
                err += (
                    f"\n(timed out after {self.policy.timeout_seconds:g} s; the plugin and its children were stopped)"
                )
        result = PluginResult(list(args), returncode, clean(out, self.secrets), clean(err, self.secrets))
        self._log(
            f"--- {started} kubectl provision {' '.join(args)} (VERSION={self.env.version}) -> "
            f"{'timeout' if returncode is None else returncode}\n{result.stdout}{result.stderr}"
        )
        return result

    def run(
        self,
        args: Sequence[str],
        what: str,
        *,
        stop_retrying: Callable[[], str | None] | None = None,
        validate: Callable[[PluginResult], str | None] | None = None,
        answers_no: Callable[[PluginResult], bool] | None = None,
        before_each: Callable[[], None] | None = None,
    ) -> PluginResult:
        """Run with retries; raise :class:`PluginError` when every attempt failed.

        ``stop_retrying`` is asked before each further attempt; when it returns a reason (e.g. "the
        Vault now exists"), no more attempts are made and the reason is added to the error.
        ``validate`` may reject an exit-0 run whose output is incomplete (cut-short output).
        ``answers_no`` recognises a failed run that is nonetheless a definite answer (``--is-provisioned``
        saying ``NO``): such a result is returned, not retried. Every other failure is retried.
        ``before_each`` runs before every attempt (e.g. to clear what an earlier attempt left behind).
        """
        history: list[str] = []
        result: PluginResult | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            if attempt > 1:
                if stop_retrying is not None:
                    reason = stop_retrying()
                    if reason:
                        history.append(f"not retried: {reason}")
                        break
                wait_before_retry(self.policy.backoff(attempt - 1))
            if before_each is not None:
                before_each()
            result = self.run_once(args)
            result.attempts = attempt
            if not result.ok and answers_no is not None and answers_no(result):
                result.history = history
                return result
            problem = validate(result) if (result.ok and validate is not None) else None
            if result.ok and problem is None:
                result.history = history
                return result
            history.append(
                f"attempt {attempt}: "
                + (problem or ("timed out" if result.returncode is None else f"exit {result.returncode}"))
            )
        assert result is not None
        tail = [line for line in result.stderr.splitlines() if line.strip()][-STDERR_TAIL_LINES:]
        if not tail:
            tail = [line for line in result.stdout.splitlines() if line.strip()][-STDERR_TAIL_LINES:]
        raise PluginError(
            f"{what} failed: `kubectl provision {' '.join(args)}` ({'; '.join(history)}).\n"
            "Last output lines:\n  "
            + "\n  ".join(tail or ["(no output)"])
            + f"\nFull redacted transcript: {self.work_dir / 'kubectl-provision.log'}"
        )


def wait_before_retry(seconds: float) -> None:
    """The backoff between two attempts of a run."""
    time.sleep(seconds)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


def other_port_forwards() -> list[int]:
    """PIDs of running processes whose command line contains ``port-forward`` (upstream aborts on any)."""
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            any(part == b"port-forward" or part.endswith(b"port-forward") for part in cmdline)
            and int(proc.name) != os.getpid()
        ):
            pids.append(int(proc.name))
    return sorted(pids)


def preflight(
    *,
    target_dir: Path,
    namespace_exists: Callable[[], bool],
    namespace: str,
    need_identity: bool,
    kubectl: str = "kubectl",
) -> None:
    """Every precondition upstream needs, checked up front; all problems reported at once."""
    problems: list[str] = []
    for tool in REQUIRED_TOOLS:
        if shutil.which(kubectl if tool == "kubectl" else tool) is None:
            problems.append(
                f"'{tool}' is not on PATH: install it on this trusted machine (kubectl-provision needs it)."
            )
    if shutil.which("kubectl-provision") is None:
        problems.append(
            "'kubectl-provision' is not on PATH: install the 5.8.0 plugin as the guide shows "
            "(curl .../scontain/SH/master/5.8.0/kubectl-provision, chmod a+x) into a PATH directory."
        )
    forwards = other_port_forwards()
    if forwards:
        problems.append(
            f"another 'kubectl port-forward' is running (pid {', '.join(map(str, forwards))}): "
            "kubectl-provision aborts while one runs; stop it, then re-run pulumi up."
        )
    if not target_dir.is_dir():
        problems.append(
            f"provisioning.targetDir '{target_dir}' does not exist: create it (mkdir -p) or point "
            "targetDir at the directory holding your CAS owner identity."
        )
    elif not os.access(target_dir, os.W_OK):
        problems.append(f"provisioning.targetDir '{target_dir}' is not writable by this user: fix its permissions.")
    elif need_identity and not (target_dir / "identity" / "config.json").is_file():
        problems.append(
            f"the CAS owner identity '{target_dir / 'identity' / 'config.json'}' is missing: restore it "
            "from your identity backup into that path (it is needed for upgrade and recovery)."
        )
    if not problems and not namespace_exists():
        problems.append(
            f"namespace '{namespace}' does not exist (or the stack's cluster is unreachable: scone:kubeconfig,"
            " scone:kubeContext, or KUBECONFIG and its current context): deploy the stack's namespace first or"
            " point the stack at the right cluster."
        )
    if problems:
        raise PreflightError("kubectl-provision cannot run here:\n- " + "\n- ".join(problems))
