"""A credential-free, deterministic plan of what a stack file declares.

``python -m tools.plan --stack prod [--out-dir DIR]`` evaluates the program for
``stacks/Pulumi.<stack>.yaml`` with the in-process mock engine (``tools.mock_engine``):
no cluster, no state backend, no cloud credentials. It writes ``<stack>.plan.json``
(for machines: ``tools.plan_diff`` compares two of them) and ``<stack>.plan.md`` (for
people). Why: a real ``pulumi preview`` needs credentials many teams never give to CI
for production; this plan makes every change reviewable anyway.

Determinism is the point of the format, so that two revisions can be compared and the
same input gives byte-identical output: resources sorted by URN, keys sorted, dependency
lists sorted, integral floats written as integers, no timestamps, and the project root
replaced by ``<root>`` wherever it appears. Secrets (Pulumi secret values, the sentinels
the mock engine puts in place of ``secure:`` config) are written as ``<secret>``; the
pickled ``__provider`` of dynamic resources is left out (it is code, not configuration).

This file is also run *by path* against other checkouts (``--root``; see
``tools.plan_diff``): it imports only ``tools.mock_engine`` and ``components`` from the
tree it evaluates, so each revision is evaluated by its own program code while the plan
format stays the one of the revision doing the comparison.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

PLAN_FORMAT = 1
SECRET_MASK = "<secret>"  # noqa: S105 - the mask, not a secret
UNKNOWN_MASK = "<computed>"
ROOT_MARK = "<root>"
SENTINEL_PREFIX = "SENTINEL-SECRET-"
#: Pulumi's wrapper key for a secret value, its marker, and the value "unknown during preview".
SECRET_SIG = rpc._special_sig_key
SECRET_MARK = rpc._special_secret_sig
UNKNOWN_VALUE = rpc.UNKNOWN
#: Markdown shows strings up to this length; the JSON plan always has the whole value.
MARKDOWN_STRING_LIMIT = 240


class PlanError(Exception):
    """The plan could not be made; the message says why and what to do."""


def _normalise_scalar(value: Any, root: str) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, str):
        if value == UNKNOWN_VALUE:
            return UNKNOWN_MASK
        if SENTINEL_PREFIX in value:
            return SECRET_MASK
        return value.replace(root, ROOT_MARK) if root else value
    # Anything else the engine hands back (an Output placeholder, a resource reference ...)
    # is something only the real engine could resolve.
    return UNKNOWN_MASK


def normalise(value: Any, root: str) -> Any:
    """A JSON-ready, deterministic copy of ``value`` with secrets and unknowns masked."""
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG) == SECRET_MARK:
            return SECRET_MASK
        return {str(key): normalise(item, root) for key, item in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [normalise(item, root) for item in value]
    return _normalise_scalar(value, root)


def _parent(urn: str | None) -> str | None:
    """The parent URN, or None for the stack itself.

    The stack's own URN is left out: the in-process engine keeps the root resource of the
    first evaluation in a process, so it may name another stack, and it says nothing a
    reviewer needs (every top-level resource has the stack as parent).
    """
    if not urn or "::pulumi:pulumi:Stack::" in urn:
        return None
    return urn


def _resource_entry(registration: Any, root: str) -> dict[str, Any]:
    inputs = dict(registration.inputs)
    if registration.type.startswith("pulumi-python:dynamic"):
        inputs.pop("__provider", None)
    return {
        "urn": registration.urn,
        "type": registration.type,
        "name": registration.name,
        "parent": _parent(registration.parent),
        "custom": registration.custom,
        "read": registration.read,
        "protect": registration.protect,
        "retainOnDelete": bool(registration.retain_on_delete),
        "ignoreChanges": sorted(registration.ignore_changes),
        "dependsOn": sorted(set(registration.dependencies)),
        "inputs": normalise(inputs, root),
    }


def _spec_of(evaluation: Any) -> dict[str, Any]:
    """The validated spec of an evaluation, as JSON.

    A revision whose mock engine predates ``Evaluation.spec`` is asked for its spec the way
    its program read it: the config the evaluation set is still in place.
    """
    if hasattr(evaluation, "spec"):
        return evaluation.spec.model_dump(mode="json", by_alias=True) if evaluation.spec is not None else {}
    if evaluation.error:
        return {}
    # Imported here: they come from the evaluated checkout (see the module docstring).
    from components.config_source import read_raw_config  # noqa: PLC0415
    from components.spec import CONFIG_NAMESPACE  # noqa: PLC0415
    from components.spec_loader import validate_spec  # noqa: PLC0415

    dumped: dict[str, Any] = validate_spec(read_raw_config(CONFIG_NAMESPACE)).model_dump(mode="json", by_alias=True)
    return dumped


def build_plan(stack: str, root: Path) -> dict[str, Any]:
    """Evaluate ``stack`` of the project at ``root`` and return its plan document."""
    from tools.mock_engine import evaluate, load_stack_config  # noqa: PLC0415 - the evaluated checkout's engine

    try:
        config = load_stack_config(stack, root=root)
    except FileNotFoundError:
        known = ", ".join(all_stacks(root))
        raise PlanError(f"--stack {stack}: there is no stacks/Pulumi.{stack}.yaml; known stacks: {known}") from None
    evaluation = evaluate(config)
    root_text = str(root.resolve())
    plan: dict[str, Any] = {
        "planFormat": PLAN_FORMAT,
        "project": "scone",
        "stack": stack,
        "error": normalise(evaluation.error, root_text) if evaluation.error else None,
        "secretConfigKeys": sorted(config.secret_keys),
        "spec": normalise(_spec_of(evaluation), root_text),
        "outputs": normalise(evaluation.outputs, root_text),
        "resources": sorted(
            (_resource_entry(registration, root_text) for registration in evaluation.registrations),
            key=lambda entry: (entry["urn"], entry["read"]),
        ),
    }
    leaked = find_plain_secret(plan)
    if leaked is not None:  # normalise() masks sentinels; this is the belt to its braces
        raise PlanError(f"refusing to write the plan of {stack}: a secret value appears in plain text at {leaked}")
    return plan


def find_plain_secret(value: Any, path: str = "$") -> str | None:
    """The path of the first mock-engine secret sentinel in ``value``, if any."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = find_plain_secret(item, f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_plain_secret(item, f"{path}[{index}]")
            if found:
                return found
        return None
    return path if isinstance(value, str) and SENTINEL_PREFIX in value else None


