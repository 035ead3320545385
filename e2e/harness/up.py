"""For humans: start the local control plane and keep it up, or run one command in it.

    .venv/bin/python -m e2e.harness.up                 # until Ctrl-C; prints KUBECONFIG
    .venv/bin/python -m e2e.harness.up -- kubectl get nodes   # run, then stop

Why: the same cluster the e2e tests use, for poking at with kubectl or pulumi by hand.
Everything started here is stopped (and its work directory removed, unless --keep)
on exit, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import FrameType

from e2e.harness.cluster import LocalCluster
from e2e.harness.tools import Tools, ToolsMissingError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m e2e.harness.up", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, certs) on exit")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="command to run with KUBECONFIG set")
    args = ap.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    try:
        tools = Tools.locate(need_pulumi=False)
    except ToolsMissingError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

    work = Path(tempfile.mkdtemp(prefix="scone-e2e-up-"))
    os.environ.setdefault("FAKE_SCONE_STATE_DIR", str(work / "fake-scone"))
    cluster = LocalCluster(tools, workdir=work / "cp", keep_workdir=True)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        cluster.start()
        print(f"export KUBECONFIG={cluster.kubeconfig}\nexport FAKE_SCONE_STATE_DIR="
              f"{os.environ['FAKE_SCONE_STATE_DIR']}\n# logs: {cluster.dir / 'logs'}", flush=True)
        if command:
            return subprocess.run(command, env=cluster.env(), check=False).returncode
        print("control plane up; Ctrl-C stops it", flush=True)
        stop.wait()
        return 0
    finally:
        cluster.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
