"""Cas: the non-provisioned CAS custom resource, the trust anchor of the cluster.

Built like SCONE's own ``cas_provisioning.yaml`` so that
``kubectl provision`` accepts it: the image must be exactly
``<repo>/<prefix>cas:<serviceVersion>``. Provisioning and upgrades then patch the CR
(backup-controller, probes, image); those paths are in ``ignore_changes`` so that a
later ``pulumi up`` leaves them to the owner: pulumi-kubernetes drops ignored fields that
another field manager owns from its server-side apply, so it neither fights nor conflicts.

The CR is protected and retained: Pulumi never deletes it, so the operator never deletes
the StatefulSet's volumes (``database-<name>-0`` and the snapshot volume).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.names import INJECT_PULL_SECRET, MANAGED_BY
from components.options import OBJECT_INPUTS, WaitingComponent, child, frozen

#: Paths kubectl-provision owns once it has provisioned or upgraded the CAS: provisioning turns the
#: backup controller on and sets the probes, an upgrade sets the image.
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


@dataclass(frozen=True)
class CasArgs:
    """What the CAS component needs to know, cut from the spec in ``components.settings_slices``."""

    name: str
    namespace: str
    #: Exactly ``<repo>/<prefix>cas:<serviceVersion>``: kubectl-provision refuses any other image.
    image: str
    pull_secret_name: str
    node_selector: Mapping[str, str]
    service_type: str
    database_size: str
    snapshot_size: str
    storage_class: str | None
    snapshot_interval: str
    #: Unmanaged: declared (nothing is deleted) with every input ignored (nothing changes).
    frozen: bool


def cas_cr_spec(args: CasArgs) -> dict[str, Any]:
    """The CAS spec as SCONE's provisioning template writes it, with our settings."""
    return {
        "image": args.image,
        "imagePullPolicy": "Always",
        "imagePullSecrets": [{"name": args.pull_secret_name}],
        "nodeSelector": dict(args.node_selector),
        "podAnnotations": dict(INJECT_PULL_SECRET),
        "service": {"type": args.service_type},
        "persistence": volume(args.database_size, args.storage_class),
        "databaseSnapshots": {
            "enabled": True,
            "interval": args.snapshot_interval,
            "persistence": volume(args.snapshot_size, args.storage_class),
        },
        "backup-controller": {"enabled": False},
    }


class Cas(WaitingComponent):
    """The CAS custom resource; provisioning is the owner's (``components.owner``)."""

    cr: k8s.apiextensions.CustomResource

    def __init__(
        self,
        name: str,
        args: CasArgs,
        waits_for: Sequence[pulumi.Resource] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("scone:index:Cas", name, waits_for, opts)
        self.cr = k8s.apiextensions.CustomResource(
            args.name,
            api_version="services.scone.cloud/v1beta1",
            kind="CAS",
            metadata={"name": args.name, "namespace": args.namespace, "labels": MANAGED_BY},
            spec=cas_cr_spec(args),
            opts=child(
                self,
                data_bearing=True,
                ignore_changes=frozen(args.frozen, OBJECT_INPUTS) or OWNER_MANAGED_PATHS,
            ),
        )
        self.register_outputs({"name": args.name, "namespace": args.namespace, "image": args.image})
