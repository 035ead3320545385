"""S3 credentials, read fresh from the mounted Kubernetes Secret for every run.

Why fresh: kubelet updates the files of a mounted Secret in place, so reading them at the start of
each run makes a rotated key or a moved bucket apply without restarting the pod. The secret values
are held as `SecretStr` and registered with the log redactor the moment they are read, so no log
line, error message or repr can carry them.
"""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretBytes, SecretStr

from .errors import CredentialsError, EncryptionError
from .jsonlog import register_secret

REQUIRED_KEYS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "BUCKET_NAME")
OPTIONAL_KEYS = ("AWS_REGION", "S3_ENDPOINT", "ENCRYPTION_KEY")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class S3Credentials(BaseModel):
    """The contents of the S3 Secret (one file per key)."""

    model_config = ConfigDict(frozen=True)

    access_key_id: SecretStr = Field(description="AWS_ACCESS_KEY_ID file.")
    secret_access_key: SecretStr = Field(description="AWS_SECRET_ACCESS_KEY file.")
    bucket: str = Field(description="BUCKET_NAME file: the bucket holding the backup sets.")
    region: str = Field("us-east-1", description="AWS_REGION file (optional).")
    endpoint_url: str | None = Field(
        None, description="S3_ENDPOINT file (optional): URL of an S3-compatible store."
    )
    encryption_key: SecretBytes | None = Field(
        None, description="ENCRYPTION_KEY file (optional): 32-byte key, base64 or 64 hex digits."
    )


def parse_encryption_key(text: str) -> bytes:
    """Decode a 256-bit key given as 64 hex digits or as base64; anything else is refused."""
    cleaned = text.strip()
    if re.fullmatch(r"[0-9a-fA-F]{64}", cleaned):
        return bytes.fromhex(cleaned)
    try:
        raw = base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise EncryptionError(
            "ENCRYPTION_KEY in the S3 Secret is not a 256-bit key: give 32 random bytes as 64 hex "
            "digits or as base64 (e.g. `openssl rand -base64 32`); nothing was uploaded"
        )
    return raw


def _read(directory: Path, key: str) -> str | None:
    path = directory / key
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(
            f"cannot read key {key} of the S3 credentials Secret at {directory}: "
            f"{type(exc).__name__}"
        ) from None


def load_credentials(directory: Path) -> S3Credentials:
    """Read the Secret directory now; missing keys are named, values are never echoed."""
    if not directory.is_dir():
        raise CredentialsError(
            f"S3 credentials directory {directory} does not exist (--credentials-dir / "
            "S3_CREDENTIALS_DIR): mount the S3 Secret there, one file per key "
            f"({', '.join(REQUIRED_KEYS)})"
        )
    values = {key: _read(directory, key) for key in REQUIRED_KEYS + OPTIONAL_KEYS}
    missing = [key for key in REQUIRED_KEYS if not values[key]]
    if missing:
        raise CredentialsError(
            f"S3 credentials Secret at {directory} lacks non-empty key(s) {', '.join(missing)}; "
            f"required keys: {', '.join(REQUIRED_KEYS)}"
        )
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "ENCRYPTION_KEY"):
        if values[key]:
            register_secret(values[key] or "")
    bucket = values["BUCKET_NAME"] or ""
    if not _BUCKET.match(bucket):
        raise CredentialsError(
            f"BUCKET_NAME in the S3 Secret at {directory} is not a valid bucket name "
            "(3-63 lower-case letters, digits, '.' or '-')"
        )
    endpoint = values["S3_ENDPOINT"] or None
    if endpoint and not re.match(r"^https?://", endpoint):
        raise CredentialsError(
            f"S3_ENDPOINT in the S3 Secret at {directory} must be an http:// or https:// URL"
        )
    key_text = values["ENCRYPTION_KEY"]
    encryption_key = SecretBytes(parse_encryption_key(key_text)) if key_text else None
    return S3Credentials(
        access_key_id=SecretStr(values["AWS_ACCESS_KEY_ID"] or ""),
        secret_access_key=SecretStr(values["AWS_SECRET_ACCESS_KEY"] or ""),
        bucket=bucket,
        region=values["AWS_REGION"] or "us-east-1",
        endpoint_url=endpoint,
        encryption_key=encryption_key,
    )
