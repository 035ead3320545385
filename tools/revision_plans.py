"""Plans of a git revision, each evaluated by that revision's own program code.

A revision is exported with ``git archive`` into a temporary directory (no worktree
bookkeeping in ``.git``, so concurrent users of the repository are not disturbed) and
``tools/plan.py`` *of the comparing checkout* is run on it in a subprocess with this
virtualenv's Python: the revision's ``components`` and ``tools.mock_engine`` are imported
from the export, the plan format is the comparing checkout's. ``worktree`` means the
working tree as it is, uncommitted changes included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from components.config_source import stack_file, stack_names

WORKTREE = "worktree"
PLAN_SCRIPT = Path(__file__).resolve().parent / "plan.py"


class RevisionError(Exception):
    """A revision could not be exported or evaluated; the message says which and why."""


def stacks_in(tree: Path) -> list[str]:
    """Stacks that have a stack file in ``tree``."""
    return stack_names(tree)


def export_revision(repo: Path, revision: str, dest: Path) -> Path:
    """The tree of ``revision`` (or the working tree itself for ``worktree``)."""
    if revision == WORKTREE:
        return repo
    check = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if check.returncode != 0:
        raise RevisionError(
            f"revision '{revision}' is not a commit in {repo}; give a branch, tag or commit (fetch it first in CI)"
        )
    dest.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(
        ["git", "-C", str(repo), "archive", "--format=tar", check.stdout.strip()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as archive:
        untar = subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, capture_output=True, check=False)
        _, archive_err = archive.communicate()
    if archive.returncode != 0 or untar.returncode != 0:
        raise RevisionError(
            f"could not export revision '{revision}': {archive_err.decode(errors='replace')}"
            f"{untar.stderr.decode(errors='replace')}".strip()
        )
    return dest


def plan_tree(tree: Path, stacks: list[str], out_dir: Path, label: str) -> dict[str, dict[str, Any]]:
    """Plans of ``stacks`` (those that exist in ``tree``), keyed by stack name."""
    present = [stack for stack in stacks if stack_file(tree, stack).is_file()]
    if not present:
        return {}
    if not (tree / "tools" / "mock_engine.py").is_file():
        raise RevisionError(f"{label} has no tools/mock_engine.py, so this tool cannot evaluate its program")
    command = [sys.executable, str(PLAN_SCRIPT), "--root", str(tree), "--out-dir", str(out_dir)]
    for stack in present:
        command += ["--stack", stack]
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=False)
    if result.returncode not in (0, 1):  # 1: some stack file is invalid; its plan records the error
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise RevisionError(f"evaluating {label} failed (exit {result.returncode}):\n{tail}")
    return {stack: json.loads((out_dir / f"{stack}.plan.json").read_text()) for stack in present}


def plan_revisions(
    repo: Path, base: str, head: str, stacks: list[str] | None, work: Path
) -> tuple[list[str], dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """(stacks compared, base plans, head plans) of two revisions of ``repo``."""
    base_tree = export_revision(repo, base, work / "base-tree")
    head_tree = export_revision(repo, head, work / "head-tree")
    chosen = sorted(set(stacks)) if stacks else sorted(set(stacks_in(base_tree)) | set(stacks_in(head_tree)))
    unknown = [s for s in chosen if s not in stacks_in(base_tree) and s not in stacks_in(head_tree)]
    if unknown:
        raise RevisionError(
            f"--stack {', '.join(unknown)}: no such stack file in either revision; known stacks:"
            f" {', '.join(sorted(set(stacks_in(base_tree)) | set(stacks_in(head_tree))))}"
        )
    base_plans = plan_tree(base_tree, chosen, work / "base-plans", f"base revision '{base}'")
    head_plans = plan_tree(head_tree, chosen, work / "head-plans", f"head revision '{head}'")
    return chosen, base_plans, head_plans
