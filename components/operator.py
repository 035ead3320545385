"""SconeOperator: the scone-operator Helm release, its namespace, pull Secret and cert-manager.

The chart carries the SCONE CRDs in ``templates/`` : uninstalling or
replacing the release deletes every CAS custom resource. So the release is protected
while a CAS is declared or lives in the cluster, always retained on delete (a ``pulumi
destroy`` leaves it installed), never ``atomic`` (a failed atomic upgrade uninstalls), and
renaming or moving it is refused by the stack guard.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.guards import CertManagerCheck
from components.names import MANAGED_BY
from components.options import RELEASE_INPUTS, WaitingComponent, child, frozen
from components.pull_secrets import pull_secret
from components.webhooks_ready import WebhooksReady


@dataclass(frozen=True)
class CertManagerArgs:
    """How the operator's webhooks get their certificates: check for, install, or trust cert-manager."""

    mode: str
    chart: str
    namespace: str


@dataclass(frozen=True)
class OperatorArgs:
    """What the operator component needs to know, cut from the spec in ``components.settings_slices``."""

    namespace: str
    release_name: str
    chart: str
    image: str
    node_selector: Mapping[str, str]
    timeout_seconds: int
    version: str
    pull_secret_name: str
    cert_manager: CertManagerArgs
    #: Unmanaged: declared (nothing is deleted) with every input ignored (nothing changes).
    frozen: bool
    #: A CAS is declared or lives in the cluster: the namespace and the release are then protected.
    guards_cas: bool
    registry_auth: pulumi.Output[str] | None = None
    #: Where Helm finds ``chart``: a chart repository URL, the version it pins there (or in an OCI
    #: registry), and the repository's credentials (secret Outputs; they stay secret in the state).
    chart_source: ChartSource | None = None
    #: The stack's cluster, as the properties of the cert-manager check (``KubeTarget.props``; empty: ambient).
    kube: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChartSource:
    """A chart repository or OCI reference and its credentials, as the Helm release's own options."""

    repository: str | None
    version: str | None
    username: pulumi.Output[str] | None = None
    password: pulumi.Output[str] | None = None

    def repository_opts(self) -> k8s.helm.v3.RepositoryOptsArgs | None:
        """The Release's ``repository_opts``: the repository and the credentials, or None without either."""
        if self.repository is None and self.username is None:
            return None
        return k8s.helm.v3.RepositoryOptsArgs(repo=self.repository, username=self.username, password=self.password)


class SconeOperator(WaitingComponent):
    """The scone-operator and what it needs to start."""

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release
    #: What the SCONE CRs wait for: the release, and its webhooks carrying their CA.
    webhooks_ready: WebhooksReady

    def __init__(
        self,
        name: str,
        args: OperatorArgs,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:SconeOperator", name, waits_for, opts)
        self.namespace = self._namespace(args)
        prerequisites: list[pulumi.Resource] = [self.namespace]
        if args.registry_auth is not None:
            prerequisites.append(
                pull_secret(self, args.pull_secret_name, args.namespace, args.registry_auth, [self.namespace])
            )
        prerequisites.extend(self._cert_manager(args))
        self.release = self._release(args, prerequisites)
        self.webhooks_ready = self._webhooks_ready(args)
        self.register_outputs({"namespace": args.namespace, "release": self.release.name, "chartVersion": args.version})

    def _namespace(self, args: OperatorArgs) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            args.namespace,
            metadata={"name": args.namespace, "labels": MANAGED_BY},
            opts=child(self, protect=args.guards_cas),
        )

    def _cert_manager(self, args: OperatorArgs) -> list[pulumi.Resource]:
        """The resource the release waits for: a presence check, an install, or nothing."""
        settings = args.cert_manager
        if settings.mode == "skip":
            return []
        if settings.mode == "detect":
            return [CertManagerCheck("cert-manager-check", {"version": args.version, **args.kube}, opts=child(self))]
        return [
            k8s.helm.v3.Release(
                "cert-manager",
                chart=settings.chart,
                name="cert-manager",
                namespace=settings.namespace,
                create_namespace=True,
                values={"installCRDs": True, "crds": {"enabled": True}},
                atomic=False,
                timeout=600,
                opts=child(self),
            )
        ]

    def _webhooks_ready(self, args: OperatorArgs) -> WebhooksReady:
        """Waits for cert-manager to inject the CA into the release's webhooks (after each revision)."""
        props = {
            "namespace": args.namespace,
            "revision": self.release.status.apply(lambda status: status.revision if status else None),
            "timeoutSeconds": args.timeout_seconds,
            **args.kube,
        }
        return WebhooksReady("scone-operator-webhooks", props, opts=child(self, depends_on=[self.release]))

    def _release(self, args: OperatorArgs, depends_on: Sequence[pulumi.Resource]) -> k8s.helm.v3.Release:
        values = {"image": args.image, "nodeSelector": dict(args.node_selector)}
        source = args.chart_source or ChartSource(repository=None, version=None)
        return k8s.helm.v3.Release(
            "scone-operator",
            chart=args.chart,
            version=source.version,
            repository_opts=source.repository_opts(),
            name=args.release_name,
            namespace=args.namespace,
            values=values,
            timeout=args.timeout_seconds,
            # Never atomic: a failed atomic upgrade uninstalls the release, and the uninstall
            # deletes the SCONE CRDs and every CAS with them.
            atomic=False,
            cleanup_on_fail=False,
            max_history=10,
            skip_await=False,
            opts=child(
                self,
                depends_on=depends_on,
                protect=args.guards_cas,
                # Always retained: a plain destroy never uninstalls the chart, whose CRDs hold every CAS.
                retain_on_delete=True,
                ignore_changes=frozen(args.frozen, RELEASE_INPUTS),
            ),
        )
