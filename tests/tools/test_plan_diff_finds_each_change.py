"""The plan diff finds each kind of change in a pair of revisions of a real git repository.

Every revision is the project as it is now plus one edit; each is exported with
``git archive`` and evaluated by its own code in a subprocess (``tools.revision_plans``),
exactly as in a pull request. The trust-anchor findings are checked by kind and wording.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.support_matrix import release, supported_versions
from tests.tools.fixture_repo import PROJECT, FixtureRepo, code, delete_stack, stack_config
from tools.plan_compare import StackDiff
from tools.plan_diff import COMMENT_MARKER, diff_plans, render_markdown
from tools.revision_plans import export_revision, plan_tree
from tools.trust_anchor import Finding

STACK = "prod"
PROD = yaml.safe_load((PROJECT / "stacks" / f"Pulumi.{STACK}.yaml").read_text())["config"]


#: prod's own SCONE release and the one before it in the support matrix (the upgrade order).
CURRENT = str(PROD["scone:serviceVersion"])
PREVIOUS = supported_versions()[supported_versions().index(CURRENT) - 1]
#: A Kubernetes minor both releases support, so that the upgrade changes only the SCONE version.
SHARED_KUBERNETES = next(
    minor for minor in release(PREVIOUS).kubernetes_minors() if minor in release(CURRENT).kubernetes_minors()
)


def prod_backup(**changes: Any) -> dict[str, Any]:
    """prod's backup settings with ``changes`` (stack_config replaces the whole key)."""
    return {**PROD["scone:backup"], **changes}


#: name -> (commit message, edits). Each is compared with the base revision.
SCENARIOS: dict[str, tuple[str, list[Any]]] = {
    "unchanged": ("nothing that changes the plan", []),
    "cas-upgrade": ("upgrade SCONE", [stack_config(STACK, kubernetesVersion=SHARED_KUBERNETES)]),
    "skip-cas": ("stop creating CAS", [stack_config(STACK, skipCas=True)]),
    "cas-renamed": ("rename CAS", [stack_config(STACK, cas={**PROD["scone:cas"], "name": "cas-two"})]),
    "bucket-named": (
        "name the bucket",
        [stack_config(STACK, backup=prod_backup(s3={"bucketName": "acme-cas-backups"}))],
    ),
    "backups-off": ("switch backups off", [stack_config(STACK, backup=prod_backup(enabled=False))]),
    "backup-schedule": (
        "back up more often, keep less",
        [stack_config(STACK, backup=prod_backup(interval=7200, retention=7, minKeep=2))],
    ),
    "unmanaged": ("recover CAS", [stack_config(STACK, managementState="Unmanaged")]),
    "unprotect-cas": ("code: CAS not protected", [code("components/cas.py", "protect=True", "protect=False")]),
    "unretain-cas": (
        "code: CAS not retained",
        [code("components/cas.py", "retain_on_delete=True", "retain_on_delete=False")],
    ),
    "monitoring-off": ("no monitoring in prod", [stack_config(STACK, monitoring={"enabled": False})]),
    "invalid": ("typo in a key", [stack_config(STACK, backup=prod_backup(intervall=7200))]),
    "prod-removed": ("drop the prod stack", [delete_stack(STACK)]),
}

#: The base revision runs the previous SCONE release, so that "cas-upgrade" (which moves
#: to the current one) is an upgrade. Every other scenario keeps the base version.
BASE_EDITS = [stack_config(STACK, serviceVersion=PREVIOUS, kubernetesVersion=SHARED_KUBERNETES)]


class Revisions:
    """The fixture repository, its revisions and their (cached) prod plans."""

    def __init__(self, root: Path) -> None:
        self.repo = FixtureRepo(root / "repo")
        self.work = root / "work"
        # Base: the previous release. Scenarios: that plus their own edit, except cas-upgrade
        # which is the current release (the stack file as it is in the repository).
        self.base = self.repo.revision("base: previous SCONE release", *BASE_EDITS)
        self.commits = {
            name: self.repo.revision(message, *(edits if name == "cas-upgrade" else [*BASE_EDITS, *edits]))
            for name, (message, edits) in SCENARIOS.items()
        }
        self._plans: dict[str, dict[str, dict[str, Any]]] = {}

    def plans(self, commit: str) -> dict[str, dict[str, Any]]:
        if commit not in self._plans:
            tree = export_revision(self.repo.root, commit, self.work / commit / "tree")
            self._plans[commit] = plan_tree(tree, [STACK], self.work / commit / "plans", commit)
        return self._plans[commit]

    def diff(self, scenario: str) -> tuple[StackDiff, list[Finding]]:
        diffs, found = diff_plans([STACK], self.plans(self.base), self.plans(self.commits[scenario]))
        return diffs[0], found


