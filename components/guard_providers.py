"""Dynamic providers that refuse dangerous changes before anything happens.

This module is pickled *by reference* into every stack's state: its path and the class
names are part of the state format. Keep it free of import side effects (no resources,
no ``pulumi.Config``) and never rename or move it without aliases.

``StackGuardProvider.check`` compares the previous and the new stack shape. ``check``
runs in preview too and sees both, so a pull request that would drop the CAS or replace
the operator release (whose uninstall deletes every CAS) fails its preview with the
explicit steps, instead of failing half-way through an update.
"""

from __future__ import annotations

import shutil
from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ResourceProvider, UpdateResult
from pulumi.runtime.rpc import UNKNOWN

from components.cluster_identity import IDENTITY_PROP, STACK_PROP, destroy_refusal, identity_refusal
from components.kube_access import AMBIENT, PROP_KEYS, KubeTarget
from components.live_cluster import ClusterError, KubectlView, cas_presence, cas_removal_steps
from components.provider_errors import UserFacingError, user_facing_errors


def _known(value: Any) -> bool:
    """False for a value not known yet: absent, or the engine's unknown marker during a preview."""
    return value is not None and value != UNKNOWN


def _changed(olds: dict[str, Any], news: dict[str, Any], key: str) -> bool:
    return _known(olds.get(key)) and _known(news.get(key)) and olds[key] != news[key]


def stack_guard_failures(olds: dict[str, Any], news: dict[str, Any]) -> list[tuple[str, str]]:
    """(property, reason) for every transition from ``olds`` to ``news`` that would lose CAS data."""
    if not olds or not olds.get("hasCas"):
        return []
    cas = f"CAS '{olds.get('casName')}' in namespace '{olds.get('servicesNamespace')}'"
    failures: list[tuple[str, str]] = []
    if news.get("hasCas") is False and not news.get("removeCasFromStack"):
        failures.append(
            (
                "skipCas",
                f"skipCas: true would drop {cas}, the trust anchor of every confidential workload;"
                " it is protected, so this stack refuses. To remove it on purpose: (1) back it up:"
                f" `kubectl provision cas {olds.get('casName')} -n {olds.get('servicesNamespace')} --local-backup`"
                " and check the S3 sets with `scone-backupper list`; (2) `pulumi state unprotect"
                f" '{olds.get('casUrn')}'`; (3) set `scone:cas.removeFromStack: true` with `skipCas: true` and run"
                " `pulumi up`: the stack forgets the CAS and leaves it running (retained); (4) only if it must go:"
                f" `kubectl delete cas {olds.get('casName')} -n {olds.get('servicesNamespace')}` and its PVCs"
                f" database-{olds.get('casName')}-0 / database-snapshots-{olds.get('casName')}-0.",
            )
        )
    for key, what in (
        ("casName", "renaming the CAS creates a second, empty CAS and drops the existing one"),
        ("servicesNamespace", "moving the services namespace creates a new, empty CAS elsewhere"),
        (
            "operatorRelease",
            "renaming the operator release uninstalls the old one, and its chart deletes the SCONE CRDs and"
            " with them every CAS custom resource",
        ),
        (
            "operatorNamespace",
            "moving the operator replaces its Helm release, and the uninstall deletes the SCONE CRDs and with"
            " them every CAS custom resource",
        ),
    ):
        if _changed(olds, news, key) and news.get("hasCas") is not False:
            failures.append(
                (
                    key,
                    f"{key} changed from '{olds[key]}' to '{news[key]}' while {cas} exists: {what}. Keep the old"
                    " value; to move CAS, back it up and recover it under the new name (README: Recovery).",
                )
            )
    return failures


@user_facing_errors
class StackGuardProvider(ResourceProvider):
    """Refuses, in ``check``, stack changes that would delete or orphan CAS."""

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(prop, reason) for prop, reason in stack_guard_failures(_olds, news)]
        refusal = identity_refusal(_olds, news)
        if refusal is not None:
            failures.insert(0, CheckFailure("clusterIdentity", refusal))
        return CheckResult(news, failures)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        keys = set(_olds) | set(_news)
        changed = any(_olds.get(k) != _news.get(k) for k in keys if not k.startswith("__"))
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="scone-stack-guard", outs=props)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


