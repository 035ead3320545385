"""ExistingSecretCheck: the backupper's S3 Secret is one the cluster already has.

With ``backup.s3.useExistingSecret`` the stack creates no bucket and copies no Secret; the
backupper mounts ``s3-bucket-scone-cas-db-backupper`` as it finds it in the services
namespace. This resource makes a missing Secret fail the preview (``check`` runs in preview
and in every update) with what to do, instead of a backupper pod stuck on a missing volume.

It only asks whether the Secret exists: ``kubectl get secret`` with its default table output,
for which the API server sends each row with the object's *metadata* only, so the Secret's
``data`` never leaves the API server, and this process reads only the table (name, type,
number of keys); nothing of it enters state, whose inputs and outputs are the Secret's name
and namespace. (A Secret written with client-side ``kubectl apply`` repeats its data in the
``last-applied-configuration`` annotation, which is metadata: the README says to create it
with ``kubectl create secret``.)

This module is pickled by reference into state: keep its path and class names, and keep it
free of import side effects.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.kube_access import AMBIENT, KubeTarget
from components.provider_errors import UserFacingError, user_facing_errors

KUBECTL_TIMEOUT_SECONDS = 120.0


def existence_query(name: str, namespace: str, kubectl: str = "kubectl") -> list[str]:
    """``kubectl get`` with its table output: each row carries the object's metadata, never its data."""
    return [kubectl, "get", "secret", name, "--namespace", namespace, "--ignore-not-found", "--no-headers"]


def secret_exists(name: str, namespace: str, kubectl: str = "kubectl", target: KubeTarget = AMBIENT) -> bool:
    """Whether ``namespace/name`` exists; the API server answers with metadata only (no data)."""
    if shutil.which(kubectl) is None:
        raise UserFacingError(
            f"kubectl is not on PATH: it is needed to check that the Secret {name} exists in namespace"
            f" {namespace} (scone:backup.s3.useExistingSecret); install kubectl"
        )
    result = target.run(kubectl, existence_query(name, namespace, kubectl)[1:], timeout=KUBECTL_TIMEOUT_SECONDS)
    if result.returncode != 0:
        raise UserFacingError(
            f"could not check that the Secret {name} exists in namespace {namespace}"
            f" (scone:backup.s3.useExistingSecret): kubectl get secret failed: {result.stderr.strip()[-500:]}"
        )
    return bool(result.stdout.strip())


def missing_secret_message(name: str, namespace: str) -> str:
    """What the user reads when the Secret is not there."""
    return (
        f"the Secret {name} does not exist in namespace {namespace}, and scone:backup.s3.useExistingSecret is"
        f" true: create it first (`kubectl create namespace {namespace}` if needed, then `kubectl create secret"
        f" generic {name} -n {namespace} --from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=..."
        " --from-literal=BUCKET_NAME=...`, optionally AWS_REGION and S3_ENDPOINT), or set useExistingSecret to"
        " false and let this stack create the bucket or copy backup.s3Creds"
    )


@user_facing_errors
class ExistingSecretCheckProvider(ResourceProvider):
    """Refuses, in ``check``, a stack whose existing backupper Secret is missing."""

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        name, namespace = str(news["name"]), str(news["namespace"])
        if secret_exists(name, namespace, str(news.get("kubectl") or "kubectl"), KubeTarget.of(news)):
            return CheckResult(news, [])
        return CheckResult(news, [CheckFailure("name", missing_secret_message(name, namespace))])

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        keys = ("name", "namespace", "kubectl")
        return DiffResult(changes=any(_olds.get(k) != _news.get(k) for k in keys), replaces=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=f"{props['namespace']}/{props['name']}", outs=props)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # The Secret is the user's: forgetting the check never touches it.
        return None


class ExistingSecretCheck(Resource, module="scone", name="ExistingSecretCheck"):
    """Stands for the existing Secret in the stack: the backupper waits for it."""

    def __init__(
        self,
        name: str,
        secret: str,
        namespace: str,
        opts: pulumi.ResourceOptions | None = None,
        kube: Mapping[str, Any] | None = None,
    ) -> None:
        props = {"name": secret, "namespace": namespace, "kubectl": "kubectl", **(kube or {})}
        super().__init__(ExistingSecretCheckProvider(), name, props, opts)
