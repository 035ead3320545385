"""SconeServices: the services namespace and the cluster-scoped LAS and SGXPlugin resources.

LAS and SGXPlugin are created through the operator's admission webhooks, which fail
closed (reference §2.1): they depend on the operator release, which Helm only reports as
deployed once the operator's Deployment (the webhook server) is ready.

The DCAP key is deliberately *not* written into ``LAS.spec.dcapKey``: a CR spec is
readable by anyone who can read the CR, and our rule is that secrets never enter CR specs
we write. The CAS owner hands the key to kubectl-provision instead (see README).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.operator import MANAGED_BY, pull_secret
from components.options import OBJECT_INPUTS, WaitingComponent, child, frozen
from components.spec import SconeSpec

INJECT_PULL_SECRET = {"sconeapps/inject-pull-secret": "true"}


def service_cr_spec(spec: SconeSpec, image_name: str) -> dict[str, Any]:
    """The spec shared by LAS and SGXPlugin (upstream manifests las.yaml / sgxplugin.yaml, §2.4-2.5)."""
    return {
        "image": spec.image(image_name),
        "imagePullPolicy": "Always",
        "imagePullSecrets": [{"name": spec.images.pullSecretName}],
        "autoUpdate": False,
        "namespace": spec.namespaces.services,
        "nodeSelector": dict(spec.serviceNodeSelector),
        "podAnnotations": dict(INJECT_PULL_SECRET),
    }


class SconeServices(WaitingComponent):
    """Where the SCONE services run, and the LAS and SGX plugin the operator reconciles."""

    namespace: k8s.core.v1.Namespace
    las: k8s.apiextensions.CustomResource
    sgx_plugin: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        spec: SconeSpec,
        registry_auth: pulumi.Output[str] | None,
        *,
        guards_cas: bool,
        operator_ready: Sequence[pulumi.Resource],
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:SconeServices", name, waits_for, opts)
        self.namespace = self._namespace(spec, guards_cas)
        if registry_auth is not None:
            pull_secret(self, spec.images.pullSecretName, spec.namespaces.services, registry_auth, [self.namespace])
        after_operator = [self.namespace, *operator_ready]
        self.las = self._service("las", "LAS", "las", spec, after_operator)
        self.sgx_plugin = self._service("sgxplugin", "SGXPlugin", "sgx-plugin", spec, after_operator)
        self.register_outputs({"namespace": spec.namespaces.services, "las": "las", "sgxPlugin": "sgxplugin"})

    def _namespace(self, spec: SconeSpec, guards_cas: bool) -> k8s.core.v1.Namespace:
        """The services namespace can hold CAS: deleting it would delete the CAS volumes.

        Protected while a CAS is declared or lives there (``guards_cas``); always retained, so a
        plain ``pulumi destroy`` never deletes it, even after the stack forgot its CAS.
        """
        return k8s.core.v1.Namespace(
            spec.namespaces.services,
            metadata={"name": spec.namespaces.services, "labels": MANAGED_BY},
            opts=child(self, protect=guards_cas, retain_on_delete=True),
        )

    def _service(
        self, name: str, kind: str, image_name: str, spec: SconeSpec, depends_on: Sequence[pulumi.Resource]
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            name,
            api_version="base.scone.cloud/v1beta1",
            kind=kind,
            metadata={"name": name, "labels": MANAGED_BY},
            spec=service_cr_spec(spec, image_name),
            opts=child(self, depends_on=depends_on, ignore_changes=frozen(not spec.manages_services, OBJECT_INPUTS)),
        )
