"""The README's first command (`make demo` = `python -m e2e.harness.demo`) works end to end.

Why its own test: it is the first thing a newcomer runs; it must bring up the stack with a
provisioned CAS, print outputs a reader can trust, keep the sentinel DCAP key out of them,
and leave nothing behind (its work directory and every process it started are gone).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from e2e.harness.local_stack import GENERATED_DCAP_KEY, generate_dcap_key
from e2e.harness.scone_project import local_stack_version
from e2e.harness.tools import REPO_ROOT, Tools

OUTPUTS_MARK = "Stack outputs:\n"


def _printed_outputs(stdout: str) -> dict[str, Any]:
    """The JSON object the demo prints after its "Stack outputs:" line."""
    assert OUTPUTS_MARK in stdout, stdout[-4000:]
    text = stdout.split(OUTPUTS_MARK, 1)[1]
    outputs, _end = json.JSONDecoder().raw_decode(text)
    assert isinstance(outputs, dict)
    return outputs


def _processes_mentioning(needle: str) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if needle.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_demo_provisions_cas_prints_its_outputs_and_cleans_up(e2e_tools: Tools, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("FAKE_SCONE_STATE_DIR", None)
    demo = subprocess.run([sys.executable, "-m", "e2e.harness.demo"], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, check=False)
    assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
    outputs = _printed_outputs(demo.stdout)
    assert outputs["deployedVersion"] == local_stack_version()
    assert outputs["operatorRelease"]["status"] == "deployed"
    assert outputs["owner"]["casVersion"] == local_stack_version()
    assert set(outputs["owner"]["publicKeys"]) >= {"casKey", "casSoftwareKey", "casSessionEncryptionKey"}
    assert GENERATED_DCAP_KEY.fullmatch(generate_dcap_key())  # the pattern still describes the demo's key
    assert not GENERATED_DCAP_KEY.search(demo.stdout + demo.stderr)
    status_lines = demo.stdout.split(OUTPUTS_MARK, 1)[1].splitlines()
    cas_line = next(line for line in status_lines if "cas.services.scone.cloud/cas" in line)
    assert cas_line.split()[2:5] == ["HEALTHY", "HEALTHY", "Yes"], cas_line  # status, phase, provisioned
    assert any("las.base.scone.cloud/las" in line and "HEALTHY" in line for line in status_lines)
    assert any("sgxplugin.base.scone.cloud/sgxplugin" in line and "HEALTHY" in line for line in status_lines)
    assert list(tmp_path.glob("scone-demo-*")) == []
    assert _processes_mentioning(str(tmp_path)) == []
