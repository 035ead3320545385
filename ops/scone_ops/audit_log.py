"""The CAS audit log: streamed from the `audit` container, or downloaded with its SHA-256.

The file lives on ephemeral storage (`/var/log/cas/audit/cas_audit.log`) and starts anew with
every CAS pod start, so a download is a snapshot of this pod's log; the stream is what a log
collector ships. The download reads a tar stream from the container, as the audit container has
tar, and keeps exactly the one member, never trusting other names in the stream.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from scone_ops.errors import ExitCode, OpsError
from scone_ops.kubectl import Kubectl
from scone_ops.stack_target import StackTarget

AUDIT_CONTAINER = "audit"
AUDIT_FILE = "/var/log/cas/audit/cas_audit.log"
CHUNK = 1024 * 1024


def require_audit_container(cas: Mapping[str, Any] | None, pod: Mapping[str, Any] | None,
                            target: StackTarget) -> None:
    """NOT_FOUND naming what is missing: the CAS, its pod, or the pod's audit container."""
    ns = target.namespace
    if cas is None:
        raise OpsError(ExitCode.NOT_FOUND, f"CAS {target.cas_name} does not exist in namespace {ns}",
                       "check the stack (--stack) and `kubectl get cas -A`")
    if pod is None:
        raise OpsError(ExitCode.NOT_FOUND, f"pod {target.pod_name} does not exist in namespace {ns}",
                       f"the CAS has no running pod: `kubectl describe statefulset {target.cas_name} -n {ns}`")
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if AUDIT_CONTAINER not in names:
        raise OpsError(ExitCode.NOT_FOUND,
                       f"pod {target.pod_name} has no container '{AUDIT_CONTAINER}'"
                       f" (it has: {', '.join(map(str, names))})",
                       "the audit log sidecar comes with the operator's CAS pod; check the CAS version and that"
                       " the audit log is enabled in the CAS config")


def logs_args(target: StackTarget, follow: bool) -> list[str]:
    """kubectl arguments of the stream."""
    return ["logs", target.pod_name, "-n", target.namespace, "-c", AUDIT_CONTAINER, *(["-f"] if follow else [])]


def download_args(target: StackTarget) -> list[str]:
    """kubectl arguments of the download (a tar stream of the one file)."""
    return ["exec", target.pod_name, "-n", target.namespace, "-c", AUDIT_CONTAINER, "--",
            "tar", "cf", "-", AUDIT_FILE]


@dataclass(frozen=True)
class Downloaded:
    """A downloaded audit log and its fingerprint."""

    path: Path
    size: int
    sha256: str


def extract_audit_file(stream: IO[bytes], dest: Path) -> Downloaded:
    """Copy the audit file's member of a tar stream to `dest` (created new, 0600), hashing it."""
    wanted = AUDIT_FILE.lstrip("/")
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for member in tar:
            if member.name.lstrip("/") != wanted:
                continue
            if not member.isfile():
                raise OpsError(ExitCode.FAILED, f"{AUDIT_FILE} in the container is not a regular file")
            source = tar.extractfile(member)
            assert source is not None
            digest = hashlib.sha256()
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
            if dest.stat().st_size != member.size:
                raise OpsError(ExitCode.FAILED,
                               f"{dest} has {dest.stat().st_size} bytes, the stream said {member.size}")
            return Downloaded(dest, member.size, digest.hexdigest())
    raise OpsError(ExitCode.NOT_FOUND, f"the audit container sent no {AUDIT_FILE}",
                   "the audit log may be disabled or written elsewhere (CAS availability config)")


def download(kubectl: Kubectl, target: StackTarget, out_dir: Path) -> Downloaded:
    """Download the audit log into `out_dir` under a new, timestamped name, with a .sha256 beside it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = out_dir / f"{target.cas_name}.{target.namespace}.cas_audit.{stamp}.log"
    if dest.exists():
        raise OpsError(ExitCode.USAGE, f"{dest} exists already; nothing was overwritten", "retry in a second")
    proc = subprocess.Popen(kubectl.argv(*download_args(target)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    try:
        try:
            got = extract_audit_file(proc.stdout, dest)
        except tarfile.TarError as err:
            dest.unlink(missing_ok=True)
            code = proc.wait()
            raise OpsError(ExitCode.CLUSTER if code else ExitCode.FAILED,
                           f"reading the audit log from {target.pod_name} failed: {err};"
                           f" kubectl said: {proc.stderr.read().decode(errors='replace').strip() or '(nothing)'}",
                           "check `kubectl exec` permission (pods/exec) on the CAS pod") from None
    finally:
        proc.stdout.close()
        proc.wait()
        proc.stderr.close()
    Path(f"{dest}.sha256").write_text(f"{got.sha256}  {dest.name}\n")
    return got
