"""`scone-ops audit-log`: stream the CAS audit log, or download it with its SHA-256."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from scone_ops.audit_log import download, download_args, logs_args, require_audit_container
from scone_ops.context import Ops, common_options
from scone_ops.errors import ExitCode, OpsError, SignalStopError
from scone_ops.runbook import signals_interrupt


@click.command(name="audit-log")
@click.option("--follow", "-f", is_flag=True, help="Keep streaming new entries (stop with Ctrl-C).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Download /var/log/cas/audit/cas_audit.log into DIR (new file + .sha256) instead of streaming.")
@common_options
def group(ops: Ops, follow: bool, out_dir: Path | None) -> int:
    """Stream the audit container's log (stdout), or download the audit log file to DIR.

    The file is ephemeral (it restarts with every CAS pod): ship the stream to your log system
    and download before planned restarts. Verify a download with `scone cas verify-audit-log FILE`.
    """
    if follow and out_dir is not None:
        raise OpsError(ExitCode.USAGE, "--follow and --out exclude each other", "stream, or download; not both")
    target = ops.target
    args = download_args(target) if out_dir is not None else logs_args(target, follow)
    cas = ops.kubectl.get_or_none("cas", target.cas_name, "-n", target.namespace)
    pod = ops.kubectl.get_or_none("pod", target.pod_name, "-n", target.namespace)
    require_audit_container(cas, pod, target)
    if out_dir is not None:
        got = download(ops.kubectl, target, out_dir)
        ops.output.result({"path": str(got.path), "size": got.size, "sha256": got.sha256},
                          lambda c: c.print(f"{got.path} ({got.size} bytes)\nsha256 {got.sha256}",
                                            markup=False, highlight=False))
        return int(ExitCode.OK)
    proc = subprocess.Popen(ops.kubectl.argv(*args))
    try:
        with signals_interrupt():
            code = proc.wait()
    except SignalStopError as stop:
        proc.terminate()
        proc.wait()
        raise OpsError(ExitCode.INTERRUPTED, f"audit log stream {stop}", "", "nothing was changed") from None
    if code != 0:
        raise OpsError(ExitCode.CLUSTER, f"`kubectl {' '.join(args)}` exited {code}",
                       "check access to pods/log in the CAS namespace")
    return int(ExitCode.OK)