@pytest.fixture(scope="module")
def revisions(tmp_path_factory: pytest.TempPathFactory) -> Revisions:
    return Revisions(tmp_path_factory.mktemp("plan-diff"))


def kinds(found: list[Finding]) -> list[str]:
    return [item.kind for item in found]


def test_the_base_revision_evaluates_with_the_previous_release(revisions: Revisions) -> None:
    plan = revisions.plans(revisions.base)[STACK]
    assert plan["error"] is None
    assert plan["spec"]["serviceVersion"] == PREVIOUS


def test_a_revision_that_changes_nothing_in_the_plan_shows_no_change(revisions: Revisions) -> None:
    diff, found = revisions.diff("unchanged")
    assert not diff.has_changes
    assert found == []


def test_a_cas_upgrade_is_called_out_with_the_owner_and_a_fresh_backup(revisions: Revisions) -> None:
    diff, found = revisions.diff("cas-upgrade")
    upgrade = [item for item in found if item.kind == "cas-upgrade"]
    assert len(upgrade) == 1
    assert f"{PREVIOUS} to {CURRENT}" in upgrade[0].message
    assert "owner" in upgrade[0].message and "backup" in upgrade[0].message
    cas = next(change for change in diff.changed if change.type.endswith(":CAS"))
    assert {f.path for f in cas.fields} >= {"spec.image"}
    assert any(f.path == "serviceVersion" for f in diff.settings)


def test_switching_skipcas_on_removes_the_cas_and_says_both(revisions: Revisions) -> None:
    diff, found = revisions.diff("skip-cas")
    assert kinds(found)[:1] == ["cas-removed"]
    assert "skip-cas" in kinds(found)
    assert any(entry["type"].endswith(":CAS") for entry in diff.removed)
    assert any(entry["name"] == "scone-cas-db-backupper" and "Deployment" in entry["type"] for entry in diff.removed)


def test_renaming_the_cas_is_a_cas_replacement(revisions: Revisions) -> None:
    diff, found = revisions.diff("cas-renamed")
    replaced = [change for change in diff.replaced if change.type.endswith(":CAS")]
    assert len(replaced) == 1 and replaced[0].name == "cas-two"
    assert "cas-replaced" in kinds(found)
    assert "new identity" in next(item.message for item in found if item.kind == "cas-replaced")


def test_naming_the_bucket_replaces_it_and_says_so(revisions: Revisions) -> None:
    diff, found = revisions.diff("bucket-named")
    bucket = next(change for change in diff.replaced if change.type == "aws:s3/bucket:Bucket")
    assert "bucket" in (bucket.replace_reason or "")
    assert {f.path: f.head for f in bucket.fields}["bucket"] == "acme-cas-backups"
    assert kinds(found) == ["bucket-replaced"]


def test_switching_backups_off_deletes_the_bucket_from_the_stack_and_stops_backups(revisions: Revisions) -> None:
    diff, found = revisions.diff("backups-off")
    assert "bucket-removed" in kinds(found)
    backup = next(item for item in found if item.kind == "backup-changed")
    assert "enabled True → False" in backup.message and "STOP" in backup.message
    assert any(entry["type"] == "aws:s3/bucket:Bucket" for entry in diff.removed)


def test_a_new_backup_interval_and_retention_are_called_out(revisions: Revisions) -> None:
    diff, found = revisions.diff("backup-schedule")
    backup = [item for item in found if item.kind == "backup-changed"]
    assert len(backup) == 1
    assert "interval 14400 s → 7200 s" in backup[0].message
    assert "retention 30 days → 7 days" in backup[0].message
    assert "minKeep 6 sets → 2 sets" in backup[0].message
    deployment = next(change for change in diff.changed if change.type == "kubernetes:apps/v1:Deployment")
    assert any(f.head == "7200" for f in deployment.fields)


def test_a_switch_to_unmanaged_is_called_out(revisions: Revisions) -> None:
    _, found = revisions.diff("unmanaged")
    state = [item for item in found if item.kind == "management-state"]
    assert len(state) == 1 and "Managed → Unmanaged" in state[0].message


