"""The pack under the real engine: `pulumi preview --policy-pack policy` of the local stack.

Unit tests call the validate functions directly; this shows that the Pulumi CLI (built by
``e2e/build_tools.sh``) loads the pack from this folder (PulumiPolicy.yaml, the project's
virtualenv, the ``policy.scone_policy`` import path), reads the config file that
``tools.policy_config`` writes, and blocks a preview on a mandatory violation. It runs
against the e2e tier's local control plane on loopback, like the program's e2e tests.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.harness.cluster import LocalCluster
from e2e.harness.local_stack import LocalSconeStack
from e2e.harness.pulumi_env import PulumiWorkspace
from e2e.harness.tools import Tools, ToolsMissingError
from tools.plan import build_plan
from tools.policy_config import policy_config

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "policy"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalSconeStack, PulumiWorkspace]]:
    try:
        tools = Tools.locate(need_pulumi=True)
    except ToolsMissingError as error:
        pytest.fail(str(error), pytrace=False)
    work = tmp_path_factory.mktemp("policy-engine")
    old = os.environ.get("FAKE_SCONE_STATE_DIR")
    os.environ["FAKE_SCONE_STATE_DIR"] = str(work / "fake-scone")
    cluster = LocalCluster(tools, workdir=work / "cp")
    try:
        cluster.start()
        stack = LocalSconeStack(tools, cluster, work)
        workspace = stack.create()
        workspace.extra_env["FAKE_SCONE_STATE_DIR"] = os.environ["FAKE_SCONE_STATE_DIR"]
        yield stack, workspace
    finally:
        cluster.stop()
        if old is None:
            os.environ.pop("FAKE_SCONE_STATE_DIR", None)
        else:
            os.environ["FAKE_SCONE_STATE_DIR"] = old


@pytest.fixture(scope="module")
def pack_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pack-config") / "local.json"
    path.write_text(json.dumps(policy_config(build_plan("local", ROOT)["spec"])))
    return path


def test_the_local_stack_passes_the_pack_in_a_real_preview(
    local_stack: tuple[LocalSconeStack, PulumiWorkspace], pack_config: Path
) -> None:
    stack, workspace = local_stack
    stack.reconfigure({})
    preview = workspace.run("preview", "--policy-pack", str(PACK), "--policy-pack-config", str(pack_config))
    assert preview.returncode == 0, preview.output[-5000:]
    assert "scone-stack@v" in preview.stdout and "mandatory" not in preview.stdout


def test_images_from_another_registry_block_the_preview_with_the_policy_message(
    local_stack: tuple[LocalSconeStack, PulumiWorkspace], pack_config: Path
) -> None:
    stack, workspace = local_stack
    stack.reconfigure({"images": {"repository": "registry.example.com/other"}})
    preview = workspace.run("preview", "--policy-pack", str(PACK), "--policy-pack-config", str(pack_config))
    assert preview.returncode != 0
    assert "[mandatory]  images-from-configured-registry  (kubernetes:services.scone.cloud/v1beta1:CAS: cas)" in (
        preview.stdout
    )
    assert "'registry.example.com/other/osc-cas:5.8.0'" in preview.stdout


def test_the_pack_config_is_what_allows_another_registry(
    local_stack: tuple[LocalSconeStack, PulumiWorkspace], tmp_path: Path
) -> None:
    stack, workspace = local_stack
    stack.reconfigure({"images": {"repository": "registry.example.com/other"}})
    config = tmp_path / "other.json"
    config.write_text(json.dumps({"images-from-configured-registry": {"registry": "registry.example.com/other"}}))
    preview = workspace.run("preview", "--policy-pack", str(PACK), "--policy-pack-config", str(config))
    assert preview.returncode == 0, preview.output[-5000:]
