"""Process entry point running the harness's simulated controllers in one loop.

Why one host process: the real components (scone-operator, a CSI provisioner) would
run as pods, but kwok runs no containers; a host process talking to the API server
over loopback behaves the same from the cluster's point of view.
Run: python -m e2e.harness.simulators --server URL --ca CA --cert CRT --key KEY --work-dir DIR --webhook-proxy-port PORT
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType

from e2e.harness.kube_api import KubeApi, KubeCredentials
from e2e.harness.operator_sim import OperatorSim
from e2e.harness.webhook_sim import ConversionCaInjector, WebhookSim
from e2e.harness.zonal_provisioner import ZonalProvisioner


def default_cas_db_dir() -> Path:
    """Where the fake kubectl-provision keeps each CAS's database stand-in."""
    state = os.environ.get("FAKE_SCONE_STATE_DIR") or str(Path.home() / ".fake-scone")
    return Path(state) / "casdb"


WEBHOOK_INTERVAL = 0.1


def _loop(loops: Sequence[ZonalProvisioner | OperatorSim | WebhookSim | ConversionCaInjector], interval: float,
          stopped: Callable[[], bool]) -> None:
    while not stopped():
        for loop in loops:
            try:
                loop.reconcile()
            except Exception:
                print(f"simulators: {type(loop).__name__} error:\n{traceback.format_exc()}",
                      file=sys.stderr, flush=True)
        time.sleep(interval)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True)
    ap.add_argument("--ca", required=True, type=Path)
    ap.add_argument("--cert", required=True, type=Path)
    ap.add_argument("--key", required=True, type=Path)
    ap.add_argument("--cas-db-dir", type=Path, default=None)
    ap.add_argument("--interval", type=float, default=0.3)
    ap.add_argument("--work-dir", type=Path, required=True, help="the webhook certificates' CA and keys")
    ap.add_argument("--webhook-proxy-port", type=int, required=True,
                    help="port on 127.0.0.1 of the CONNECT proxy kube-apiserver's HTTPS_PROXY names")
    ap.add_argument("--ca-injection-delay", type=float, default=0.0,
                    help="seconds a new webhook configuration waits for its CA (the injector's latency)")
    args = ap.parse_args(argv)

    stop = False

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    api = KubeApi(KubeCredentials(args.server, args.ca, args.cert, args.key))
    operator = OperatorSim(api, args.cas_db_dir or default_cas_db_dir())
    webhooks = WebhookSim(api, args.work_dir, operator.operator_running, args.webhook_proxy_port,
                          args.ca_injection_delay)
    print(f"simulators: started against {args.server}", flush=True)
    # The webhooks in a loop of their own: they must be served before the first CR write after an
    # install, which the other simulators' slower rounds would delay.
    threading.Thread(target=_loop, args=([webhooks], WEBHOOK_INTERVAL, lambda: stop), daemon=True).start()
    _loop([ZonalProvisioner(api), operator, ConversionCaInjector(webhooks)], args.interval, lambda: stop)
    print("simulators: stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
