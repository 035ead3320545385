"""A `kubectl` for tests whose pods must run commands: kwok pods run no containers.

Why: `kubectl exec` and `kubectl logs` reach a kubelet, and kwok nodes have none, so the audit
log and the backupper's snapshot source (`kubectl exec <cas>-0 -c cas -- tar ...`) cannot work on
the e2e control plane. This stand-in passes every call to the real kubectl unchanged, except
`exec` and `logs` into a container that a test serves from a directory:

    <root>/<namespace>/<pod>/<container>/          the container's filesystem (exec runs tar/cat in it)
    <root>/<namespace>/<pod>/<container>.log       what the container wrote to stdout (logs, logs -f)

Before serving, it asks the real API server (through the real kubectl) that the pod exists and
has that container, and fails as kubectl does otherwise, so "missing pod/container" stays real.
Only `tar` (its path arguments mapped into the container root; member names as real tar gives
them) and `cat` are run. Install with `install(bin_dir, root)`; put bin_dir first on PATH.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REAL_KUBECTL_ENV = "E2E_REAL_KUBECTL"
ROOT_ENV = "E2E_CONTAINERS_ROOT"
GLOBAL_WITH_VALUE = {"--kubeconfig", "--context", "--cluster", "--user", "-s", "--server"}


def install(bin_dir: Path, root: Path, real_kubectl: str) -> Path:
    """Write `bin_dir/kubectl` that runs this module; returns its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[2]
    shim = bin_dir / "kubectl"
    shim.write_text(f"#!/bin/sh\nexport {REAL_KUBECTL_ENV}='{real_kubectl}' {ROOT_ENV}='{root}'\n"
                    f"export PYTHONPATH='{repo}'\nexec '{sys.executable}' -m e2e.harness.kubectl_containers \"$@\"\n")
    shim.chmod(0o755)
    return shim


def _split(argv: list[str]) -> tuple[list[str], str | None, list[str], list[str]]:
    """(global flags, verb, verb args before `--`, command after `--`)."""
    flags: list[str] = []
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        flags.append(argv[i])
        if argv[i] in GLOBAL_WITH_VALUE and "=" not in argv[i]:
            i += 1
            flags.append(argv[i])
        i += 1
    if i >= len(argv):
        return flags, None, [], []
    rest = argv[i + 1:]
    if "--" in rest:
        cut = rest.index("--")
        return flags, argv[i], rest[:cut], rest[cut + 1:]
    return flags, argv[i], rest, []


def _target(args: list[str]) -> tuple[str, str, str | None, bool]:
    """(namespace, pod, container, follow) from exec/logs arguments."""
    namespace, container, follow, pod = "default", None, False, ""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in ("-n", "--namespace", "-c", "--container"):
            value = args[i + 1]
            namespace, container = (value, container) if arg in ("-n", "--namespace") else (namespace, value)
            i += 2
            continue
        if arg.startswith("--namespace="):
            namespace = arg.split("=", 1)[1]
        elif arg.startswith("--container="):
            container = arg.split("=", 1)[1]
        elif arg in ("-f", "--follow"):
            follow = True
        elif not arg.startswith("-"):
            pod = arg
        i += 1
    return namespace, pod, container, follow


def _real(argv: list[str]) -> int:
    return subprocess.call([os.environ[REAL_KUBECTL_ENV], *argv])


def _check_pod(flags: list[str], namespace: str, pod: str, container: str | None) -> str:
    """The container to serve, after the real API server confirmed pod and container."""
    got = subprocess.run([os.environ[REAL_KUBECTL_ENV], *flags, "get", "pod", pod, "-n", namespace, "-o", "json"],
                         capture_output=True, text=True, check=False)
    if got.returncode != 0:
        sys.stderr.write(got.stderr)
        sys.exit(1)
    names = [c["name"] for c in json.loads(got.stdout)["spec"]["containers"]]
    chosen = container or names[0]
    if chosen not in names:
        sys.stderr.write(f'error: container {chosen} is not valid for pod {pod}\n')
        sys.exit(1)
    return chosen


def _exec(root: Path, command: list[str]) -> int:
    if not command or command[0] not in ("tar", "cat"):
        sys.stderr.write(f"kubectl_containers: only tar and cat are served, not {command[:1]}\n")
        return 126
    if command[0] == "cat":
        return subprocess.call(["cat", *(str(root) + a if a.startswith("/") else a for a in command[1:])])
    mapped: list[str] = ["tar"]
    args = command[1:]
    i = 0
    while i < len(args):
        if args[i] == "-C":
            mapped += ["-C", str(root) + args[i + 1]]
            i += 2
            continue
        if args[i].startswith("/"):
            mapped += ["-C", str(root), args[i].lstrip("/")]
        else:
            mapped.append(args[i])
        i += 1
    return subprocess.call(mapped)


def _logs(log: Path, follow: bool) -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with log.open("rb") as f:
        while True:
            chunk = f.read()
            if chunk:
                sys.stdout.buffer.write(chunk)
                sys.stdout.flush()
            elif not follow:
                return 0
            else:
                time.sleep(0.1)


def main(argv: list[str]) -> int:
    flags, verb, args, command = _split(argv)
    if verb not in ("exec", "logs"):
        return _real(argv)
    namespace, pod, container, follow = _target(args)
    served = Path(os.environ[ROOT_ENV]) / namespace / pod
    if not served.is_dir():
        return _real(argv)  # not a served pod: what kubectl really does (it fails on kwok)
    chosen = _check_pod(flags, namespace, pod, container)
    if verb == "logs":
        log = served / f"{chosen}.log"
        return _logs(log, follow) if log.exists() else 0
    return _exec(served / chosen, command)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
