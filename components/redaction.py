"""Redaction of engine error text before it is printed or stored in the cluster (status ConfigMap).

Why: the Automation API's errors carry the whole `pulumi` stdout/stderr, and a failing update can
echo configuration (a prelude, a provider's diff of a Secret, a kubectl-provision tail). Both
writers of the status (the reconciler and the program's error hook) keep only the tail of an
error, replace every secret value of the stack's config they know of, and then anything that
merely looks like a credential: `secure:` ciphertexts, values of
keys named like key/secret/token/password, AWS access key ids, long base64 or hex runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from components.scone_status import SECRET_MASK, masked

MASK = SECRET_MASK
MAX_LINES = 12
MAX_CHARS = 1500
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
#: `  kubernetes:helm.sh/v3:Release (scone-operator):` - the resource a diagnostic belongs to
_RESOURCE_HEADER = re.compile(r"^\s*[\w.-]+:[\w./-]*:[\w.-]+ \(.+\):$")
#: errors that follow from another one: the engine stopping, the update as a whole
_CONSEQUENCE = re.compile(r"Resource monitor has terminated|error: update failed|one or more errors occurred")
_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(?P<keep>secure\s*[:=]\s*)\S+"),
    re.compile(r"v1:[A-Za-z0-9+/=:]{8,}"),
    re.compile(r"(?i)(?P<keep>(?:[\w.-]*(?:key|secret|token|passw(?:or)?d|passphrase|credential|auth)[\w.-]*)"
               r"[\"']?\s*[:=]\s*)(\"[^\"]*\"|'[^']*'|\S+)"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{12,}\b"),
    re.compile(r"\bDCAP-[0-9A-Za-z]+"),
    re.compile(r"[A-Za-z0-9+/_-]{32,}={0,2}"),
)


def _pattern_mask(match: re.Match[str]) -> str:
    """Keep the key of a `key: value` match, mask the rest."""
    keep = match.groupdict().get("keep")
    return (keep or "") + MASK


@dataclass(frozen=True)
class Redactor:
    """Masks known secret values, then credential-looking text."""

    secrets: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, values: Iterable[str]) -> Redactor:
        """Values shorter than 4 characters are not masked literally (they would mask ordinary words)."""
        return cls(frozenset(v for v in values if len(v) >= 4))

    def __call__(self, text: str) -> str:
        clean = _ANSI.sub("", text)
        clean = masked(clean, self.secrets)
        for pattern in _PATTERNS:
            clean = pattern.sub(_pattern_mask, clean)
        return clean

    def error_tail(self, text: str) -> str:
        """The cause of an engine error, redacted and bounded for a ConfigMap value.

        The `error:` diagnostics, each under the resource it belongs to, causes first; only an
        error without any falls back to its last lines. A plain tail is not enough: how many
        warnings and consequences ("Resource monitor has terminated") the engine prints after the
        failing resource's error depends on timing, and under load they pushed the cause out.
        """
        lines = [line.rstrip() for line in self(text).splitlines() if line.strip()]
        found = error_diagnostics(lines)
        if found:
            return "\n".join(found)[:MAX_CHARS]
        return "\n".join(lines[-MAX_LINES:])[-MAX_CHARS:]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def error_diagnostics(lines: list[str]) -> list[str]:
    """Every `error:` line with its continuation lines and its resource header, causes first."""
    causes: list[list[str]] = []
    consequences: list[list[str]] = []
    header = ""
    index = 0
    while index < len(lines):
        line = lines[index]
        if _RESOURCE_HEADER.match(line):
            header = line
        if not line.strip().startswith("error:"):
            index += 1
            continue
        block = [header, line] if header else [line]
        index += 1
        while index < len(lines) and _indent(lines[index]) > _indent(line):
            block.append(lines[index])
            index += 1
        (consequences if _CONSEQUENCE.search(line) else causes).append(block)
    return [entry for block in causes + consequences for entry in block][:MAX_LINES * 2]
