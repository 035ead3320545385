"""Cas: the non-provisioned CAS custom resource, the trust anchor of the cluster.

Built like upstream's ``cas_provisioning.yaml`` (reference §1.5) so that
``kubectl provision`` accepts it: the image must be exactly
``<repo>/<prefix>cas:<serviceVersion>``. Provisioning and upgrades then patch the CR
(backup-controller, probes, image); those paths are in ``ignore_changes`` so that a
later ``pulumi up`` leaves them to the owner: pulumi-kubernetes drops ignored fields that
another field manager owns from its server-side apply, so it neither fights nor conflicts.

The CR is protected and retained: Pulumi never deletes it, so the operator never deletes
the StatefulSet's volumes (``database-<name>-0`` and the snapshot volume).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.operator import MANAGED_BY
from components.options import OBJECT_INPUTS, WaitingComponent, child, frozen
from components.services import INJECT_PULL_SECRET
from components.spec import SconeSpec

#: Paths kubectl-provision owns once it has provisioned or upgraded the CAS (§1.5 step 7, §1.7).
OWNER_MANAGED_PATHS: tuple[str, ...] = (
    "spec.image",
    'spec["backup-controller"]',
    "spec.livenessProbe",
    "spec.startupProbe",
    "spec.attestedCLIProbes",
)


def volume(size: str, storage_class: str | None) -> dict[str, Any]:
    """A persistence block of the CAS CRD."""
    block: dict[str, Any] = {"enabled": True, "size": size}
    if storage_class:
        block["storageClass"] = storage_class
    return block


def cas_cr_spec(spec: SconeSpec) -> dict[str, Any]:
    """The CAS spec as upstream's provisioning template writes it, with our settings."""
    return {
        "image": spec.cas_image,
        "imagePullPolicy": "Always",
        "imagePullSecrets": [{"name": spec.images.pullSecretName}],
        "nodeSelector": dict(spec.serviceNodeSelector),
        "podAnnotations": dict(INJECT_PULL_SECRET),
        "service": {"type": spec.cas.serviceType},
        "persistence": volume(spec.cas.databaseSize, spec.cas.storageClass),
        "databaseSnapshots": {
            "enabled": True,
            "interval": spec.cas.snapshotInterval,
            "persistence": volume(spec.cas.snapshotSize, spec.cas.storageClass),
        },
        "backup-controller": {"enabled": False},
    }


class Cas(WaitingComponent):
    """The CAS custom resource; provisioning is the owner's (``components.owner``)."""

    cr: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        spec: SconeSpec,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:Cas", name, waits_for, opts)
        self.cr = k8s.apiextensions.CustomResource(
            spec.cas.name,
            api_version="services.scone.cloud/v1beta1",
            kind="CAS",
            metadata={"name": spec.cas.name, "namespace": spec.namespaces.services, "labels": MANAGED_BY},
            spec=cas_cr_spec(spec),
            opts=child(
                self,
                data_bearing=True,
                ignore_changes=frozen(not spec.manages_services, OBJECT_INPUTS) or OWNER_MANAGED_PATHS,
            ),
        )
        self.register_outputs({"name": spec.cas.name, "namespace": spec.namespaces.services, "image": spec.cas_image})
