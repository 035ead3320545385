"""Wall time and peak memory to evaluate each stack under the in-process mock engine.

    .venv/bin/python bench/evaluate_stacks.py [--runs 5]

Every measurement is a fresh Python process (so imports are paid each time, as in a real
``pulumi preview``). The named baseline, ``sdk-imports``, imports exactly the SDK modules
the program uses (pulumi, pulumi_kubernetes, the pulumi_aws s3/iam submodules, pydantic)
and stops; each stack's row shows its own figures beside the baseline's and the ratio.
Median of ``--runs`` runs; peak memory is the child's max RSS.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.config_source import stack_names  # noqa: E402 - needs ROOT on sys.path

BASELINE = """
import pulumi, pulumi.dynamic, pulumi_kubernetes as k8s, pydantic, yaml
from pulumi_aws import iam, s3
# Touch what the program touches: pulumi-aws and pulumi-kubernetes load their modules lazily.
_ = (s3.Bucket, s3.BucketVersioning, s3.BucketLifecycleConfiguration, iam.User, iam.AccessKey)
_ = (k8s.core.v1.Namespace, k8s.apps.v1.Deployment, k8s.helm.v3.Release, k8s.apiextensions.CustomResource)
"""

EVALUATE = """
import sys
sys.path.insert(0, {root!r})
from tools.mock_engine import evaluate, load_stack_config
evaluation = evaluate(load_stack_config({stack!r}))
assert evaluation.error is None, evaluation.error
print(len(evaluation.registrations))
"""

REPORT_PEAK = "\nimport resource as _r, sys as _s\n_s.stderr.write(str(_r.getrusage(_r.RUSAGE_SELF).ru_maxrss))\n"


def run_once(code: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of one fresh interpreter running ``code``."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code + REPORT_PEAK], capture_output=True, text=True, check=True, cwd=ROOT
    )
    seconds = time.perf_counter() - started
    return seconds, int(result.stderr.strip().splitlines()[-1]) / 1024, result.stdout.strip()


def median_run(code: str, runs: int) -> tuple[float, float, str]:
    """Medians of ``runs`` fresh processes."""
    samples = [run_once(code) for _ in range(runs)]
    return (
        statistics.median(sample[0] for sample in samples),
        statistics.median(sample[1] for sample in samples),
        samples[-1][2],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON")
    args = parser.parse_args()
    stacks = stack_names(ROOT)
    base_s, base_mib, _ = median_run(BASELINE, args.runs)
    print(f"baseline 'sdk-imports' (median of {args.runs} fresh processes): {base_s:.2f} s, peak {base_mib:.0f} MiB")
    columns = [("stack", "<9"), ("resources", ">9"), ("wall s", ">8"), ("baseline s", ">10"), ("ratio", ">6")]
    columns += [("peak MiB", ">9"), ("base MiB", ">9"), ("ratio", ">6")]
    header = " ".join(f"{title:{align}}" for title, align in columns)
    print(header)
    rows = []
    for stack in stacks:
        seconds, mib, count = median_run(EVALUATE.format(root=str(ROOT), stack=stack), args.runs)
        rows.append({"stack": stack, "resources": int(count), "seconds": seconds, "peak_mib": mib})
        print(
            f"{stack:<9} {count:>9} {seconds:>8.2f} {base_s:>10.2f} {seconds / base_s:>6.2f}"
            f" {mib:>9.0f} {base_mib:>9.0f} {mib / base_mib:>6.2f}"
        )
    if args.json:
        print(json.dumps({"baseline": {"seconds": base_s, "peak_mib": base_mib}, "stacks": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