def plan_json(plan: Mapping[str, Any]) -> str:
    """The canonical JSON text of a plan (what ``plan_diff`` reads)."""
    return json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- Markdown -------------------------------------------------------------------------------


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MARKDOWN_STRING_LIMIT:
        return f"{value[:MARKDOWN_STRING_LIMIT]}… ({len(value)} characters; whole value in the JSON plan)"
    if isinstance(value, Mapping):
        return {key: _short(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_short(item) for item in value]
    return value


def _yaml(value: Any) -> str:
    text: str = yaml.safe_dump(_short(value), sort_keys=True, default_flow_style=False, allow_unicode=True, width=100)
    return text


def _dig(document: Mapping[str, Any], dotted: str) -> Any:
    current: Any = document
    for part in dotted.split("."):
        if not isinstance(current, Mapping) or part not in current:
            return None
        current = current[part]
    return current


#: Spec values a reviewer looks at first, in this order.
KEY_SETTINGS = (
    "serviceVersion",
    "managementState",
    "skipCas",
    "production",
    "backup.enabled",
    "backup.interval",
    "backup.retention",
    "backup.minKeep",
    "monitoring.enabled",
    "images.repository",
    "provisioning.enabled",
)


def _label(urn: str | None, names: Mapping[str, str]) -> str:
    if not urn:
        return "—"
    return names.get(urn, "(stack)")


def plan_markdown(plan: Mapping[str, Any]) -> str:
    """A readable rendering of a plan document."""
    stack = plan["stack"]
    lines = [
        f"# Plan of stack `{stack}` (project {plan['project']})",
        "",
        "Evaluated with the in-process mock engine from the stack file alone: no cluster, no state, no"
        f" credentials. `{SECRET_MASK}` is a secret value; `{UNKNOWN_MASK}` is known only after apply.",
        "",
    ]
    if plan.get("error"):
        lines += ["**The stack file is invalid; nothing would be deployed:**", "", "```", plan["error"], "```", ""]
        return "\n".join(lines)
    spec = plan.get("spec") or {}
    if spec:
        lines += ["## Key settings", "", "| Setting | Value |", "|---|---|"]
        lines += [f"| `{key}` | `{json.dumps(_dig(spec, key))}` |" for key in KEY_SETTINGS]
        lines.append("")
    if plan.get("secretConfigKeys"):
        lines += ["Secret config keys set: " + ", ".join(f"`{key}`" for key in plan["secretConfigKeys"]), ""]
    resources = plan["resources"]
    names = {entry["urn"]: f"{entry['name']}" for entry in resources}
    lines += [
        f"## Resources ({len(resources)})",
        "",
        "| Type | Name | Parent | protect | retainOnDelete |",
        "|---|---|---|---|---|",
    ]
    for entry in resources:
        lines.append(
            f"| `{entry['type']}` | `{entry['name']}` | {_label(entry['parent'], names)} |"
            f" {'yes' if entry['protect'] else 'no'} | {'yes' if entry['retainOnDelete'] else 'no'} |"
        )
    lines += ["", "## Outputs", "", "```yaml", _yaml(plan.get("outputs") or {}).rstrip(), "```", "", "## Details", ""]
    for entry in resources:
        lines += [f"### `{entry['name']}` ({entry['type']})", "", f"- URN: `{entry['urn']}`"]
        if entry["read"]:
            lines.append("- read from the cluster, not managed")
        if entry["ignoreChanges"]:
            lines.append("- ignoreChanges: " + ", ".join(f"`{item}`" for item in entry["ignoreChanges"]))
        if entry["dependsOn"]:
            lines.append("- dependsOn: " + ", ".join(f"`{_label(urn, names)}`" for urn in entry["dependsOn"]))
        if entry["inputs"]:
            lines += ["", "```yaml", _yaml(entry["inputs"]).rstrip(), "```"]
        lines.append("")
    return "\n".join(lines)


# --- command line ---------------------------------------------------------------------------


def write_plans(stacks: list[str], root: Path, out_dir: Path) -> list[Path]:
    """Write JSON and Markdown plans of ``stacks``; returns the JSON paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stack in stacks:
        plan = build_plan(stack, root)
        json_path = out_dir / f"{stack}.plan.json"
        json_path.write_text(plan_json(plan))
        (out_dir / f"{stack}.plan.md").write_text(plan_markdown(plan))
        written.append(json_path)
    return written


def all_stacks(root: Path) -> list[str]:
    """Every stack that has a stack file under ``root``."""
    from components.config_source import stack_names  # noqa: PLC0415 - the evaluated checkout's layout

    return stack_names(root)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(prog="python -m tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", action="append", help="stack to plan (repeatable); default: every stack file")
    parser.add_argument(
        "--out-dir", type=Path, default=Path("build/plans"), help="where to write (default build/plans)"
    )
    parser.add_argument("--root", type=Path, default=None, help="project to evaluate (default: this checkout)")
    args = parser.parse_args(argv)
    root = (args.root or Path(__file__).resolve().parent.parent).resolve()
    if not (root / "Pulumi.yaml").is_file():
        parser.error(f"--root {root}: no Pulumi.yaml there; point --root at a checkout of this project")
    stacks = args.stack or all_stacks(root)
    failed = False
    try:
        for path in write_plans(stacks, root, args.out_dir):
            plan = json.loads(path.read_text())
            if plan["error"]:
                failed = True
                print(f"{plan['stack']}: INVALID stack file — {plan['error']}", file=sys.stderr)
            else:
                print(f"{plan['stack']}: {len(plan['resources'])} resources → {path} (+ .md)")
    except PlanError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 1 if failed else 0


if __name__ == "__main__":
    if __package__ in (None, ""):  # run by path against another checkout: that checkout comes first
        sys.path.insert(0, str(Path.cwd()))
    sys.exit(main())
