"""Errors a dynamic provider shows the user, without a Python traceback in front of them.

Pulumi's dynamic-provider server reports every exception with ``traceback.format_exc()``,
so even a clear "cert-manager is not installed ..." arrives behind a page of stack frames.
``format_exc`` honours ``sys.tracebacklimit``: for our own ``UserFacingError`` — and only
inside the provider server process — the frames and chained causes are dropped, leaving
``UserFacingError: <message>``. Unexpected errors (bugs) keep their full traceback.

What such a message quotes from a tool (kubectl's or the plugin's stderr) goes through ``clean``
first: no terminal colour codes, no secret values.
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
REDACTED = "[REDACTED]"
# key=value shapes the plugin (or the scone CLI) may echo; their values are secret whatever they are.
_SECRET_ASSIGNMENTS = re.compile(
    r"(?i)\b(subscription_key|dcap[_-]?(?:api[_-]?)?key|CAS_PROVISIONING_TOKEN|token)(\s*[=:]\s*\"?)([^\s\"]+)"
)

PROVIDER_METHODS = ("check", "diff", "create", "read", "update", "delete")

ProviderClass = TypeVar("ProviderClass", bound=type)


class UserFacingError(RuntimeError):
    """An error whose message says everything the user needs, including what to do."""


def in_provider_server() -> bool:
    """True in the process Pulumi starts for dynamic providers (``python -m pulumi.dynamic``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return spec is not None and spec.name == "pulumi.dynamic.__main__"


def _plain_message(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except UserFacingError as error:
            if not in_provider_server():
                raise
            sys.tracebacklimit = 0
            raise error.with_traceback(None) from None
        except Exception:
            # A bug: show it whole, even after an earlier user-facing error set the limit.
            sys.__dict__.pop("tracebacklimit", None)
            raise

    return run


def user_facing_errors(cls: ProviderClass) -> ProviderClass:
    """Class decorator for a ResourceProvider: its UserFacingErrors reach the user as plain messages."""
    for name in PROVIDER_METHODS:
        if name in vars(cls):
            setattr(cls, name, _plain_message(vars(cls)[name]))
    return cls


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return ANSI_ESCAPE.sub("", text)


def redact(text: str, secrets: Sequence[str | None]) -> str:
    """Remove every secret value and every ``key=value`` that looks like a credential."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    return _SECRET_ASSIGNMENTS.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def clean(text: str, secrets: Sequence[str | None]) -> str:
    """``text`` fit to show: no colour codes, no secret values, no credential-looking ``key=value``."""
    return redact(strip_ansi(text), secrets)
