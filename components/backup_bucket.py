"""BackupBucket: where CAS database backups live, and the Secret the backupper reads.

Three ways, as in the guide:

- ``backup.s3Creds`` set: an existing bucket. Its Secret is copied into the services
  namespace as ``s3-bucket-scone-cas-db-backupper``; no bucket is created.
- ``backup.s3.useExistingSecret``: the Secret ``s3-bucket-scone-cas-db-backupper`` already in the
  services namespace is used as it is: no bucket, no copy; its existence is checked in preview
  (``components.existing_secret``) without reading its data.
- otherwise: this stack creates the bucket (pulumi-aws v7 resources) with
  versioning, encryption, public access blocked and a lifecycle rule. On AWS the
  backupper gets an IAM user whose policy reaches only that bucket; on an S3-compatible
  store (``backup.s3.endpoint``) it gets the configured secret keys.

The bucket and the Secret are protected and retained: ``pulumi destroy`` leaves every
backup in place. Deleting them is an explicit step (README: "Removing backups").
Only the pulumi-aws submodules used here are imported, which keeps evaluation fast.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi_aws import iam, s3
from pulumi_aws._inputs import ProviderEndpointArgs
from pulumi_aws.provider import Provider

from components.existing_secret import ExistingSecretCheck
from components.names import BACKUP_SECRET_NAME, MANAGED_BY
from components.options import WaitingComponent, child

SECRET_NAME = BACKUP_SECRET_NAME


@dataclass(frozen=True)
class StoreCredentials:
    """Credentials of an S3-compatible store, from ``pulumi config set --secret``."""

    access_key_id: pulumi.Output[str]
    secret_access_key: pulumi.Output[str]


@dataclass(frozen=True)
class SecretSource:
    """An existing Secret ``namespace/name`` with the backupper's keys (``backup.s3Creds``)."""

    name: str
    namespace: str


@dataclass(frozen=True)
class BucketArgs:
    """What the bucket component needs to know, cut from the spec in ``components.settings_slices``."""

    #: The services namespace, where the backupper reads its Secret.
    namespace: str
    #: Use the Secret already in the services namespace: no bucket, no copy.
    use_existing_secret: bool
    #: Copy this Secret instead of creating a bucket.
    copy_from: SecretSource | None
    region: str
    endpoint: str | None
    bucket_name: str | None
    force_path_style: bool
    retention_days: int
    prefix: str
    store_credentials: StoreCredentials | None = None
    #: The stack's cluster, as the properties of the existing-Secret check (``KubeTarget.props``; empty: ambient).
    kube: Mapping[str, Any] = field(default_factory=dict)


