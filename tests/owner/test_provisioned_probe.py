"""Only a definite "not provisioned" leads to provisioning or to recorded drift.

``--is-provisioned`` prints ``YES`` (exit 0) or what it found and then ``NO`` (exit 1). Any other
outcome — exit 3 from a failing command under ``set -e``, an ``error_exit`` (exit 1 without ``NO``), a
hang — is not an answer: it is retried like every plugin run and, if it stays unclear, fails clearly.
The rules below also fail ``--verify``, so that the same failure hits whichever question is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.owner.providers import CasProvisioningProvider, OwnerOperationError
from tests.owner.world import NAMESPACE, OwnerWorld

PROVISIONING_RUN = ["cas", "cas", "-n", NAMESPACE]


def unclear(**extra: Any) -> list[dict[str, Any]]:
    """Both questions fail with upstream's exit code of a failing command (3 here), not with NO."""
    message = "docker: Cannot connect to the Docker daemon"
    return [
        {"match": "--is-provisioned", "action": "fail", "exit": 3, "message": message, **extra},
        {"match": "--verify", "action": "fail", "exit": 3, "message": message, **extra},
    ]


def test_an_unclear_answer_never_starts_a_provisioning_run(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject(*unclear())
    with pytest.raises(OwnerOperationError) as err:
        CasProvisioningProvider().create(world.props())
    text = str(err.value)
    assert "Could not tell whether CAS 'cas' in namespace 'scone-system' is provisioned" in text
    assert "an unclear answer never starts a provisioning run" in text
    assert "attempt 1: exit 3; attempt 2: exit 3; attempt 3: exit 3" in text  # same bounds as every run
    assert "Cannot connect to the Docker daemon" in text
    assert PROVISIONING_RUN not in world.argvs()
    assert "backup-controller" not in world.cas()["spec"] or not world.cas()["spec"]["backup-controller"].get("session")


def test_an_unclear_answer_is_retried_and_a_later_no_leads_to_provisioning(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject(*unclear(times=2))
    result = CasProvisioningProvider().create(world.props())
    assert result.outs is not None and result.outs["adopted"] is False
    questions = [argv for argv in world.argvs() if "--is-provisioned" in argv]
    assert len(questions) == 3  # two unclear answers, then NO
    assert world.argvs().index(PROVISIONING_RUN) > world.argvs().index(questions[-1])


def test_a_hanging_question_is_stopped_and_never_read_as_not_provisioned(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    world.inject({"match": "--is-provisioned", "action": "hang"}, {"match": "--verify", "action": "hang"})
    with pytest.raises(OwnerOperationError, match=r"attempt 1: timed out; attempt 2: timed out"):
        CasProvisioningProvider().create(world.props(timeoutSeconds=5, maxAttempts=2))
    assert PROVISIONING_RUN not in world.argvs()


def test_refresh_fails_on_an_unclear_answer_instead_of_recording_not_provisioned(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    outs = CasProvisioningProvider().create(world.props()).outs
    assert outs is not None
    world.inject(*unclear())
    with pytest.raises(OwnerOperationError, match="Could not tell whether CAS 'cas'"):
        CasProvisioningProvider().read(f"{NAMESPACE}/cas", outs)


def test_a_definite_no_is_recorded_as_not_provisioned(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    outs = CasProvisioningProvider().create(world.props()).outs
    assert outs is not None
    for db in world.state.rglob("cas.json"):
        db.unlink()  # the CAS lost its database: the plugin now answers NO
    read = CasProvisioningProvider().read(f"{NAMESPACE}/cas", outs)
    assert read.outs is not None and read.outs["provisioned"] is False
    assert sum("--is-provisioned" in argv for argv in world.argvs()) == 2  # one each; a NO is not retried
