"""Wall time of a no-op `scone-ops reconcile --once` beside a no-op `pulumi up` of the same stack.

    .venv/bin/python bench/reconcile_times.py [--repeat N]

Both run against the real `local` stack on one local control plane, in the same run, alternating
(reconcile, then up, N times) so that load on the machine hits both alike. Baseline: `pulumi up
--yes --skip-preview --expect-no-changes` (what someone runs by hand). The reconcile does more: it
opens the stack through the Automation API, reads the state and the outputs, runs `preview
--refresh` (the refresh reads every resource from the cluster), reads the history and writes the
status ConfigMap. Figures are printed; nothing is asserted (timing depends on the machine's load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.operator_crds import preinstall_scone_crds_for_release
from e2e.harness.tools import Tools

OPERATOR_NAMESPACE = "osc-sec-us-scone-operator"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (median reported)")
    args = parser.parse_args()
    tools = Tools.locate(need_pulumi=True)
    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as tmp:
        work = Path(tmp)
        os.environ.setdefault("FAKE_SCONE_STATE_DIR", str(work / "fake-scone"))
        with LocalCluster(tools, workdir=work / "cp") as cluster:
            preinstall_scone_crds_for_release(cluster.kubectl_apply, "scone-operator", OPERATOR_NAMESPACE)
            stack = LocalSconeStack(tools, cluster, work / "scone")
            ws = stack.create()
            ws.run("up", "--yes", "--skip-preview", check=True)
            argv = [sys.executable, "-m", "scone_ops", "reconcile", "--once", "--stack", stack.stack,
                    "--cwd", str(stack.project_dir), "--kubeconfig", str(cluster.kubeconfig), "-o", "json"]
            first = subprocess.run(argv, env=ws.env(), capture_output=True, text=True, check=False)
            if first.returncode != 0:
                print(first.stdout[-3000:], first.stderr[-3000:], file=sys.stderr)
                return 1
            reconcile_s: list[float] = []
            up_s: list[float] = []
            for _ in range(args.repeat):
                start = time.monotonic()
                done = subprocess.run(argv, env=ws.env(), capture_output=True, text=True, check=False)
                reconcile_s.append(time.monotonic() - start)
                if done.returncode != 0:
                    print(done.stderr[-3000:], file=sys.stderr)
                    return 1
                up_s.append(ws.run("up", "--yes", "--skip-preview", "--expect-no-changes", check=True).seconds)
    rec, up = statistics.median(reconcile_s), statistics.median(up_s)
    print(f"no-op pulumi up (baseline)     median {up:6.2f} s  runs {', '.join(f'{s:.2f}' for s in up_s)}")
    print(f"no-op reconcile --once          median {rec:6.2f} s  runs {', '.join(f'{s:.2f}' for s in reconcile_s)}")
    print(f"ratio reconcile / up            {rec / up:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