@user_facing_errors
class DestroyGuardProvider(ResourceProvider):
    """The first delete of a ``pulumi destroy``; refuses while any CAS CR lives in the services namespace.

    ``pulumi destroy`` does not run the program, so the stack's declarations cannot tell it that
    a CAS the stack forgot (``skipCas`` + ``cas.removeFromStack``) still runs. ``delete`` reads the
    cluster itself (read-only) with kubectl and the current kubeconfig, and refuses while a CAS CR
    exists there, or while it cannot tell.
    """

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="scone-destroy-guard", outs=props)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        keys = ("protects", "servicesNamespace", IDENTITY_PROP, *PROP_KEYS)
        changed = any(_olds.get(key) != _news.get(key) for key in keys)
        return DiffResult(changes=changed, replaces=[])

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=_news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        namespace = _props.get("servicesNamespace")
        if not namespace:
            raise UserFacingError(
                "the destroy guard does not know the services namespace it must check for CAS (its state predates"
                " that check): run `pulumi up` once, then `pulumi destroy` again"
            )
        target = KubeTarget.of(_props)
        recorded = _props.get(IDENTITY_PROP)
        if isinstance(recorded, str) and recorded:
            try:
                live, problem = KubectlView(target=target).identity(), None
            except ClusterError as error:
                live, problem = None, str(error)
            refusal = destroy_refusal(recorded, live, problem, str(_props.get(STACK_PROP) or "<stack>"))
            if refusal is not None:
                raise UserFacingError(refusal)
        presence = cas_presence(KubectlView(target=target), str(namespace))
        if presence.names is None:
            raise UserFacingError(
                f"pulumi destroy refused: could not read the CAS custom resources in namespace '{namespace}'"
                f" ({presence.problem}), so a CAS may still run there and a destroy could take its namespace and"
                " the SCONE CRDs with it. Make the stack's cluster reachable with kubectl ({target.describe()}) and"
                " run `pulumi destroy` again."
            )
        if presence.names:
            raise UserFacingError(
                f"pulumi destroy refused: CAS {', '.join(presence.names)} still exist(s) in namespace '{namespace}'"
                " (the trust anchor of every confidential workload; a stack with skipCas and cas.removeFromStack"
                " forgets its CAS but the CAS keeps running). Nothing was deleted. "
                + cas_removal_steps(presence.names, str(namespace))
            )


CERT_MANAGER_CRDS = ("certificates.cert-manager.io", "issuers.cert-manager.io")


def missing_cert_manager_crds(
    kubectl: str = "kubectl", timeout: float = 60.0, target: KubeTarget = AMBIENT
) -> list[str]:
    """The cert-manager CRDs ``target``'s cluster lacks (empty when cert-manager is installed)."""
    missing = []
    for crd in CERT_MANAGER_CRDS:
        result = target.run(kubectl, ["get", "crd", crd, "-o", "name"], timeout=timeout)
        if result.returncode != 0:
            missing.append(crd)
    return missing


@user_facing_errors
class CertManagerCheckProvider(ResourceProvider):
    """Fails the update with a clear message when cert-manager is missing.

    The operator chart creates a cert-manager Issuer and Certificate; without the CRDs
    Helm fails with "no matches for kind Issuer", which says nothing about what to do.
    Runs on create and whenever the SCONE version changes, never in preview.
    """

    serialize_as_secret_always = False

    def _verify(self, props: dict[str, Any]) -> None:
        if shutil.which("kubectl") is None:
            raise UserFacingError(
                "kubectl is not on PATH: it is needed to detect cert-manager (scone:certManager.mode detect);"
                " install kubectl or set scone:certManager.mode to skip"
            )
        missing = missing_cert_manager_crds(target=KubeTarget.of(props))
        if missing:
            raise UserFacingError(
                f"cert-manager is not installed in the cluster (missing CRDs: {', '.join(missing)}). The"
                " scone-operator chart needs it for its webhook certificate. Install cert-manager first, or set"
                " `pulumi config set --path certManager.mode install` to let this stack install it."
            )

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=_olds.get("version") != _news.get("version"), replaces=[])

    def create(self, props: dict[str, Any]) -> CreateResult:
        self._verify(props)
        return CreateResult(id_="cert-manager-check", outs=props)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        self._verify(_news)
        return UpdateResult(outs=_news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None
