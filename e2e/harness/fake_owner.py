"""The CAS owner's machine, simulated: the fake `kubectl-provision` on PATH for a stack.

Why one place: the demo and the owner e2e tests (provisioning, upgrade, recovery) turn on
`scone:provisioning` the same way. The fake plugin (e2e/fakes, faithful to the 5.8.0
contract) acts on the real API server through real `kubectl` plugin dispatch; the tools
upstream's preflight asks for (jq, docker, cosign, gpg) are stubbed only where this
machine lacks the real one, since the fake never runs them.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from components.owner.plugin import REQUIRED_TOOLS
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.tools import REPO_ROOT

FAKES_BIN = REPO_ROOT / "e2e" / "fakes" / "bin"
#: What the owner preflight asks for, minus kubectl (the harness puts the real one on PATH).
PREFLIGHT_TOOLS = tuple(tool for tool in REQUIRED_TOOLS if tool != "kubectl")


def owner_provisioning(work: Path) -> dict[str, Any]:
    """The stack setting that turns the owner operations on; identity and backups under ``work``."""
    (work / "owner").mkdir(parents=True, exist_ok=True)
    return {"enabled": True, "targetDir": str(work / "owner"), "backupDir": str(work / "backups")}


def stub_missing_tools(directory: Path) -> None:
    """A stub for each preflight tool this machine lacks (the fake plugin never runs them)."""
    directory.mkdir(parents=True, exist_ok=True)
    for tool in PREFLIGHT_TOOLS:
        if shutil.which(tool) is None:
            stub = directory / tool
            stub.write_text(f'#!/bin/sh\necho "{tool} stub (e2e): not used by the fake kubectl-provision"\n')
            stub.chmod(0o755)


def use_fake_plugin(ws: PulumiWorkspace, work: Path, call_log: Path | None = None) -> None:
    """Put the fake `kubectl-provision` (and stubs) first on the PATH of every `pulumi` run of ``ws``."""
    stubs = work / "stubs"
    stub_missing_tools(stubs)
    ws.extra_env.update({
        "PATH": f"{FAKES_BIN}{os.pathsep}{stubs}{os.pathsep}{ws.env()['PATH']}",
        "FAKE_SCONE_STATE_DIR": os.environ["FAKE_SCONE_STATE_DIR"],
    })
    if call_log is not None:
        ws.extra_env["FAKE_SCONE_CALL_LOG"] = str(call_log)
