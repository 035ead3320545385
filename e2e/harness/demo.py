"""The whole SCONE stack on this machine in one command, for a newcomer.

    .venv/bin/python -m e2e.harness.demo          # build tools if missing, up, print outputs, stop
    .venv/bin/python -m e2e.harness.demo --keep   # ... and keep the cluster up until Ctrl-C
    .venv/bin/python -m e2e.harness.demo --no-owner   # without the CAS owner's provisioning

What runs: the local control plane (kube-apiserver 1.26, kwok fake SGX nodes, the
simulated scone-operator), the real Pulumi CLI with a local file backend and the
passphrase secrets provider, and the real program with stacks/Pulumi.local.yaml. As the
CAS owner (unless --no-owner) it provisions CAS through the fake `kubectl-provision`
(e2e/fakes, the 5.8.0 contract) on the real API server, so the outputs carry CAS's
version and public keys.
Nothing leaves loopback; everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
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
from e2e.harness.fake_owner import owner_provisioning, use_fake_plugin
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.tools import BUILD_SCRIPT, Tools, ToolsMissingError


def ensure_tools() -> Tools:
    """Locate the tools, building the missing ones first (the build prints what it does)."""
    try:
        return Tools.locate()
    except ToolsMissingError as err:
        print(f"demo: {err}\ndemo: building them now (the first build takes a while) ...", flush=True)
    if subprocess.run([str(BUILD_SCRIPT)], check=False).returncode != 0:
        raise SystemExit("demo: e2e/build_tools.sh failed (see above); nothing was started")
    return Tools.locate()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m e2e.harness.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", action="store_true", help="keep the cluster up after `pulumi up` until Ctrl-C")
    ap.add_argument("--no-owner", action="store_true",
                    help="leave CAS unprovisioned (no scone:provisioning, no fake kubectl-provision)")
    args = ap.parse_args(argv)
    tools = ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="scone-demo-"))
    os.environ["FAKE_SCONE_STATE_DIR"] = str(work / "fake-scone")
    cluster = LocalCluster(tools, workdir=work / "cp", keep_workdir=True)
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("demo: starting the local control plane ...", flush=True)
        cluster.start()
        owner = {} if args.no_owner else {"scone:provisioning": owner_provisioning(work / "owner-machine")}
        stack = LocalSconeStack(tools, cluster, work, overrides=owner)
        ws = stack.create()
        if not args.no_owner:
            use_fake_plugin(ws, work / "owner-machine")
        print("demo: pulumi up --stack local ...", flush=True)
        up = ws.run("up", "--yes", "--skip-preview")
        print(up.stdout[-8000:], flush=True)
        if up.returncode != 0:
            print(up.stderr[-4000:], file=sys.stderr)
            print(f"demo: pulumi up failed; cluster logs:\n{cluster.dump_logs(10)}", file=sys.stderr)
            return 1
        print(f"demo: pulumi up took {up.seconds:.1f}s. Stack outputs:")
        print(json.dumps(ws.outputs(), indent=2))
        print(cluster.kubectl("get", "cas,las,sgxplugins", "-A").stdout)
        if args.keep:
            print(f"demo: export KUBECONFIG={cluster.kubeconfig}  (Ctrl-C stops everything)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        return 0
    finally:
        cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
