"""SconeServices: the services namespace and the cluster-scoped LAS and SGXPlugin resources.

LAS and SGXPlugin are created through the operator's admission webhooks, which fail
closed: they wait for the operator release (Helm reports it deployed once the operator's
Deployment, the webhook server, is ready) and for cert-manager's CA in its webhook
configurations (``components.webhooks_ready``).

The DCAP key is deliberately *not* written into ``LAS.spec.dcapKey``: a CR spec is
readable by anyone who can read the CR, and our rule is that secrets never enter CR specs
we write. The CAS owner hands the key to kubectl-provision instead (see README).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.names import INJECT_PULL_SECRET, MANAGED_BY
from components.options import OBJECT_INPUTS, WaitingComponent, child, frozen
from components.pull_secrets import pull_secret


@dataclass(frozen=True)
class ServicesArgs:
    """What the services component needs to know, cut from the spec in ``components.settings_slices``."""

    namespace: str
    las_image: str
    sgx_plugin_image: str
    pull_secret_name: str
    node_selector: Mapping[str, str]
    #: Unmanaged: declared (nothing is deleted) with every input ignored (nothing changes).
    frozen: bool
    #: A CAS is declared or lives in the namespace: the namespace is then protected.
    guards_cas: bool
    registry_auth: pulumi.Output[str] | None = None


def service_cr_spec(args: ServicesArgs, image: str) -> dict[str, Any]:
    """The spec shared by LAS and SGXPlugin, as SCONE's own las.yaml and sgxplugin.yaml write it."""
    return {
        "image": image,
        "imagePullPolicy": "Always",
        "imagePullSecrets": [{"name": args.pull_secret_name}],
        "autoUpdate": False,
        "namespace": args.namespace,
        "nodeSelector": dict(args.node_selector),
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
        args: ServicesArgs,
        *,
        operator_ready: Sequence[pulumi.Resource],
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:SconeServices", name, waits_for, opts)
        self.namespace = self._namespace(args)
        if args.registry_auth is not None:
            pull_secret(self, args.pull_secret_name, args.namespace, args.registry_auth, [self.namespace])
        after_operator = [self.namespace, *operator_ready]
        self.las = self._service("las", "LAS", args.las_image, args, after_operator)
        self.sgx_plugin = self._service("sgxplugin", "SGXPlugin", args.sgx_plugin_image, args, after_operator)
        self.register_outputs({"namespace": args.namespace, "las": "las", "sgxPlugin": "sgxplugin"})

    def _namespace(self, args: ServicesArgs) -> k8s.core.v1.Namespace:
        """The services namespace can hold CAS: deleting it would delete the CAS volumes.

        Protected while a CAS is declared or lives there (``guards_cas``); always retained, so a
        plain ``pulumi destroy`` never deletes it, even after the stack forgot its CAS.
        """
        return k8s.core.v1.Namespace(
            args.namespace,
            metadata={"name": args.namespace, "labels": MANAGED_BY},
            opts=child(self, protect=args.guards_cas, retain_on_delete=True),
        )

    def _service(
        self, name: str, kind: str, image: str, args: ServicesArgs, depends_on: Sequence[pulumi.Resource]
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            name,
            api_version="base.scone.cloud/v1beta1",
            kind=kind,
            metadata={"name": name, "labels": MANAGED_BY},
            spec=service_cr_spec(args, image),
            opts=child(self, depends_on=depends_on, ignore_changes=frozen(args.frozen, OBJECT_INPUTS)),
        )
