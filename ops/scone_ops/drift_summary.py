"""The step summary of the scheduled drift job: one Markdown section per stack from the JSON result
of `scone-ops reconcile --once --detect-only -o json`.

Why a module and not shell: the result is JSON, the summary must say in words what the phase means
and what to do, and it must stay correct when the exit codes or fields change (it imports them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from scone_ops.reconcile_status import PhaseExit

MEANING = {
    "Running": "in sync: the cluster matches the last successful update and the stack file.",
    "Repairing": "drift: the cluster differs from the last successful update. Review with"
                 " `pulumi preview --refresh --diff`, then `pulumi up --refresh` (or `scone-ops reconcile --once`).",
    "Updating": "the stack file differs from the deployed spec (a merged change not applied yet)."
                " Review the preview, then `pulumi up`.",
    "Creating": "the stack was never deployed.",
    "Error": "the reconcile cannot proceed; see the error and the next step.",
}


def summary(result: dict[str, Any], code: int) -> str:
    phase = str(result.get("phase") or "")
    lines = [f"### Stack `{result.get('stack', '?')}`: {phase or 'no result'} (exit {code})", ""]
    if code == PhaseExit.BUSY:
        lines.append("Another update holds the stack's lock; nothing was checked this time.")
    else:
        lines.append(MEANING.get(phase, "scone-ops failed before it could reconcile; see the job log."))
    changes = result.get("changes") or {}
    if changes:
        lines += ["", "| change | resources |", "|---|---|"] + [f"| {op} | {n} |" for op, n in sorted(changes.items())]
    for key in ("error", "next_step"):
        if result.get(key):
            lines += ["", f"**{key.replace('_', ' ')}:**", "", "```", str(result[key]), "```"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    path, code = Path(argv[0]), int(argv[1])
    try:
        result = json.loads(path.read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        result = {}
    sys.stdout.write(summary(result if isinstance(result, dict) else {}, code))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
