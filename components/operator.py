"""SconeOperator: the scone-operator Helm release, its namespace, pull Secret and cert-manager.

The chart carries the SCONE CRDs in ``templates/`` (reference §3.3): uninstalling or
replacing the release deletes every CAS custom resource. So the release is protected
while a CAS is declared or lives in the cluster, always retained on delete (a ``pulumi
destroy`` leaves it installed), never ``atomic`` (a failed atomic upgrade uninstalls), and
renaming or moving it is refused by the stack guard.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.guards import CertManagerCheck
from components.options import RELEASE_INPUTS, WaitingComponent, child, frozen
from components.spec import SconeSpec

MANAGED_BY = {"app.kubernetes.io/managed-by": "scone-stack"}


def pull_secret(
    parent: pulumi.Resource,
    name: str,
    namespace: str,
    docker_config_json: pulumi.Output[str],
    depends_on: Sequence[pulumi.Resource],
) -> k8s.core.v1.Secret:
    """A registry pull Secret; its content is a Pulumi secret, never plain text in state."""
    return k8s.core.v1.Secret(
        f"{namespace}-{name}",
        metadata={"name": name, "namespace": namespace, "labels": MANAGED_BY},
        type="kubernetes.io/dockerconfigjson",
        string_data={".dockerconfigjson": docker_config_json},
        opts=child(parent, depends_on=depends_on, additional_secret_outputs=["stringData", "data"]),
    )


class SconeOperator(WaitingComponent):
    """The scone-operator and what it needs to start."""

    namespace: k8s.core.v1.Namespace
    release: k8s.helm.v3.Release

    def __init__(
        self,
        name: str,
        spec: SconeSpec,
        registry_auth: pulumi.Output[str] | None,
        *,
        guards_cas: bool,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """``guards_cas``: a CAS is declared or lives in the cluster; the release is then protected."""
        super().__init__("scone:index:SconeOperator", name, waits_for, opts)
        self.namespace = self._namespace(spec, protect=guards_cas)
        prerequisites: list[pulumi.Resource] = [self.namespace]
        if registry_auth is not None:
            prerequisites.append(
                pull_secret(
                    self, spec.images.operatorPullSecretName, spec.namespaces.operator, registry_auth, [self.namespace]
                )
            )
        prerequisites.extend(self._cert_manager(spec))
        self.release = self._release(spec, prerequisites, protect=guards_cas)
        self.register_outputs(
            {"namespace": spec.namespaces.operator, "release": self.release.name, "chartVersion": spec.serviceVersion}
        )

    def _namespace(self, spec: SconeSpec, protect: bool) -> k8s.core.v1.Namespace:
        return k8s.core.v1.Namespace(
            spec.namespaces.operator,
            metadata={"name": spec.namespaces.operator, "labels": MANAGED_BY},
            opts=child(self, protect=protect),
        )

    def _cert_manager(self, spec: SconeSpec) -> list[pulumi.Resource]:
        """The resource the release waits for: a presence check, an install, or nothing."""
        mode = spec.certManager.mode
        if mode == "skip":
            return []
        if mode == "detect":
            return [CertManagerCheck("cert-manager-check", {"version": spec.serviceVersion}, opts=child(self))]
        return [
            k8s.helm.v3.Release(
                "cert-manager",
                chart=spec.certManager.chart,
                name="cert-manager",
                namespace=spec.certManager.namespace,
                create_namespace=True,
                values={"installCRDs": True, "crds": {"enabled": True}},
                atomic=False,
                timeout=600,
                opts=child(self),
            )
        ]

    def _release(self, spec: SconeSpec, depends_on: Sequence[pulumi.Resource], protect: bool) -> k8s.helm.v3.Release:
        values = {"image": spec.operator_image, "nodeSelector": dict(spec.operatorNodeSelector)}
        return k8s.helm.v3.Release(
            "scone-operator",
            chart=spec.operatorChart.resolved_location(spec.serviceVersion),
            name=spec.operatorChart.releaseName,
            namespace=spec.namespaces.operator,
            values=values,
            timeout=spec.operatorChart.timeoutSeconds,
            # Never atomic: a failed atomic upgrade uninstalls the release, and the uninstall
            # deletes the SCONE CRDs and every CAS with them.
            atomic=False,
            cleanup_on_fail=False,
            max_history=10,
            skip_await=False,
            opts=child(
                self,
                depends_on=depends_on,
                protect=protect,
                # Always retained: a plain destroy never uninstalls the chart, whose CRDs hold every CAS.
                retain_on_delete=True,
                ignore_changes=frozen(not spec.manages_services, RELEASE_INPUTS),
            ),
        )
