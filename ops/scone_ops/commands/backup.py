"""`scone-ops backup now|list|verify|drill`: the stack's CAS database backups in S3."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import click
from rich.console import Console

from scone_ops.backup_run import job_manifest, job_name, read_deployment, run_job, run_local
from scone_ops.backups import credentials_dir, list_sets, set_row
from scone_ops.context import Ops, changing_options, common_options
from scone_ops.errors import ExitCode, OpsError
from scone_ops.output import table

DEFAULT_TIMEOUT = 3600


@click.group(name="backup")
def group() -> None:
    """The stack's CAS database backup sets (the backupper's bucket, read with its own library)."""


@group.command(name="now")
@click.option("--local", is_flag=True,
              help="Run the backupper on this machine (kubectl exec into the CAS) instead of as a Job.")
@click.option("--timeout", type=click.IntRange(min=30), default=DEFAULT_TIMEOUT, show_default=True,
              help="Seconds the Job may run.")
@changing_options
def now(ops: Ops, local: bool, timeout: int) -> int:
    """Take one backup now with the backupper's own settings and credentials, and print the new set.

    Default: a Job made from the backupper Deployment's pod template running `run` once. When the
    snapshot is unchanged since the newest set, the backupper uploads nothing and the newest set
    is shown as still current.
    """
    target = ops.target
    deployment = read_deployment(ops.kubectl, target)
    name = job_name(dt.datetime.now(dt.UTC))
    manifest = job_manifest(deployment, name, timeout)
    if ops.dry_run:
        what = "run `python -m scone_backupper run` here with the Deployment's env" if local else \
            f"create Job {target.namespace}/{name} (args: run) from Deployment {deployment['metadata']['name']}"
        ops.output.result({"dry_run": True, "step": what, "job": None if local else manifest},
                          lambda c: c.print(f"DRY RUN, nothing changed: would {what}, wait, then list the sets",
                                            markup=False, highlight=False))
        return int(ExitCode.OK)
    before = list_sets(ops.kubectl, target).newest
    fields = run_local(ops.kubectl, target, deployment, ops.output.progress) if local else {}
    if not local:
        run_job(ops.kubectl, manifest, timeout, ops.output.progress)
    after = list_sets(ops.kubectl, target)
    new = [m for m in after.complete if before is None or m.set_id > before.set_id]
    if not after.complete:
        raise OpsError(ExitCode.BACKUP, "the run finished but the bucket holds no complete set of this CAS",
                       f"read the run's log (`kubectl logs job/{name} -n {target.namespace}`)")
    shown = new or after.complete[:1]
    status = "new" if new else f"unchanged snapshot: {after.complete[0].set_id} is still the newest set"
    rows = [set_row(m) for m in shown]

    def human(console: Console) -> None:
        console.print(table(f"backup of {target.namespace}/{target.cas_name}: {status}",
                            ["set", "created (UTC)", "bytes", "version", "encrypted"],
                            [list(r.values()) for r in rows]))

    ops.output.result({"status": "new" if new else "unchanged", "sets": rows, "job": None if local else name,
                       "run": fields}, human)
    return int(ExitCode.OK)


def _passthrough(ops: Ops, command: list[str]) -> int:
    """Run `scone-backupper <command>` with the stack's bucket settings and the Secret's credentials."""
    target = ops.target
    env = {"CAS_NAME": target.cas_name, "CAS_NAMESPACE": target.namespace, "CAS_VERSION": target.version,
           "BACKUP_PREFIX": target.backup.prefix, "METRICS_PORT": "0"}
    with credentials_dir(ops.kubectl, target) as creds:
        env["S3_CREDENTIALS_DIR"] = str(creds)
        done = subprocess.run([sys.executable, "-m", "scone_backupper", *command], env={**os.environ, **env},
                              check=False)
    if done.returncode != 0:
        raise OpsError(ExitCode.BACKUP, f"scone-backupper {command[0]} exited {done.returncode}",
                       "its message is above; exit codes in backupper/README.md")
    return int(ExitCode.OK)


@group.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Also show unfinished and damaged prefixes (not sets).")
@common_options
def list_(ops: Ops, show_all: bool) -> int:
    """List the complete backup sets, newest first (`scone-backupper list`)."""
    return _passthrough(ops, ["list", *(["--json"] if ops.output.json else []), *(["--all"] if show_all else [])])


@group.command(name="verify")
@click.option("--set", "set_ref", default="latest", show_default=True, help="Set id, 'latest' or 'all'.")
@common_options
def verify(ops: Ops, set_ref: str) -> int:
    """Download a set and check every size and SHA-256 (`scone-backupper verify`)."""
    return _passthrough(ops, ["verify", "--set", set_ref])



@group.command(name="drill")
@common_options
def drill(ops: Ops) -> int:
    """Restore the newest set into a private temporary directory, check it, remove it (`scone-backupper drill`).

    The same check the scheduled drill (backup.restoreDrill.schedule) runs, on demand: every
    checksum of the newest committed set, then the --cas-database-recovery layout.
    """
    return _passthrough(ops, ["drill"])
