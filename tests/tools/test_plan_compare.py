"""The comparison rules on small hand-made plans: field paths, replacements, renames, size."""

from __future__ import annotations

from typing import Any

from tools.plan_compare import ABSENT, compare, field_changes, replace_reason
from tools.plan_diff import COMMENT_LIMIT, diff_plans, render_markdown

STACK_ROOT = "urn:pulumi:s::scone::scone:index:Cas"


def resource(
    type_: str, name: str, inputs: dict[str, Any], protect: bool = False, parent: str | None = None
) -> dict[str, Any]:
    return {
        "urn": f"{STACK_ROOT}${type_}::{name}" if parent is None else f"{parent}${type_}::{name}",
        "type": type_,
        "name": name,
        "parent": parent,
        "custom": True,
        "read": False,
        "protect": protect,
        "retainOnDelete": protect,
        "ignoreChanges": [],
        "dependsOn": [],
        "inputs": inputs,
    }


def plan(*resources: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {"stack": "s", "error": None, "spec": spec, "outputs": {}, "resources": list(resources)}


def test_list_items_with_names_are_addressed_by_name_so_an_insertion_changes_one_path() -> None:
    old = {"env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}
    new = {"env": [{"name": "NEW", "value": "0"}, {"name": "A", "value": "1"}, {"name": "B", "value": "3"}]}
    changes = {(c.path, c.base, c.head) for c in field_changes(old, new)}
    assert changes == {
        ("env[name=NEW].name", ABSENT, "NEW"),
        ("env[name=NEW].value", ABSENT, "0"),
        ("env[name=B].value", "2", "3"),
    }


def test_keys_that_are_not_identifiers_are_quoted() -> None:
    [change] = field_changes({"labels": {"app.kubernetes.io/name": "a"}}, {"labels": {"app.kubernetes.io/name": "b"}})
    assert change.path == 'labels["app.kubernetes.io/name"]'


def test_only_fields_the_provider_cannot_update_force_a_replacement() -> None:
    assert replace_reason(
        "kubernetes:apps/v1:Deployment", tuple(field_changes({"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}))
    )
    assert (
        replace_reason(
            "kubernetes:apps/v1:Deployment", tuple(field_changes({"spec": {"replicas": 1}}, {"spec": {"replicas": 2}}))
        )
        is None
    )
    assert replace_reason(
        "kubernetes:core/v1:ConfigMap", tuple(field_changes({"data": {"a": "1"}}, {"data": {"a": "2"}}))
    )
    assert replace_reason(
        "aws:s3/bucketVersioning:BucketVersioning", tuple(field_changes({"bucket": "a"}, {"bucket": "b"}))
    )
    # A prefix matches whole path segments only: "metadata.namespaceLabels" is not "metadata.namespace".
    assert (
        replace_reason(
            "kubernetes:x/v1:Y", tuple(field_changes({"metadata": {"namespaceX": 1}}, {"metadata": {"namespaceX": 2}}))
        )
        is None
    )


def test_a_secret_value_that_changes_is_not_visible_as_a_change() -> None:
    old = plan(resource("kubernetes:core/v1:Secret", "s", {"stringData": "<secret>"}))
    new = plan(resource("kubernetes:core/v1:Secret", "s", {"stringData": "<secret>"}))
    assert not compare("s", old, new).has_changes


def test_two_renamed_resources_of_one_type_are_not_paired_by_guesswork() -> None:
    old = plan(resource("kubernetes:core/v1:ConfigMap", "a", {}), resource("kubernetes:core/v1:ConfigMap", "b", {}))
    new = plan(resource("kubernetes:core/v1:ConfigMap", "c", {}), resource("kubernetes:core/v1:ConfigMap", "d", {}))
    diff = compare("s", old, new)
    assert [e["name"] for e in diff.added] == ["c", "d"] and [e["name"] for e in diff.removed] == ["a", "b"]
    assert diff.replaced == []


def test_a_new_environment_lists_everything_as_added() -> None:
    diff = compare("s", None, plan(resource("kubernetes:core/v1:Namespace", "n", {})))
    assert [e["name"] for e in diff.added] == ["n"]


def test_a_comment_too_long_for_github_keeps_the_trust_anchor_findings() -> None:
    old = [resource("kubernetes:apps/v1:Deployment", f"d{i}", {"spec": {"replicas": 1}}) for i in range(600)]
    new = [resource("kubernetes:apps/v1:Deployment", f"d{i}", {"spec": {"replicas": 2}}) for i in range(600)]
    cas = resource("kubernetes:services.scone.cloud/v1beta1:CAS", "cas", {}, protect=True)
    diffs, found = diff_plans(["s"], {"s": plan(cas, *old)}, {"s": plan(*new)})
    text = render_markdown(diffs, found, "a", "b")
    assert len(text) <= COMMENT_LIMIT + 1000
    assert "CAS `cas` leaves the stack" in text
    assert "longer than a pull-request comment allows" in text
