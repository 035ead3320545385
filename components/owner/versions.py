"""The version policy: supported versions only; a CAS upgrade goes forward, one supported version at a time.

The one home of these rules: the spec refuses an unsupported ``serviceVersion`` with
``version_problem``, the owner component and its providers apply the same rules in preview
(``check``/``diff``, on properties only) and in ``up`` (against the version the CAS CR reports).
They need nothing but the support matrix's versions, oldest first, so this module imports nothing.
"""

from __future__ import annotations


def version_problem(version: str, supported: tuple[str, ...]) -> str | None:
    """Why ``version`` may not run (not in ``supported``), or None; an empty ``supported`` allows all."""
    if supported and version not in supported:
        return (
            f"serviceVersion '{version}' is not in the support matrix ({', '.join(supported)}): "
            "pick a supported version (components/support_matrix.yaml lists them)"
        )
    return None


def upgrade_problem(current: str, desired: str, supported: tuple[str, ...]) -> str | None:  # noqa: PLR0911 - one return per rule
    """The guide's N-2 policy as an upgrade rule: forward, one supported version at a time."""
    if current == desired:
        return None
    problem = version_problem(desired, supported)
    if problem:
        return problem
    if not supported:
        return None
    if current not in supported:
        return (
            f"CAS runs '{current}', which is not in the support matrix ({', '.join(supported)}): "
            "an upgrade path from it cannot be checked; upgrade CAS manually to a supported version first"
        )
    step = supported.index(desired) - supported.index(current)
    if step < 0:
        return (
            f"downgrading CAS from '{current}' to '{desired}' is not supported: "
            f"keep serviceVersion at '{current}' or newer"
        )
    if step > 1:
        skipped = supported[supported.index(current) + 1 : supported.index(desired)]
        return (
            f"upgrading CAS from '{current}' to '{desired}' would skip {', '.join(skipped)}: upgrade one supported "
            f"version at a time (set serviceVersion to '{skipped[0]}', run pulumi up, then continue)"
        )
    return None
