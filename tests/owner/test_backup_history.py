"""Every pre-upgrade backup is the one its own ``--local-backup`` run wrote, and nothing is ever deleted.

Upstream writes ``./cas-database-snapshots/<n>-<ns>-last-snapshot-db`` (and moves an earlier copy to
``.bak``) in its working directory. Before every backup run, whatever an earlier run left there is
moved into the kept history (``<backupDir>/<n>-<ns>/earlier-work-snapshots/``), so an old copy can
never be kept as a new backup.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from components.owner.providers import CasProvisioningProvider, CasUpgradeProvider, OwnerOperationError
from tests.owner.world import NAMESPACE, OwnerWorld

CHAIN = ["5.8.0", "5.8.1", "5.9.0", "5.10.0"]
SNAPSHOT = f"cas-{NAMESPACE}-last-snapshot-db"


def upgrade(world: OwnerWorld, old: str, new: str) -> dict[str, Any]:
    result = CasUpgradeProvider().update(
        "x",
        {**world.props(version=old, supportedVersions=CHAIN), "casVersion": old},
        world.props(version=new, supportedVersions=CHAIN),
    )
    assert result.outs is not None
    return result.outs


def test_three_chained_upgrades_each_keep_their_own_backup_and_lose_nothing(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    CasProvisioningProvider().create(world.props(supportedVersions=CHAIN))

    outs = [upgrade(world, old, new) for old, new in itertools.pairwise(CHAIN)]

    for (old, _new), out in zip(itertools.pairwise(CHAIN), outs, strict=True):
        kept = Path(out["backupPath"])
        assert kept.name.endswith(f"-{old}") and out["previousVersion"] == old
        assert json.loads((kept / "cas.db").read_text())["version"] == old  # the database as it was at `old`
        assert hashlib.sha256((kept / "SHA256SUMS").read_bytes()).hexdigest() == out["backupSha256"]
    assert len({out["backupSha256"] for out in outs}) == 3

    backup_runs = [call for call in world.calls() if "--local-backup" in call["argv"]]
    assert len(backup_runs) == 3
    assert all(call["cwd_snapshots"] == [] for call in backup_runs)  # each run started from a cleared dir

    # The copies earlier runs left behind are kept, not deleted: one per earlier upgrade, each identical
    # to the backup kept for that upgrade.
    history = sorted((world.backups / f"cas-{NAMESPACE}" / "earlier-work-snapshots").iterdir())
    assert [sorted(p.name for p in moved.iterdir()) for moved in history] == [[SNAPSHOT], [SNAPSHOT]]
    for moved, out in zip(history, outs[:2], strict=True):
        assert (moved / SNAPSHOT / "cas.db").read_bytes() == (Path(out["backupPath"]) / "cas.db").read_bytes()


def test_a_backup_run_that_copies_nothing_never_keeps_an_older_copy(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    CasProvisioningProvider().create(world.props())
    stale = world.work / "cas-database-snapshots" / SNAPSHOT
    stale.mkdir(parents=True)
    (stale / "cas.db").write_text('{"version": "an older database"}')
    (stale / "cas.key-store").write_text("older key store")
    world.inject({"match": "--local-backup", "action": "cp-nothing"})  # kubectl cp: exit 0, nothing copied

    with pytest.raises(OwnerOperationError) as err:
        upgrade(world, "5.8.0", "5.8.1")

    text = str(err.value)
    assert "the pre-upgrade backup failed, CAS was not changed" in text
    assert "reported success but wrote no snapshot" in text
    assert all("--upgrade" not in argv for argv in world.argvs())
    assert world.cas()["spec"]["image"].endswith("osc-cas:5.8.0")
    kept = [p for p in (world.backups / f"cas-{NAMESPACE}").iterdir() if p.name != "earlier-work-snapshots"]
    assert kept == []
    moved = list((world.backups / f"cas-{NAMESPACE}" / "earlier-work-snapshots").rglob("cas.db"))
    assert [p.read_text() for p in moved] == ['{"version": "an older database"}']  # kept, not deleted


def test_an_upgrade_is_refused_when_earlier_work_copies_cannot_be_moved_aside(world: OwnerWorld) -> None:
    world.create_cas_cr("5.8.0")
    CasProvisioningProvider().create(world.props())
    (world.work / "cas-database-snapshots" / SNAPSHOT).mkdir(parents=True)
    history = world.backups / f"cas-{NAMESPACE}"
    history.mkdir(parents=True)
    (history / "earlier-work-snapshots").write_text("a file where the history directory belongs")
    with pytest.raises(OwnerOperationError, match="could not move the earlier snapshot copies"):
        upgrade(world, "5.8.0", "5.8.1")
    assert world.cas()["spec"]["image"].endswith("osc-cas:5.8.0")
