"""Asking the plugin about a CAS: is it provisioned, is it attestable, what are its public keys.

Why these answers are handled with care:
- "Not provisioned" leads to a provisioning run, so it must be a definite answer, never a guess.
  ``--verify`` only exits 1 on failure, the same code every ``error_exit`` uses (missing namespace,
  unreachable cluster, a port-forward already running ...), so its failure cannot tell "not
  provisioned" from "could not check". ``--is-provisioned`` can: it prints ``YES`` and exits 0, or
  prints what it found followed by ``NO`` and exits 1. Only that ``NO`` means "not provisioned"; any
  other outcome (another exit code, a timeout, no ``YES``/``NO`` line) is retried like every plugin run
  and, if it stays unclear, fails with an error instead of provisioning.
- The public keys are read from ``export NAME="value"`` lines; the certificate may be printed on one
  line or, as a PEM usually is, over several lines. A cut-short output is rejected, never recorded.
"""

from __future__ import annotations

import re

from components.owner.plugin import PluginError, PluginResult
from components.owner.provider_base import OwnerProps, cas_args, fail

KEY_NAMES = {
    "CAS_KEY": "casKey",
    "CAS_SOFTWARE_KEY": "casSoftwareKey",
    "CAS_SESSION_ENCRYPTION_KEY": "casSessionEncryptionKey",
    "CAS_CERT": "casCert",
}
# The quoted value may span lines (a PEM certificate); it ends at a closing quote that ends its line.
_KEY_LINE = re.compile(r'^export (CAS_KEY|CAS_SOFTWARE_KEY|CAS_SESSION_ENCRYPTION_KEY|CAS_CERT)="([^"]*)"[ \t]*$', re.M)
PEM_BEGIN, PEM_END = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
YES, NO = "YES", "NO"


def parse_public_keys(stdout: str) -> dict[str, str]:
    """``{"casKey": ..., "casCert": ...}`` from ``--print-public-keys`` output (missing names left out)."""
    text = stdout.replace("\r\n", "\n")
    keys: dict[str, str] = {}
    for match in _KEY_LINE.finditer(text):
        value = match.group(2)
        if "\n" in value:  # a PEM over several lines: keep its lines, without trailing blanks
            value = "\n".join(line.strip() for line in value.strip().splitlines())
        keys[KEY_NAMES[match.group(1)]] = value
    return keys


def incomplete_keys(result: PluginResult) -> str | None:
    """Why an exit-0 ``--print-public-keys`` output cannot be recorded, or None when it is complete."""
    keys = parse_public_keys(result.stdout)
    missing = sorted(name for name, key in KEY_NAMES.items() if not keys.get(key))
    if missing:
        return f"incomplete output, missing {', '.join(missing)}"
    cert = keys["casCert"]
    if PEM_BEGIN not in cert or PEM_END not in cert:
        return "incomplete output, CAS_CERT is not a whole PEM certificate"
    return None


def read_public_keys(p: OwnerProps, version: str | None = None) -> dict[str, str]:
    result = p.runner(version).run(
        cas_args(p, "--print-public-keys"), "reading the CAS public keys", validate=incomplete_keys
    )
    return parse_public_keys(result.stdout)


def verify(p: OwnerProps, what: str, version: str | None = None) -> None:
    """``--verify`` with retries: confirms a step that just ran (attestable and provisioned)."""
    p.runner(version).run(cas_args(p, "--verify"), what)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def said_no(result: PluginResult) -> bool:
    """The one definite "not provisioned": ``--is-provisioned`` printed ``NO`` last and exited 1."""
    return result.returncode == 1 and _last_line(result.stdout) == NO


def _said_yes(result: PluginResult) -> str | None:
    return None if _last_line(result.stdout) == YES else f"exit 0 without the answer {YES}"


def is_provisioned(p: OwnerProps) -> bool:
    """Is this CAS provisioned? A definite YES or NO, or an :class:`OwnerOperationError`."""
    try:
        result = p.runner().run(
            cas_args(p, "--is-provisioned"),
            f"asking whether CAS '{p.cas_name}' is provisioned",
            validate=_said_yes,
            answers_no=said_no,
        )
    except PluginError as exc:
        raise fail(
            f"Could not tell whether CAS '{p.cas_name}' in namespace '{p.namespace}' is provisioned: "
            f"`kubectl provision ... --is-provisioned` answered neither {YES} nor {NO}. Nothing was provisioned "
            "and nothing was recorded (an unclear answer never starts a provisioning run). Fix the cause below "
            f"and run pulumi again.\n{exc}"
        ) from exc
    return result.ok
