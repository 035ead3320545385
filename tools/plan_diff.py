"""Compare the plans of two revisions (or two plan files), stack by stack, for review.

    python -m tools.plan_diff --base origin/main --head worktree [--stack prod ...]
    python -m tools.plan_diff --base-plan old/prod.plan.json --head-plan new/prod.plan.json

Writes Markdown (stdout or ``--out``; it is the pull-request comment, recognisable by its
first line ``COMMENT_MARKER``) and, with ``--json-out``, the same content as JSON. Changes
that touch the trust anchor (``tools.trust_anchor``) come first, in plain words; then per
stack the added, removed, replaced and changed resources with each changed field.

Exit status: 0 when every head plan evaluates, 1 when a head stack file is invalid (the
output says which and why), 2 when the comparison itself could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tools.plan import SENTINEL_PREFIX, find_plain_secret
from tools.plan_compare import ABSENT, FieldChange, ResourceChange, StackDiff, compare
from tools.revision_plans import WORKTREE, RevisionError, plan_revisions
from tools.trust_anchor import Finding, findings

COMMENT_MARKER = "<!-- scone-plan-diff -->"
#: GitHub refuses comments over 65,536 characters; details are cut before the findings are.
COMMENT_LIMIT = 60_000
VALUE_LIMIT = 100


def _text(value: Any) -> str:
    return str(value) if value == ABSENT else json.dumps(value, sort_keys=True, ensure_ascii=False)


def _cell(text: str, start: int) -> str:
    """``text`` cut to VALUE_LIMIT characters from ``start`` (where it begins to differ)."""
    if len(text) > VALUE_LIMIT:
        shown = text[start : start + VALUE_LIMIT]
        text = ("…" if start else "") + shown + ("…" if start + VALUE_LIMIT < len(text) else "")
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def _cells(change: FieldChange) -> str:
    old, new = _text(change.base), _text(change.head)
    common = len(os.path.commonprefix([old, new]))  # noqa: RUF071 - character-wise on purpose
    start = max(0, common - 30) if max(len(old), len(new)) > VALUE_LIMIT else 0
    return f"{_cell(old, min(start, len(old)))} | {_cell(new, min(start, len(new)))}"


def _field_table(fields: Sequence[FieldChange]) -> list[str]:
    lines = ["", "  | Field | Base | Head |", "  |---|---|---|"]
    lines += [f"  | `{change.path}` | {_cells(change)} |" for change in fields]
    return [*lines, ""]


def _change_lines(changes: Sequence[ResourceChange], with_reason: bool) -> list[str]:
    lines: list[str] = []
    for change in changes:
        reason = f" — {change.replace_reason}" if with_reason and change.replace_reason else ""
        lines.append(f"- `{change.type}` **{change.name}**{reason}")
        lines += _field_table(change.fields)
    return lines


def _stack_status(diff: StackDiff) -> str:
    if diff.head is not None and diff.head.get("error"):
        return "invalid stack file"
    if diff.base is None:
        return "new environment"
    if diff.head is None:
        return "stack file removed"
    return "changes" if diff.has_changes else "no changes"


def stack_section(diff: StackDiff) -> list[str]:
    """The Markdown details of one stack."""
    lines = [f"### `{diff.stack}`: {_stack_status(diff)}", ""]
    if diff.head is not None and diff.head.get("error"):
        return [*lines, "```", str(diff.head["error"]), "```", ""]
    if diff.settings:
        lines += ["**Settings** (validated stack config, defaults applied)", *_field_table(diff.settings)]
    for title, entries in (("Added", diff.added), ("Removed", diff.removed)):
        if entries:
            lines += [f"**{title}** ({len(entries)})", ""]
            lines += [
                f"- `{entry['type']}` **{entry['name']}**" + (" (protected)" if entry.get("protect") else "")
                for entry in entries
            ]
            lines.append("")
    if diff.replaced:
        lines += [f"**Replaced** ({len(diff.replaced)})", "", *_change_lines(diff.replaced, with_reason=True)]
    if diff.changed:
        lines += [f"**Changed** ({len(diff.changed)})", "", *_change_lines(diff.changed, with_reason=False)]
    return lines


def render_markdown(diffs: Sequence[StackDiff], found: Sequence[Finding], base_label: str, head_label: str) -> str:
    """The whole review comment."""
    head = [
        COMMENT_MARKER,
        f"## Plan diff: `{base_label}` → `{head_label}`",
        "",
        "Made by `python -m tools.plan_diff` from the stack files alone (in-process mock engine: no cluster, no"
        " state, no credentials). It shows what the program *declares*; drift in the live cluster shows only in"
        " a real `pulumi preview`. Secrets are shown as `<secret>`.",
        "",
        "### Trust-anchor changes",
        "",
    ]
    if found:
        head += [f"- :warning: **{item.stack}** — {item.message}" for item in found]
    else:
        head.append("None: no change to CAS, the backup bucket, their protection, backups, managementState or skipCas.")
    head += ["", "### Summary", "", "| Stack | Status | Added | Removed | Replaced | Changed |", "|" + "---|" * 6]
    head += [
        f"| `{d.stack}` | {_stack_status(d)} | {len(d.added)} | {len(d.removed)} | {len(d.replaced)}"
        f" | {len(d.changed)} |"
        for d in diffs
    ]
    head.append("")
    body: list[str] = []
    for diff in diffs:
        if diff.has_changes or (diff.head is not None and diff.head.get("error")):
            body += [
                "<details>" if not _urgent(diff, found) else "<details open>",
                f"<summary>{diff.stack}</summary>",
                "",
                *stack_section(diff),
                "</details>",
                "",
            ]
    text = "\n".join([*head, *body])
    if len(text) > COMMENT_LIMIT:
        text = "\n".join(head) + (
            "\n_The details are longer than a pull-request comment allows; run"
            " `python -m tools.plan_diff` locally or see the job's artifact for all of them._\n"
        )
    return text


def _urgent(diff: StackDiff, found: Sequence[Finding]) -> bool:
    return any(item.stack == diff.stack for item in found)


def _change_json(change: ResourceChange) -> dict[str, Any]:
    return {
        "urn": change.urn,
        "baseUrn": change.base_urn,
        "type": change.type,
        "name": change.name,
        "replaceReason": change.replace_reason,
        "fields": [{"path": f.path, "base": f.base, "head": f.head} for f in change.fields],
    }


def render_json(diffs: Sequence[StackDiff], found: Sequence[Finding]) -> str:
    """The same content for machines."""
    document = {
        "trustAnchor": [
            {"stack": item.stack, "kind": item.kind, "message": item.message, "urn": item.urn} for item in found
        ],
        "stacks": [
            {
                "stack": diff.stack,
                "status": _stack_status(diff),
                "headError": (diff.head or {}).get("error"),
                "added": [{"urn": e["urn"], "type": e["type"], "name": e["name"]} for e in diff.added],
                "removed": [{"urn": e["urn"], "type": e["type"], "name": e["name"]} for e in diff.removed],
                "replaced": [_change_json(change) for change in diff.replaced],
                "changed": [_change_json(change) for change in diff.changed],
                "settings": [{"path": f.path, "base": f.base, "head": f.head} for f in diff.settings],
            }
            for diff in diffs
        ],
    }
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def diff_plans(
    stacks: Sequence[str], base: Mapping[str, Mapping[str, Any]], head: Mapping[str, Mapping[str, Any]]
) -> tuple[list[StackDiff], list[Finding]]:
    """Compare the plans stack by stack; findings ordered by stack, then by danger."""
    diffs = [compare(stack, base.get(stack), head.get(stack)) for stack in stacks]
    return diffs, [item for diff in diffs for item in findings(diff)]


def _load_plan(path: Path, flag: str) -> dict[str, Any]:
    try:
        plan: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise RevisionError(f"{flag} {path}: not a readable plan file ({error})") from None
    if not isinstance(plan, dict) or "resources" not in plan or "stack" not in plan:
        raise RevisionError(f"{flag} {path}: not a plan written by `python -m tools.plan`")
    return plan


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status described in the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m tools.plan_diff", description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="base git revision (branch, tag, commit)")
    parser.add_argument("--head", default=WORKTREE, help=f"head git revision, or '{WORKTREE}' (default)")
    parser.add_argument("--stack", action="append", help="stack to compare (repeatable); default: all")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="git repository (default: current directory)")
    parser.add_argument("--base-plan", type=Path, help="compare two plan files instead of two revisions")
    parser.add_argument("--head-plan", type=Path, help="the newer plan file (with --base-plan)")
    parser.add_argument("--out", type=Path, help="write the Markdown here instead of stdout")
    parser.add_argument("--json-out", type=Path, help="also write the diff as JSON")
    args = parser.parse_args(argv)
    try:
        if args.base_plan or args.head_plan:
            if not (args.base_plan and args.head_plan) or args.base:
                parser.error("--base-plan and --head-plan go together, and without --base")
            base_plan = _load_plan(args.base_plan, "--base-plan")
            head_plan = _load_plan(args.head_plan, "--head-plan")
            stacks = [str(head_plan["stack"])]
            base_plans, head_plans = {stacks[0]: base_plan}, {stacks[0]: head_plan}
            labels = (str(args.base_plan), str(args.head_plan))
        else:
            if not args.base:
                parser.error("give --base <revision> (and --head), or --base-plan and --head-plan")
            with tempfile.TemporaryDirectory(prefix="scone-plan-diff-") as work:
                stacks, base_plans, head_plans = plan_revisions(
                    args.repo.resolve(), args.base, args.head, args.stack, Path(work)
                )
            labels = (args.base, args.head)
    except RevisionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    diffs, found = diff_plans(stacks, base_plans, head_plans)
    markdown = render_markdown(diffs, found, *labels)
    document = render_json(diffs, found)
    if SENTINEL_PREFIX in markdown or find_plain_secret(json.loads(document)):
        print("error: refusing to print a diff with a secret value in plain text", file=sys.stderr)
        return 2
    if args.out:
        args.out.write_text(markdown)
    else:
        sys.stdout.write(markdown)
    if args.json_out:
        args.json_out.write_text(document)
    return 1 if any((plan or {}).get("error") for plan in head_plans.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
