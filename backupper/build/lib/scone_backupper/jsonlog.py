"""Structured JSON logs on stderr, one object per line, with secret values redacted.

Why a redactor on top of "never log secrets": errors from libraries (botocore, subprocess) are
logged as text we do not control. Every secret read from the credentials Secret is registered here,
and every formatted line is scrubbed of all registered values before it is written.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import threading
from typing import Any

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
REDACTED = "[REDACTED]"


def register_secret(value: str) -> None:
    """Remember a secret value so that it is replaced in every log line from now on."""
    if len(value) >= 4:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every registered secret in `text`."""
    with _LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object, merging fields passed as `extra={"fields": {...}}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, tz=dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error_type"] = record.exc_info[0].__name__
            entry["traceback"] = self.formatException(record.exc_info)
        return redact(json.dumps(entry, default=str, sort_keys=False))


def setup_logging(level: str = "info") -> None:
    """Send all logging to stderr as JSON; keep chatty HTTP libraries at warning."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    """Log `msg` with structured `fields`."""
    logger.log(level, msg, extra={"fields": fields})
