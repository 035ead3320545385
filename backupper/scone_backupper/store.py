"""The backup store: backup sets in one bucket under `<prefix>/<cas>/<set id>/`.

Why a set is only what has a valid manifest whose objects are all present with the recorded
sizes: a run that died half-way (store killed, pod evicted) leaves objects without a manifest, and
a hand-deleted object leaves a manifest without its object. Neither may ever be offered as a
backup, so listing classifies every prefix as complete, incomplete (no manifest) or damaged.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from .download import Downloader
from .errors import NotFoundError, StoreError
from .jsonlog import log_event
from .manifest import MANIFEST_NAME, Manifest, ManifestError, parse_manifest, parse_set_id
from .s3client import Retrier, error_code, require_s3_answer

log = logging.getLogger("scone_backupper.store")


@dataclass(frozen=True)
class ObjectInfo:
    """One object under a set prefix."""

    key: str
    size: int


@dataclass
class SetListing:
    """Every set prefix of one CAS, classified; `complete` is newest first."""

    complete: list[Manifest] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    damaged: dict[str, str] = field(default_factory=dict)
    objects: dict[str, list[ObjectInfo]] = field(default_factory=dict)

    @property
    def newest(self) -> Manifest | None:
        """The newest complete (verified, manifested) set."""
        return self.complete[0] if self.complete else None


class BackupStore:
    """Set-level operations on the bucket; every request goes through the retrier."""

    def __init__(self, client: Any, bucket: str, set_root: str, retrier: Retrier) -> None:
        self.client = client
        self.bucket = bucket
        self.set_root = set_root
        self.retrier = retrier

    def set_prefix(self, set_id: str) -> str:
        """Key prefix of one set."""
        return f"{self.set_root}{set_id}/"

    def check_bucket(self) -> None:
        """Fail early, with the bucket named, if it does not exist or is not accessible."""
        try:
            self.retrier.call("bucket check", lambda: self.client.head_bucket(Bucket=self.bucket))
        except StoreError as exc:
            hint = ""
            if exc.code in {"404", "NoSuchBucket", "NotFound"}:
                hint = "; the bucket does not exist there: create it or correct BUCKET_NAME"
            raise StoreError(
                f"bucket {self.bucket!r} (BUCKET_NAME in the S3 Secret) is not usable: {exc}{hint}",
                exc.code,
            ) from None

    def _list_objects(self) -> dict[str, list[ObjectInfo]]:
        by_set: dict[str, list[ObjectInfo]] = defaultdict(list)
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.set_root}
            if token:
                kwargs["ContinuationToken"] = token
            page = require_s3_answer(
                self.retrier.call(
                    "listing of backup sets",
                    functools.partial(self.client.list_objects_v2, **kwargs),
                ),
                ("Name",),
                f"listing of bucket {self.bucket!r}",
            )
            for item in page.get("Contents", []):
                rest = str(item["Key"])[len(self.set_root) :]
                set_id, _, name = rest.partition("/")
                if name:
                    by_set[set_id].append(ObjectInfo(key=str(item["Key"]), size=int(item["Size"])))
            if not page.get("IsTruncated"):
                return dict(by_set)
            token = page.get("NextContinuationToken")

    def list_sets(self, cas_name: str) -> SetListing:
        """List and classify every set prefix of this CAS (only prefixes named by a set id)."""
        listing = SetListing(objects=self._list_objects())
        complete: list[Manifest] = []
        for set_id, objects in listing.objects.items():
            if parse_set_id(set_id) is None:
                continue  # not ours: never listed, never touched
            names = {o.key: o.size for o in objects}
            manifest_key = self.set_prefix(set_id) + MANIFEST_NAME
            if manifest_key not in names:
                listing.incomplete.append(set_id)
                continue
            try:
                manifest = parse_manifest(self.read_object(manifest_key))
            except ManifestError as exc:
                listing.damaged[set_id] = str(exc)
                continue
            problem = _manifest_problem(manifest, set_id, cas_name, names)
            if problem:
                listing.damaged[set_id] = problem
                continue
            complete.append(manifest)
        listing.complete = sorted(complete, key=lambda m: m.set_id, reverse=True)
        listing.incomplete.sort(reverse=True)
        return listing

    def read_object(self, key: str) -> bytes:
        """Read a small object whole."""
        return Downloader(self.client, self.bucket, self.retrier, 1, 1).read_small(key)

    def write_manifest(self, manifest: Manifest) -> str:
        """Write the commit marker of a set; called only after every object has been verified."""
        key = self.set_prefix(manifest.set_id) + MANIFEST_NAME
        body = manifest.to_json()
        self.retrier.call(
            f"manifest write {key}",
            lambda: self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType="application/json"
            ),
        )
        # Read back: the set is complete only once its manifest is readable and parses.
        if parse_manifest(self.read_object(key)) != manifest:
            raise StoreError(f"manifest {key} reads back different from what was written")
        return key

    def find_set(self, cas_name: str, set_ref: str) -> Manifest:
        """A complete set by id, or the newest one for 'latest'."""
        listing = self.list_sets(cas_name)
        if set_ref == "latest":
            if listing.newest is None:
                raise NotFoundError(
                    f"no complete backup set for CAS {cas_name!r} under s3://{self.bucket}/"
                    f"{self.set_root}"
                )
            return listing.newest
        for manifest in listing.complete:
            if manifest.set_id == set_ref:
                return manifest
        if set_ref in listing.damaged:
            raise NotFoundError(f"set {set_ref!r} is damaged: {listing.damaged[set_ref]}")
        if set_ref in listing.incomplete:
            raise NotFoundError(
                f"set {set_ref!r} has no manifest: it is an unfinished run, not a backup"
            )
        raise NotFoundError(
            f"no complete backup set {set_ref!r} for CAS {cas_name!r}; run `scone-backupper list`"
        )

    def delete_set(self, set_id: str, objects: list[ObjectInfo]) -> None:
        """Delete a set: the manifest first (it stops being a backup at once), then its objects."""
        manifest_key = self.set_prefix(set_id) + MANIFEST_NAME
        ordered = [o.key for o in objects if o.key == manifest_key] + [
            o.key for o in objects if o.key != manifest_key
        ]
        for key in ordered:
            self.retrier.call(
                f"deletion of {key}",
                functools.partial(self.client.delete_object, Bucket=self.bucket, Key=key),
            )

    def abort_orphan_uploads(self, grace: dt.timedelta, now: dt.datetime) -> int:
        """Abort multipart uploads under this CAS's prefix started longer than `grace` ago."""
        aborted = 0
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.set_root}
        while True:
            page = require_s3_answer(
                self.retrier.call(
                    "listing of multipart uploads",
                    functools.partial(self.client.list_multipart_uploads, **kwargs),
                ),
                ("Bucket",),
                f"listing of multipart uploads in {self.bucket!r}",
            )
            for upload in page.get("Uploads", []) or []:
                initiated = upload.get("Initiated")
                if isinstance(initiated, dt.datetime) and now - initiated < grace:
                    continue
                key, upload_id = str(upload["Key"]), str(upload["UploadId"])
                try:
                    self.retrier.call(
                        f"abort of orphaned upload {key}",
                        functools.partial(
                            self.client.abort_multipart_upload,
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                        ),
                    )
                except StoreError as exc:
                    if "NoSuchUpload" not in str(exc):
                        raise
                aborted += 1
                log_event(log, logging.INFO, "aborted orphaned multipart upload", key=key)
            if not page.get("IsTruncated"):
                return aborted
            kwargs["KeyMarker"] = page.get("NextKeyMarker")
            kwargs["UploadIdMarker"] = page.get("NextUploadIdMarker")


def _manifest_problem(
    manifest: Manifest, set_id: str, cas_name: str, sizes: dict[str, int]
) -> str | None:
    if manifest.set_id != set_id:
        return f"manifest names set {manifest.set_id!r} but lives under {set_id!r}"
    if manifest.cas_name != cas_name:
        return f"manifest is for CAS {manifest.cas_name!r}, not {cas_name!r}"
    for item in manifest.files:
        if item.key not in sizes:
            return f"object {item.key} is missing"
        if sizes[item.key] != item.stored_size:
            return (
                f"object {item.key} has {sizes[item.key]} bytes, manifest says {item.stored_size}"
            )
    return None


def is_missing(exc: ClientError) -> bool:
    """True for 404-style errors."""
    return error_code(exc) in {"NoSuchKey", "404", "NotFound"}
