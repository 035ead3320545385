"""Every stack file evaluates, with unique URNs and the status outputs."""

from __future__ import annotations

import pytest

from tests.program.conftest import STACKS, Evaluate


def test_the_repository_has_dev_prod_and_an_s3creds_skipcas_stack() -> None:
    assert {"dev", "prod", "edge"} <= set(STACKS)


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_evaluates_without_error(evaluate_stack: Evaluate, stack: str) -> None:
    evaluation = evaluate_stack(stack)
    assert evaluation.error is None
    assert evaluation.registrations


@pytest.mark.parametrize("stack", STACKS)
def test_no_two_resources_share_a_urn(evaluate_stack: Evaluate, stack: str) -> None:
    urns = evaluate_stack(stack).urns()
    duplicates = {urn for urn in urns if urns.count(urn) > 1}
    assert not duplicates


def urn_type(urn: str) -> str:
    """The type of the resource a URN names (the last segment of its type chain)."""
    return urn.split("::")[2].rsplit("$", maxsplit=1)[-1]


@pytest.mark.parametrize("stack", STACKS)
def test_every_resource_is_a_component_or_parented_to_one(evaluate_stack: Evaluate, stack: str) -> None:
    evaluation = evaluate_stack(stack)
    orphans = [
        r.name
        for r in evaluation.registrations
        if not r.type.startswith("scone:index:") and not urn_type(r.parent).startswith("scone:index:")
    ]
    # Only the two guards and the status stand beside the components: everything waits for the
    # stack guard, the status for everything else, and the destroy guard for everything.
    assert sorted(orphans) == ["destroy-guard", "scone-status", "stack-guard"]


@pytest.mark.parametrize("stack", STACKS)
def test_status_outputs_stand_in_for_the_scone_cr_status(evaluate_stack: Evaluate, stack: str) -> None:
    evaluation = evaluate_stack(stack)
    outputs = evaluation.outputs
    assert evaluation.spec is not None
    assert outputs["deployedVersion"] == evaluation.spec.serviceVersion
    assert len(outputs["deployedSpec"]) == 64
    assert outputs["managementState"] == "Managed"
    assert outputs["namespaces"] == {"operator": "osc-sec-us-scone-operator", "services": "osc-scone-system"}
    assert outputs["operatorRelease"]["status"] == "deployed"


def test_deployed_spec_hash_is_stable_and_changes_with_the_spec(evaluate_stack: Evaluate) -> None:
    first = evaluate_stack("dev").outputs["deployedSpec"]
    again = evaluate_stack("dev").outputs["deployedSpec"]
    changed = evaluate_stack("dev", backup={"interval": 7200, "retention": 3}).outputs["deployedSpec"]
    assert first == again
    assert changed != first


def test_prod_exports_the_cas_and_the_backup_bucket(evaluate_stack: Evaluate) -> None:
    evaluation = evaluate_stack("prod")
    outputs, spec = evaluation.outputs, evaluation.spec
    assert spec is not None
    assert outputs["cas"]["image"] == f"{spec.images.repository}/{spec.images.prefix}cas:{spec.serviceVersion}"
    assert outputs["cas"]["statusCommand"] == "kubectl get cas cas -n osc-scone-system"
    assert outputs["backup"]["secretName"] == "s3-bucket-scone-cas-db-backupper"
    assert outputs["backup"]["bucket"].startswith("scone-cas-db-backupper-")


def test_each_evaluation_parents_its_resources_to_its_own_stack(evaluate_stack: Evaluate) -> None:
    evaluate_stack("dev")
    prod = evaluate_stack("prod")
    top = prod.named("stack-guard")
    assert top.parent == "urn:pulumi:prod::scone::pulumi:pulumi:Stack::scone-prod"