class BackupBucket(WaitingComponent):
    """The backup bucket (unless s3Creds or useExistingSecret is given) and the backupper's S3 Secret."""

    #: What the backupper waits for: the Secret, or the check that the existing one is there.
    secret: pulumi.Resource
    bucket: s3.Bucket | None = None
    bucket_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: BucketArgs,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:BackupBucket", name, waits_for, opts)
        if args.use_existing_secret:
            self.secret = ExistingSecretCheck(
                "existing-s3-secret", SECRET_NAME, args.namespace, child(self), kube=args.kube
            )
            self.bucket_name = pulumi.Output.from_input("(from the existing Secret)")
        elif args.copy_from is not None:
            self.secret = self._copied_secret(args.copy_from, args.namespace)
            self.bucket_name = pulumi.Output.from_input("(from backup.s3Creds)")
        else:
            store_credentials = args.store_credentials
            provider = self._aws_provider(args)
            bucket = self._bucket(args, provider)
            self.bucket = bucket
            self.bucket_name = bucket.bucket
            self._versioning(bucket, provider)
            self._encryption(bucket, provider)
            self._public_access_block(bucket, provider)
            self._lifecycle(args, bucket, provider)
            key_id, key_secret = (
                self._iam_access_key(bucket, provider)
                if store_credentials is None
                else (store_credentials.access_key_id, store_credentials.secret_access_key)
            )
            self.secret = self._secret(args, bucket.bucket, key_id, key_secret)
        self.register_outputs({"bucketName": self.bucket_name, "secretName": SECRET_NAME})

    # --- an existing bucket -----------------------------------------------------------

    def _copied_secret(self, creds: SecretSource, namespace: str) -> k8s.core.v1.Secret:
        """Copy the user's Secret into the services namespace (the guide's behaviour)."""
        source = k8s.core.v1.Secret.get(
            "s3-creds-source",
            f"{creds.namespace}/{creds.name}",
            opts=child(self, additional_secret_outputs=["data", "stringData"]),
        )
        return k8s.core.v1.Secret(
            SECRET_NAME,
            metadata={"name": SECRET_NAME, "namespace": namespace, "labels": MANAGED_BY},
            type="Opaque",
            data=pulumi.Output.secret(source.data),
            opts=child(self, retain_on_delete=True, additional_secret_outputs=["data", "stringData"]),
        )

    # --- a bucket this stack creates ----------------------------------------------------

    def _aws_provider(self, args: BucketArgs) -> Provider:
        store = args.store_credentials
        if args.endpoint is None:
            return Provider("aws", region=args.region, opts=child(self))
        assert store is not None, "validated by the stack: an endpoint needs s3AccessKeyId/s3SecretAccessKey"
        return Provider(
            "s3-compatible",
            region=args.region,
            access_key=store.access_key_id,
            secret_key=store.secret_access_key,
            endpoints=[ProviderEndpointArgs(s3=args.endpoint)],
            s3_use_path_style=args.force_path_style,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            skip_region_validation=True,
            opts=child(self),
        )

    def _opts(self, provider: Provider, *, data: bool = False) -> pulumi.ResourceOptions:
        """``child`` options of a bucket resource, through the stack's (or the store's) AWS provider."""
        return child(self, pulumi.ResourceOptions(provider=provider), data_bearing=data)

    def _bucket(self, args: BucketArgs, provider: Provider) -> s3.Bucket:
        name = args.bucket_name
        return s3.Bucket(
            "scone-cas-db-backupper",
            bucket=name,
            bucket_prefix=None if name else "scone-cas-db-backupper-",
            force_destroy=False,
            tags={"managed-by": "scone-stack", "purpose": "cas-db-backups"},
            opts=self._opts(provider, data=True),
        )

    def _versioning(self, bucket: s3.Bucket, provider: Provider) -> s3.BucketVersioning:
        return s3.BucketVersioning(
            "versioning",
            bucket=bucket.id,
            versioning_configuration={"status": "Enabled"},
            opts=self._opts(provider, data=True),
        )

    def _encryption(self, bucket: s3.Bucket, provider: Provider) -> s3.BucketServerSideEncryptionConfiguration:
        return s3.BucketServerSideEncryptionConfiguration(
            "encryption",
            bucket=bucket.id,
            rules=[
                {"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}, "bucket_key_enabled": True}
            ],
            opts=self._opts(provider),
        )

    def _public_access_block(self, bucket: s3.Bucket, provider: Provider) -> s3.BucketPublicAccessBlock:
        return s3.BucketPublicAccessBlock(
            "public-access-block",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._opts(provider),
        )

    def _lifecycle(self, args: BucketArgs, bucket: s3.Bucket, provider: Provider) -> s3.BucketLifecycleConfiguration:
        """Expire after ``retention`` days: the backupper's own retention (which keeps the
        newest sets) acts first; this rule is the second line of defence. Expired objects
        stay recoverable as non-current versions for another ``retention`` days."""
        days = args.retention_days
        return s3.BucketLifecycleConfiguration(
            "lifecycle",
            bucket=bucket.id,
            rules=[
                {
                    "id": "expire-cas-db-backups",
                    "status": "Enabled",
                    "filter": {"prefix": f"{args.prefix}/"},
                    "expiration": {"days": days},
                    "noncurrent_version_expiration": {"noncurrent_days": days},
                    "abort_incomplete_multipart_upload": {"days_after_initiation": 1},
                }
            ],
            opts=self._opts(provider),
        )

    def _iam_access_key(self, bucket: s3.Bucket, provider: Provider) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
        """An IAM user that can list, read, write and delete objects in this bucket only."""
        user = iam.User("backupper", path="/scone/", opts=self._opts(provider))
        iam.UserPolicy(
            "backupper-bucket-only",
            user=user.name,
            policy=bucket.arn.apply(bucket_only_policy),
            opts=self._opts(provider),
        )
        key = iam.AccessKey(
            "backupper",
            user=user.name,
            opts=child(self, pulumi.ResourceOptions(provider=provider), additional_secret_outputs=["secret"]),
        )
        return pulumi.Output.secret(key.id), pulumi.Output.secret(key.secret)

    def _secret(
        self,
        args: BucketArgs,
        bucket_name: pulumi.Output[str],
        key_id: pulumi.Output[str],
        key_secret: pulumi.Output[str],
    ) -> k8s.core.v1.Secret:
        data: dict[str, pulumi.Input[str]] = {
            "AWS_ACCESS_KEY_ID": pulumi.Output.secret(key_id),
            "AWS_SECRET_ACCESS_KEY": pulumi.Output.secret(key_secret),
            "BUCKET_NAME": bucket_name,
            "AWS_REGION": args.region,
        }
        if args.endpoint:
            data["S3_ENDPOINT"] = args.endpoint
        return k8s.core.v1.Secret(
            SECRET_NAME,
            metadata={"name": SECRET_NAME, "namespace": args.namespace, "labels": MANAGED_BY},
            type="Opaque",
            string_data=data,
            opts=child(self, retain_on_delete=True, additional_secret_outputs=["data", "stringData"]),
        )


def bucket_only_policy(bucket_arn: str) -> str:
    """IAM policy: the backupper may use this one bucket and nothing else."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
                    "Resource": bucket_arn,
                },
                {
                    "Effect": "Allow",
                    "Action": [
                        "s3:GetObject",
                        "s3:PutObject",
                        "s3:DeleteObject",
                        "s3:AbortMultipartUpload",
                        "s3:ListMultipartUploadParts",
                    ],
                    "Resource": f"{bucket_arn}/*",
                },
            ],
        },
        sort_keys=True,
    )
