"""Wall times of `pulumi up` / no-op `up` / `preview` of the local SCONE stack, with a
baseline run side by side in the same run.

    .venv/bin/python bench/e2e_stack_times.py [--repeat N]

Baseline ("minimal"): a one-Namespace + one-ConfigMap Pulumi Python program on the
same engine, plugins and cluster; the ratio says how much the SCONE program itself
costs on top of the engine's fixed cost (CLI start, language host, provider start).
Each program gets a fresh control plane so neither sees the other's objects.
Figures are printed; nothing is asserted (timing depends on the machine's load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.pulumi_env import VENV, PulumiWorkspace
from e2e.harness.tools import Tools

MINIMAL = textwrap.dedent('''
    import pulumi_kubernetes as k8s
    ns = k8s.core.v1.Namespace("bench", metadata={"name": "bench"})
    k8s.core.v1.ConfigMap("cm", metadata={"name": "cm", "namespace": ns.metadata["name"]}, data={"a": "b"})
''')

Phase = tuple[str, list[str]]
PHASES: list[Phase] = [
    ("up (create)", ["up", "--yes", "--skip-preview"]),
    ("up (no-op)", ["up", "--yes", "--skip-preview", "--expect-no-changes"]),
    ("preview", ["preview", "--expect-no-changes"]),
]


def _minimal(tools: Tools, cluster: LocalCluster, work: Path) -> PulumiWorkspace:
    proj = work / "minimal"
    proj.mkdir()
    (proj / "Pulumi.yaml").write_text(
        f"name: minimal\nruntime:\n  name: python\n  options:\n    toolchain: pip\n    virtualenv: {VENV}\n")
    (proj / "__main__.py").write_text(MINIMAL)
    ws = PulumiWorkspace(tools, proj, work / "minimal-state", cluster.kubeconfig)
    ws.stack_init("bench")
    return ws


def _scone(tools: Tools, cluster: LocalCluster, work: Path) -> PulumiWorkspace:
    return LocalSconeStack(tools, cluster, work / "scone").create()


def measure(tools: Tools, make: Callable[[Tools, LocalCluster, Path], PulumiWorkspace],
            repeat: int) -> dict[str, list[float]]:
    """Run every phase `repeat` times (create = fresh cluster each time)."""
    times: dict[str, list[float]] = {name: [] for name, _ in PHASES}
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
            work = Path(tmp)
            os.environ["FAKE_SCONE_STATE_DIR"] = str(work / "fake-scone")
            with LocalCluster(tools, workdir=work / "cp") as cluster:
                ws = make(tools, cluster, work)
                for name, args in PHASES:
                    times[name].append(ws.run(*args, check=True).seconds)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    tools = Tools.locate()
    baseline = measure(tools, _minimal, args.repeat)
    scone = measure(tools, _scone, args.repeat)
    print(f"{'phase':<14}{'minimal (baseline) s':>22}{'scone local s':>16}{'ratio':>8}")
    for name, _ in PHASES:
        b, s = statistics.median(baseline[name]), statistics.median(scone[name])
        print(f"{name:<14}{b:>22.2f}{s:>16.2f}{s / b:>8.2f}")
    print(f"(median of {args.repeat} runs each; raw: baseline={baseline} scone={scone})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
