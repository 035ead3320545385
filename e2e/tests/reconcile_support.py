"""Shared set-up of the reconcile e2e tests: the real `local` stack, deployed, and the reconciler run
as an administrator (or a CI job) runs it: `python -m scone_ops reconcile ...` with the workspace's
Pulumi environment (the built CLI on PATH, file backend, passphrase in the environment only).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.operator_crds import preinstall_scone_crds_for_release
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.tools import Tools

OPERATOR_NAMESPACE = "osc-sec-us-scone-operator"  # the spec's default (namespaces.operator)
FAST = ("--backoff", "0.2")  # tests wait 0.2 s, 0.4 s ... between attempts instead of 10 s, 20 s ...


@dataclass
class Reconciled:
    """One reconcile run: exit code, its JSON result and what it printed."""

    code: int
    result: dict[str, Any]
    stdout: str
    stderr: str


def deployed_stack(tools: Tools, cluster: LocalCluster, work: Path) -> LocalSconeStack:
    """The local stack, created and brought up with the real engine, over the SCONE CRDs its chart's
    release adopts (Scontain's released ones when they are beside the repository, as its chart is)."""
    preinstall_scone_crds_for_release(cluster.kubectl_apply, "scone-operator", OPERATOR_NAMESPACE)
    stack = LocalSconeStack(tools, cluster, work)
    ws = stack.create()
    ws.extra_env["FAKE_SCONE_STATE_DIR"] = os.environ["FAKE_SCONE_STATE_DIR"]
    up(stack)
    return stack


def ws_of(stack: LocalSconeStack) -> PulumiWorkspace:
    assert stack.ws is not None
    return stack.ws


def up(stack: LocalSconeStack) -> None:
    run = ws_of(stack).run("up", "--yes", "--skip-preview", "--refresh")
    assert run.returncode == 0, f"{run.output[-6000:]}\n{stack.cluster.dump_logs(8)}"


def reconcile_argv(stack: LocalSconeStack, *args: str) -> list[str]:
    ws = ws_of(stack)
    return [sys.executable, "-m", "scone_ops", "reconcile", *args, "--stack", stack.stack, "--cwd",
            str(stack.project_dir), "--backend-url", f"file://{ws.state_dir / 'backend'}",
            "--kubeconfig", str(stack.cluster.kubeconfig), "-o", "json"]


def reconcile(stack: LocalSconeStack, *args: str) -> Reconciled:
    done = subprocess.run(reconcile_argv(stack, *args), capture_output=True, text=True, check=False,
                          env=ws_of(stack).env())
    return parse(done.returncode, done.stdout, done.stderr)


def parse(code: int, stdout: str, stderr: str) -> Reconciled:
    try:
        result = json.loads(stdout) if stdout.strip() else {}
    except json.JSONDecodeError:
        raise AssertionError(f"not one JSON document (exit {code}):\n{stdout[-3000:]}\n{stderr[-3000:]}") from None
    return Reconciled(code, result, stdout, stderr)


def status_configmap(cluster: LocalCluster) -> dict[str, Any] | None:
    got = cluster.kubectl("get", "configmap", "scone-status", "-n", OPERATOR_NAMESPACE, "-o", "json", check=False)
    return json.loads(got.stdout) if got.returncode == 0 else None


def status_data(cluster: LocalCluster) -> dict[str, str]:
    cm = status_configmap(cluster)
    assert cm is not None, "no ConfigMap scone-status"
    return dict(cm.get("data") or {})


def las_names(cluster: LocalCluster) -> list[str]:
    return cluster.kubectl("get", "las", "-o", "name").stdout.split()


@contextmanager
def held_stack_lock(backend: Path, project: str, stack: str) -> Iterator[Path]:
    """Hold a file backend's lock on `stack` the way `pulumi up` takes it, until the block ends.

    The CLI locks a stack by writing `<backend>/.pulumi/locks/organization/<project>/<stack>/<id>.json`
    (its pid, user, host and time) and refuses any update while another such file is there; this
    writes one beside the stack's state, so the holder is known and the lock is held for exactly
    the block: no race with a second engine run.
    """
    state = backend / ".pulumi" / "stacks" / project / f"{stack}.json"
    assert state.is_file(), f"no project-scoped state at {state}"
    lock_dir = backend / ".pulumi" / "locks" / "organization" / project / stack
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_dir / f"{uuid.uuid4()}.json"
    lock.write_text(json.dumps({"pid": os.getpid(), "username": getpass.getuser(), "hostname": socket.gethostname(),
                                "timestamp": datetime.now(UTC).isoformat()}))
    try:
        yield lock
    finally:
        lock.unlink()


def converged(stack: LocalSconeStack) -> Iterator[LocalSconeStack]:
    """The stack on the committed local stack file, converged, status Running; reset afterwards."""
    stack.reconfigure({})
    up(stack)
    first = reconcile(stack, "--once", *FAST)
    assert first.code == 0 and first.result["phase"] == "Running", first.stderr[-4000:]
    yield stack
    stack.reconfigure({})
