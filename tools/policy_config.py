"""Write the policy pack's config for a stack, from its validated stack file.

    python -m tools.policy_config --stack prod [--out build/policy/prod.json]

The pack (``policy/``) cannot see the stack's spec, only its resources. Two facts its
policies need are taken from the stack file here, through the same validation the program
uses, so that there is one source of truth: ``production`` and ``images.repository``. The
output is a ``--policy-pack-config`` file (policy name → properties); the CI preview job
passes it to ``pulumi/actions`` as ``policyPackConfigs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from tools.plan import PlanError, build_plan

ROOT = Path(__file__).resolve().parent.parent


def policy_config(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The pack config for a validated spec (as ``tools.plan`` records it)."""
    production = bool(spec.get("production", False))
    return {
        "images-from-configured-registry": {"registry": spec["images"]["repository"]},
        "production-backups-enabled": {"production": production},
        "production-monitoring-enabled": {"production": production},
        "production-backupper-image-pinned": {"production": production},
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point; 0 on success, 1 for an invalid stack file, 2 for an unknown stack."""
    parser = argparse.ArgumentParser(prog="python -m tools.policy_config", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the stack whose stack file to read")
    parser.add_argument("--out", type=Path, help="write here (default: stdout)")
    args = parser.parse_args(argv)
    try:
        plan = build_plan(args.stack, ROOT)
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if plan["error"]:
        print(f"error: the stack file of {args.stack} is invalid: {plan['error']}", file=sys.stderr)
        return 1
    text = json.dumps(policy_config(plan["spec"]), indent=2, sort_keys=True) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
