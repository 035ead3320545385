"""Errors a dynamic provider shows the user, without a Python traceback in front of them.

Pulumi's dynamic-provider server reports every exception with ``traceback.format_exc()``,
so even a clear "cert-manager is not installed ..." arrives behind a page of stack frames.
``format_exc`` honours ``sys.tracebacklimit``: for our own ``UserFacingError`` — and only
inside the provider server process — the frames and chained causes are dropped, leaving
``UserFacingError: <message>``. Unexpected errors (bugs) keep their full traceback.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

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
