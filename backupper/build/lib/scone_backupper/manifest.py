"""The manifest: the commit marker of a backup set, written last.

Why written last: S3 has no transactions. A set's objects are uploaded and verified first; only
then is `manifest.json` written. A prefix without a manifest is therefore, by definition, an
unfinished run — never listed, restored or counted as a backup.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import __version__

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT: Literal["scone-backupper/manifest/v1"] = "scone-backupper/manifest/v1"
_SET_ID = re.compile(r"^(\d{8}T\d{6})\.(\d{6})Z$")


class ManifestFile(BaseModel):
    """One file of the set: plain size and SHA-256 (what restore checks) and the stored object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="File name in the snapshot directory (cas.db, cas.key-store).")
    key: str = Field(description="Object key in the bucket.")
    size: int = Field(ge=0, description="Size of the plain file in bytes.")
    sha256: str = Field(description="SHA-256 (hex) of the plain file.")
    stored_size: int = Field(ge=0, description="Size of the stored object (differs if encrypted).")
    stored_sha256: str = Field(description="SHA-256 (hex) of the stored object's bytes.")


class EncryptionInfo(BaseModel):
    """How the objects were encrypted client-side; the key itself is never stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["AES-256-GCM-STREAM-v1"] = Field(description="Stream format, see crypto.py.")
    key_id: str = Field(description="Fingerprint of the key (not the key), to pick the right one.")


class Manifest(BaseModel):
    """What a complete backup set holds and where it came from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["scone-backupper/manifest/v1"] = Field(
        MANIFEST_FORMAT, description="Manifest format identifier."
    )
    set_id: str = Field(description="UTC timestamp naming the set (YYYYmmddTHHMMSS.ffffffZ).")
    cas_name: str = Field(description="CAS the snapshot came from.")
    cas_namespace: str = Field(description="Namespace of that CAS.")
    cas_version: str = Field(description="CAS version as configured (may be empty).")
    created_at: dt.datetime = Field(description="When the set was committed (UTC).")
    files: list[ManifestFile] = Field(description="The snapshot files in this set.")
    encryption: EncryptionInfo | None = Field(None, description="Client-side encryption, if any.")
    tool_version: str = Field(__version__, description="scone-backupper version that wrote it.")

    def to_json(self) -> bytes:
        """Serialize deterministically (sorted keys) as UTF-8 JSON."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True).encode()

    def content_identity(self) -> tuple[frozenset[tuple[str, int, str]], str | None]:
        """What makes two sets byte-identical: file names, sizes, hashes and the encryption key."""
        return (
            frozenset((f.name, f.size, f.sha256) for f in self.files),
            self.encryption.key_id if self.encryption else None,
        )

    @property
    def total_size(self) -> int:
        """Plain bytes in the set."""
        return sum(f.size for f in self.files)


class ManifestError(ValueError):
    """The manifest object exists but cannot be parsed: the set is damaged."""


def parse_manifest(data: bytes) -> Manifest:
    """Parse and validate manifest bytes."""
    try:
        return Manifest.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise ManifestError(f"manifest is not valid: {exc}") from None


def new_set_id(now: dt.datetime) -> str:
    """A sortable UTC timestamp; lexical order is chronological order."""
    now = now.astimezone(dt.UTC)
    return now.strftime("%Y%m%dT%H%M%S") + f".{now.microsecond:06d}Z"


def parse_set_id(set_id: str) -> dt.datetime | None:
    """The time a set id names, or None if it is not ours (never touch what we did not name)."""
    match = _SET_ID.match(set_id)
    if not match:
        return None
    base = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
    return base + dt.timedelta(microseconds=int(match.group(2)))