def test_protect_removed_by_a_code_change_is_found_in_that_revisions_own_code(revisions: Revisions) -> None:
    diff, found = revisions.diff("unprotect-cas")
    assert kinds(found) == ["protect-removed"]
    assert found[0].urn is not None and found[0].urn.endswith("::cas")
    cas = next(change for change in diff.changed if change.type.endswith(":CAS"))
    assert [(f.path, f.base, f.head) for f in cas.fields] == [("(option) protect", True, False)]


def test_retain_on_delete_removed_is_found(revisions: Revisions) -> None:
    _, found = revisions.diff("unretain-cas")
    assert kinds(found) == ["retain-removed"]


def test_an_ordinary_change_is_listed_with_its_resources_but_is_no_trust_anchor_change(revisions: Revisions) -> None:
    diff, found = revisions.diff("monitoring-off")
    assert found == []
    assert {entry["type"].rsplit(":", 1)[-1] for entry in diff.removed} >= {"ServiceMonitor", "PrometheusRule"}


def test_an_invalid_head_stack_file_is_reported_first_with_the_key(revisions: Revisions) -> None:
    _, found = revisions.diff("invalid")
    assert kinds(found) == ["invalid-stack"]
    assert "intervall" in found[0].message


def test_a_removed_stack_file_is_reported(revisions: Revisions) -> None:
    diff, found = revisions.diff("prod-removed")
    assert diff.head is None
    assert kinds(found) == ["stack-removed"]


def test_trust_anchor_changes_lead_the_markdown(revisions: Revisions) -> None:
    diff, found = revisions.diff("skip-cas")
    text = render_markdown([diff], found, "base", "head")
    assert text.startswith(COMMENT_MARKER)
    anchor = text.index("### Trust-anchor changes")
    assert anchor < text.index("CAS `cas` leaves the stack") < text.index("### Summary") < text.index("**Removed**")


def run_plan_diff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools.plan_diff", *args], cwd=PROJECT, capture_output=True, text=True, check=False
    )


def test_the_command_compares_two_revisions_and_writes_markdown_and_json(revisions: Revisions, tmp_path: Path) -> None:
    result = run_plan_diff(
        "--repo", str(revisions.repo.root), "--base", revisions.base, "--head", revisions.commits["backup-schedule"],
        "--stack", STACK, "--stack", "dev", "--out", str(tmp_path / "diff.md"), "--json-out", str(tmp_path / "d.json"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "d.json").read_text())
    assert [item["kind"] for item in document["trustAnchor"]] == ["backup-changed"]
    assert [(s["stack"], s["status"]) for s in document["stacks"]] == [("dev", "no changes"), ("prod", "changes")]
    markdown = (tmp_path / "diff.md").read_text()
    assert "| `prod` | changes |" in markdown and "BACKUP_INTERVAL_SECONDS" not in markdown.split("### Summary")[0]


def test_the_command_exits_1_when_a_head_stack_file_is_invalid(revisions: Revisions) -> None:
    result = run_plan_diff(
        "--repo", str(revisions.repo.root), "--base", revisions.base, "--head", revisions.commits["invalid"],
        "--stack", STACK,
    )  # fmt: skip
    assert result.returncode == 1
    assert "does not validate" in result.stdout and "intervall" in result.stdout


def test_an_unknown_revision_is_a_clear_error(revisions: Revisions) -> None:
    result = run_plan_diff("--repo", str(revisions.repo.root), "--base", "no-such-branch", "--head", revisions.base)
    assert result.returncode == 2
    assert "revision 'no-such-branch' is not a commit" in result.stderr
    assert "Traceback" not in result.stderr


def test_two_plan_files_can_be_compared_directly(revisions: Revisions, tmp_path: Path) -> None:
    base_file, head_file = tmp_path / "base.json", tmp_path / "head.json"
    base_file.write_text(json.dumps(revisions.plans(revisions.base)[STACK]))
    head_file.write_text(json.dumps(revisions.plans(revisions.commits["unmanaged"])[STACK]))
    result = run_plan_diff("--base-plan", str(base_file), "--head-plan", str(head_file))
    assert result.returncode == 0, result.stderr
    assert "managementState on `prod`: Managed → Unmanaged" in result.stdout
