"""The plan: byte-identical for the same input, complete, free of secrets and of absolute paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tools.fixture_repo import PROJECT, FixtureRepo, stack_config
from tools.plan import SECRET_MASK, build_plan, normalise, plan_json, plan_markdown
from tools.plan_diff import diff_plans, render_json, render_markdown
from tools.revision_plans import export_revision, plan_tree, stacks_in

STACKS = stacks_in(PROJECT)
SENTINEL = "SENTINEL-SECRET-"

#: Every credential the program accepts, set the way `pulumi config set --secret` stores them.
SECURE_CONFIG: dict[str, Any] = {
    "dcapKey": {"secure": "v1:AAAAdcap"},
    "registryAuth": {"secure": "v1:AAAAregistry"},
    "s3AccessKeyId": {"secure": "v1:AAAAkeyid"},
    "s3SecretAccessKey": {"secure": "v1:AAAAsecret"},
}


def run_plan(out_dir: Path, *stacks: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "tools.plan", "--out-dir", str(out_dir)]
    for stack in stacks:
        command += ["--stack", stack]
    return subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)


def test_the_same_stack_files_give_byte_identical_plans_whatever_the_order(tmp_path: Path) -> None:
    first = run_plan(tmp_path / "first", *STACKS)
    second = run_plan(tmp_path / "second", *reversed(STACKS))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    names = sorted(path.name for path in (tmp_path / "first").iterdir())
    assert names == sorted(f"{stack}.plan.{ext}" for stack in STACKS for ext in ("json", "md"))
    for name in names:
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_has_type_name_parent_inputs_and_flags_sorted_by_urn(stack: str) -> None:
    plan = build_plan(stack, PROJECT)
    assert plan["error"] is None
    urns = [entry["urn"] for entry in plan["resources"]]
    assert urns == sorted(urns) and len(set(urns)) == len(urns)
    for entry in plan["resources"]:
        assert set(entry) >= {"type", "name", "parent", "inputs", "protect", "retainOnDelete", "ignoreChanges"}
        assert entry["parent"] is None or entry["parent"] in urns
        assert "__provider" not in entry["inputs"]
    markdown = plan_markdown(plan)
    assert all(f"`{entry['name']}`" in markdown for entry in plan["resources"])


def test_the_prod_plan_shows_cas_and_bucket_protected_and_retained() -> None:
    plan = build_plan("prod", PROJECT)
    flags = {entry["type"]: (entry["protect"], entry["retainOnDelete"]) for entry in plan["resources"]}
    assert flags["kubernetes:services.scone.cloud/v1beta1:CAS"] == (True, True)
    assert flags["aws:s3/bucket:Bucket"] == (True, True)
    assert plan["spec"]["production"] is True


def test_a_plan_of_a_copy_elsewhere_is_identical_and_names_no_absolute_path(tmp_path: Path) -> None:
    copy = FixtureRepo(tmp_path / "elsewhere")
    here = plan_json(build_plan("local", PROJECT))
    there = plan_json(build_plan("local", copy.root))
    assert here == there
    assert str(PROJECT) not in here and str(tmp_path) not in there


def test_an_invalid_stack_file_gives_a_plan_with_the_error_and_exit_status_1(tmp_path: Path) -> None:
    copy = FixtureRepo(tmp_path / "repo")
    copy.revision("typo", stack_config("dev", backup={"intervall": 60}))
    result = subprocess.run(
        [sys.executable, "-m", "tools.plan", "--root", str(copy.root), "--stack", "dev", "--out-dir", str(tmp_path)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "intervall" in result.stderr and "Traceback" not in result.stderr
    plan = json.loads((tmp_path / "dev.plan.json").read_text())
    assert plan["resources"] == [] and "intervall" in plan["error"]
    assert "invalid" in (tmp_path / "dev.plan.md").read_text()


def test_an_unknown_stack_is_a_clear_error(tmp_path: Path) -> None:
    result = run_plan(tmp_path, "nope")
    assert result.returncode == 2
    assert "--stack nope: there is no stacks/Pulumi.nope.yaml; known stacks:" in result.stderr


def secret_stack_edit(root: Path) -> None:
    """prod with every credential set as a secret and an S3-compatible endpoint (uses the store keys)."""
    path = root / "stacks" / "Pulumi.prod.yaml"
    document = yaml.safe_load(path.read_text())
    config = document["config"]
    config["scone:backup"]["s3"] = {"endpoint": "https://s3.example.com", "forcePathStyle": True}
    config.update({f"scone:{key}": value for key, value in SECURE_CONFIG.items()})
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def test_secrets_never_appear_in_a_plan_or_a_diff(tmp_path: Path) -> None:
    repo = FixtureRepo(tmp_path / "repo")
    base = repo.revision("no credentials")
    head = repo.revision("all credentials", secret_stack_edit)
    plans = {
        commit: plan_tree(
            export_revision(repo.root, commit, tmp_path / commit), ["prod"], tmp_path / f"p{commit}", commit
        )
        for commit in (base, head)
    }
    head_plan = plans[head]["prod"]
    assert head_plan["error"] is None
    assert head_plan["secretConfigKeys"] == sorted(f"scone:{key}" for key in SECURE_CONFIG)
    diffs, found = diff_plans(["prod"], plans[base], plans[head])
    texts = {
        "plan json": plan_json(head_plan),
        "plan markdown": plan_markdown(head_plan),
        "diff markdown": render_markdown(diffs, found, "base", "head"),
        "diff json": render_json(diffs, found),
    }
    for label, text in texts.items():
        assert SENTINEL not in text, label
        for value in SECURE_CONFIG.values():
            assert value["secure"] not in text, label
    # The credentials are used, and shown only as masks: the pull Secrets and the bucket Secret.
    secrets = [entry for entry in head_plan["resources"] if entry["type"] == "kubernetes:core/v1:Secret"]
    assert secrets and all(SECRET_MASK in json.dumps(entry["inputs"]) for entry in secrets)
    assert any(entry["type"] == "kubernetes:core/v1:Secret" for entry in diffs[0].added)


def test_a_secret_that_leaked_into_a_plain_string_is_masked_not_printed() -> None:
    leaked = {"spec": {"env": [{"name": "DCAP", "value": f"key={SENTINEL}dcapKey"}]}, "n": 3.0}
    assert normalise(leaked, "/nowhere") == {"n": 3, "spec": {"env": [{"name": "DCAP", "value": SECRET_MASK}]}}
