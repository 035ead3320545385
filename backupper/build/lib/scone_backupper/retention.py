"""Retention: which sets to delete after a successful run.

Why this shape: the bucket's lifecycle rule deletes by age alone, which after a long outage of the
backupper would delete *every* backup. Here age is only a permission: the newest complete set is
never deleted, at least `min_keep` complete sets always remain, and nothing is deleted at all
after a failed run (the caller only plans retention when the run succeeded).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .manifest import parse_set_id
from .store import SetListing


@dataclass
class RetentionPlan:
    """Set ids to delete, by category, and the complete sets that stay."""

    expired: list[str] = field(default_factory=list)
    unfinished: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    @property
    def deletions(self) -> list[str]:
        """Every set id to delete, oldest first within each category."""
        return self.expired + self.unfinished + self.damaged


def plan_retention(
    listing: SetListing,
    now: dt.datetime,
    *,
    retention_days: int,
    min_keep: int,
    orphan_grace: dt.timedelta,
    protect: frozenset[str] = frozenset(),
) -> RetentionPlan:
    """Plan deletions; `protect` holds set ids that must survive (e.g. the one just written)."""
    cutoff = now - dt.timedelta(days=retention_days)
    plan = RetentionPlan()
    complete_ids = [m.set_id for m in listing.complete]  # newest first
    remaining = len(complete_ids)
    deletable: set[str] = set()
    # Walk from the oldest towards the newest; index 0 (the newest) is never a candidate.
    for set_id in reversed(complete_ids[1:]):
        created = parse_set_id(set_id)
        if set_id in protect or created is None or created >= cutoff:
            continue
        if remaining <= min_keep:
            break
        deletable.add(set_id)
        plan.expired.append(set_id)
        remaining -= 1
    plan.kept = [s for s in complete_ids if s not in deletable]
    for set_id in sorted(listing.incomplete):
        created = parse_set_id(set_id)
        if set_id not in protect and created is not None and now - created > orphan_grace:
            plan.unfinished.append(set_id)
    for set_id in sorted(listing.damaged):
        created = parse_set_id(set_id)
        if set_id not in protect and created is not None and created < cutoff:
            plan.damaged.append(set_id)
    return plan
