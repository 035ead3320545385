"""Redaction of engine error text before it is printed or stored in the cluster.

Why: the Automation API's errors carry the whole `pulumi` stdout/stderr, and a failing update can
echo configuration (a prelude, a provider's diff of a Secret, a kubectl-provision tail). The
reconciler keeps only the tail of an error, replaces every secret value of the stack's config it
knows of, and then anything that merely looks like a credential: `secure:` ciphertexts, values of
keys named like key/secret/token/password, AWS access key ids, long base64 or hex runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MASK = "[redacted]"
MAX_LINES = 12
MAX_CHARS = 1500
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
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
        for value in sorted(self.secrets, key=len, reverse=True):
            clean = clean.replace(value, MASK)
        for pattern in _PATTERNS:
            clean = pattern.sub(_pattern_mask, clean)
        return clean

    def error_tail(self, text: str) -> str:
        """The last meaningful lines of an engine error, redacted and bounded for a ConfigMap value."""
        lines = [line.rstrip() for line in self(text).splitlines() if line.strip()]
        tail = "\n".join(lines[-MAX_LINES:])
        return tail[-MAX_CHARS:]
