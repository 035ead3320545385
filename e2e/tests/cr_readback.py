"""What the API server kept of a custom resource the program sent: every sent field, or the missing ones.

A CRD with a structural schema prunes fields it does not know, silently; a CR the program writes
must therefore read back with every field it sent, or the program relies on something the
operator never sees.
"""

from __future__ import annotations

from typing import Any

SCONE_CR_TYPES = (
    "kubernetes:base.scone.cloud/v1beta1:LAS",
    "kubernetes:base.scone.cloud/v1beta1:SGXPlugin",
    "kubernetes:services.scone.cloud/v1beta1:CAS",
)


def missing_fields(sent: Any, live: Any, path: str = "") -> list[str]:
    """Dotted paths of ``sent`` that ``live`` lacks or holds with another value (list items by index)."""
    if isinstance(sent, dict):
        if not isinstance(live, dict):
            return [path or "."]
        out: list[str] = []
        for key, value in sent.items():
            where = f"{path}.{key}" if path else str(key)
            out += missing_fields(value, live[key], where) if key in live else [where]
        return out
    if isinstance(sent, list):
        if not isinstance(live, list) or len(live) != len(sent):
            return [path or "."]
        return [p for i, item in enumerate(sent) for p in missing_fields(item, live[i], f"{path}[{i}]")]
    return [] if sent == live else [f"{path} (sent {sent!r}, read {live!r})"]
