"""The S3 client and the one retry policy every S3 call goes through.

Why our own retries instead of botocore's: the backoff must be configurable (tests use
milliseconds, the cluster seconds), interruptible by SIGTERM, logged per attempt, and aware of
our own verification failures (a part whose ETag does not match is re-sent like a 500 would be).
botocore's own retries are therefore switched off (one attempt per call).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)
from botocore.parsers import ResponseParserError
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from .credentials import S3Credentials
from .errors import InterruptedRun, StoreError
from .jsonlog import log_event
from .settings import BackupperSettings

log = logging.getLogger("scone_backupper.s3")
T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeoutException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "BadDigest",
        "XAmzContentSHA256Mismatch",
    }
)
RETRYABLE_STATUS = frozenset({500, 502, 503, 504, 429})
# Ranges in flight while restoring into a file: each holds only a small read buffer (not a whole
# range, unlike --concurrency's parts), so more of them cost no memory; awscli uses 10.
FILE_DOWNLOAD_WORKERS = 8


class TransientMismatch(Exception):
    """Our own check found that the store did not receive what we sent; worth another attempt."""


def make_client(
    credentials: S3Credentials,
    settings: BackupperSettings,
    *,
    unsigned_payload: bool = False,
    session: Any | None = None,
) -> Any:
    """A boto3 S3 client for this run (fresh credentials), without botocore's own retries.

    `unsigned_payload`: SigV4 signs the headers but not a SHA-256 of the body
    (UNSIGNED-PAYLOAD), for requests whose body carries a signed x-amz-checksum-crc32 (parts) or
    x-amz-checksum-sha256 (single PUT) header instead: the store checks that, so hashing the body
    for the signature only costs CPU (over http botocore would otherwise always do it).
    """
    s3_options: dict[str, Any] = {"addressing_style": "path"} if credentials.endpoint_url else {}
    if unsigned_payload:
        s3_options["payload_signing_enabled"] = False
    config = Config(
        region_name=credentials.region,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        max_pool_connections=max(settings.concurrency, FILE_DOWNLOAD_WORKERS) + 4,
        # We send our own Content-MD5 and CRC32/SHA-256 checksum headers; no extra trailers.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        s3=s3_options,
    )
    # Clients of one session share its loaded service model (a second session costs ~13 MiB).
    session = session if session is not None else boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=credentials.endpoint_url,
        aws_access_key_id=credentials.access_key_id.get_secret_value(),
        aws_secret_access_key=credentials.secret_access_key.get_secret_value(),
        config=config,
    )


def error_code(exc: BaseException) -> str:
    """The S3 error code of a ClientError, or the exception's class name."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """True for faults that may heal: throttling, 5xx, timeouts, dropped connections, mismatches."""
    if isinstance(exc, TransientMismatch):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return error_code(exc) in RETRYABLE_CODES or status in RETRYABLE_STATUS
    return isinstance(
        exc,
        (
            BotoConnectionError,
            EndpointConnectionError,
            ConnectionClosedError,
            ConnectTimeoutError,
            ReadTimeoutError,
            IncompleteReadError,
            ResponseStreamingError,
            Urllib3HTTPError,
            ConnectionError,
            TimeoutError,
        ),
    )


class Retrier:
    """Runs a callable with exponential backoff and full jitter; honours a stop event."""

    def __init__(self, settings: BackupperSettings, stop: threading.Event) -> None:
        self.max_attempts = settings.max_attempts
        self.base = settings.retry_base_seconds
        self.cap = settings.retry_max_seconds
        self.stop = stop

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Call `fn` until it succeeds, a non-retryable error occurs or attempts run out."""
        attempt = 0
        while True:
            if self.stop.is_set():
                raise InterruptedRun(f"stopped before {what}")
            attempt += 1
            try:
                return fn()
            except (
                ClientError,
                BotoCoreError,
                TransientMismatch,
                ResponseParserError,
                Urllib3HTTPError,
                OSError,
            ) as exc:
                code = error_code(exc)
                if isinstance(exc, ResponseParserError):
                    raise StoreError(f"{what} failed: {not_s3(exc)}", code) from None
                if not is_retryable(exc):
                    raise StoreError(
                        f"{what} failed: {code}: {_short(exc)}{_hint(code)}", code
                    ) from None
                if attempt >= self.max_attempts:
                    raise StoreError(
                        f"{what} failed after {attempt} attempts (--max-attempts): {code}: "
                        f"{_short(exc)}",
                        code,
                    ) from None
                delay = random.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))  # noqa: S311
                log_event(
                    log,
                    logging.WARNING,
                    "retrying S3 request",
                    operation=what,
                    attempt=attempt,
                    error=code,
                    backoff_seconds=round(delay, 3),
                )
                if self.stop.wait(delay):
                    raise InterruptedRun(f"stopped while retrying {what}") from None


def _short(exc: object) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"


ACCESS_DENIED_CODES = frozenset(
    {
        "403",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AllAccessDisabled",
        "InvalidToken",
        "ExpiredToken",
    }
)
_NOT_S3_HINT = (
    "the endpoint is not an S3 API: S3_ENDPOINT in the S3 Secret must be the URL of the store's "
    "S3 API (for example http://minio.example:9000), not of a web page or console"
)


def _hint(code: str) -> str:
    if code in ACCESS_DENIED_CODES:
        return (
            "; the store refused these credentials: either the key is wrong (check "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the S3 Secret) or a bucket/IAM "
            "policy does not grant this user the bucket (list, get, put, delete objects; list "
            "and abort multipart uploads)"
        )
    return ""


def not_s3(detail: object) -> str:
    """The message for an answer that cannot be an S3 response."""
    return f"{_NOT_S3_HINT} ({_short(detail)})"


def require_s3_answer(response: Any, keys: tuple[str, ...], what: str) -> Any:
    """Refuse a 2xx answer that lacks what every S3 answer to this request carries.

    Why: a web server at S3_ENDPOINT answers 200 with an HTML page, which botocore parses into an
    almost empty dict; unchecked, that surfaced as a KeyError or as an empty set listing.
    """
    missing = [key for key in keys if key not in response]
    if missing:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        content_type = headers.get("content-type", "none")
        raise StoreError(
            f"{what}: answer without {', '.join(missing)} (Content-Type {content_type}); "
            + _NOT_S3_HINT,
            "NotS3",
        )
    return response
