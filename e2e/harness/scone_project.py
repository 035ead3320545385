"""A throw-away Pulumi project directory that runs the real SCONE program.

Why not run in the repository: `pulumi stack init` and `config set --secret` write
the stack file (encryption salt, ciphertexts); e2e runs must never rewrite the
committed stacks/Pulumi.local.yaml. The temp project's Pulumi.yaml points `main` at
the repository (so the program and its `components` package are the real ones),
its `stackConfigDir` at a temp copy of the stack file with the test's overrides,
and the runtime at the shared virtualenv. The stack file's stand-in chart is replaced by
Scontain's released charts when they are beside the repository (``upstream_charts``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from e2e.harness.pulumi_env import VENV
from e2e.harness.tools import REPO_ROOT
from e2e.harness.upstream_charts import charts_dir

BASE_STACK_FILE = REPO_ROOT / "stacks" / "Pulumi.local.yaml"
CHART_DIR_CONFIG = "e2e/harness/charts/scone-operator"


def local_chart_location() -> str:
    """Where the local stack's operator chart comes from in a temp project: Scontain's released
    ``scone-operator-{version}.tgz`` when they are beside the repository, else the stand-in chart
    (by absolute path: the temp project is elsewhere)."""
    folder = charts_dir()
    return str(folder / "scone-operator-{version}.tgz") if folder else str(REPO_ROOT / CHART_DIR_CONFIG)


def local_stack_version() -> str:
    """The SCONE version the committed local stack file declares."""
    return str(yaml.safe_load(BASE_STACK_FILE.read_text())["config"]["scone:serviceVersion"])


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` wins; nested dicts merge; a None value removes the key."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_project(dest: Path, stack: str, overrides: dict[str, Any] | None = None) -> Path:
    """Write dest/Pulumi.yaml and dest/stacks/Pulumi.<stack>.yaml; return dest."""
    dest.mkdir(parents=True, exist_ok=True)
    project = yaml.safe_load((REPO_ROOT / "Pulumi.yaml").read_text())
    project["main"] = str(REPO_ROOT)
    project["stackConfigDir"] = "stacks"
    project["runtime"] = {"name": "python", "options": {"toolchain": "pip", "virtualenv": str(VENV)}}
    (dest / "Pulumi.yaml").write_text(yaml.safe_dump(project, sort_keys=False))
    write_stack_config(dest, stack, overrides or {})
    return dest


def write_stack_config(dest: Path, stack: str, overrides: dict[str, Any]) -> None:
    """(Re)write the stack's plain config from the local stack file + overrides, keeping
    the salt and secure values `pulumi` already wrote there."""
    base = yaml.safe_load(BASE_STACK_FILE.read_text())
    config: dict[str, Any] = dict(base.get("config") or {})
    chart = config.get("scone:operatorChart")
    if isinstance(chart, dict) and chart.get("location") == CHART_DIR_CONFIG:
        chart["location"] = local_chart_location()
    config = deep_merge(config, overrides)
    stacks = dest / "stacks"
    stacks.mkdir(exist_ok=True)
    path = stacks / f"Pulumi.{stack}.yaml"
    existing = yaml.safe_load(path.read_text()) if path.exists() else {}
    existing = existing or {}
    secure = {k: v for k, v in (existing.get("config") or {}).items()
              if isinstance(v, dict) and "secure" in v}
    doc: dict[str, Any] = {}
    if "encryptionsalt" in existing:
        doc["encryptionsalt"] = existing["encryptionsalt"]
    doc["config"] = {**config, **secure}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
