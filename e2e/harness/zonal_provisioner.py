"""A dynamic volume provisioner for the fake nodes, with zone affinity.

Why: there is no storage on kwok nodes, yet CAS's StatefulSet needs its PVCs bound
before the scheduler will place the pod, and "CAS comes back in the same zone" is
a property of zonal volumes. This follows the external-provisioner contract: for a
claim of a class we serve, once the scheduler has picked a node (annotation
`volume.kubernetes.io/selected-node`, WaitForFirstConsumer), create a PV pre-bound
to the claim with node affinity to that node's zone; the real PV controller in
kube-controller-manager then binds them. Reclaim policy comes from the class
(Retain for the harness default), so volumes outlive their claims.
"""

from __future__ import annotations

from typing import Any

from e2e.harness.kube_api import KubeApi, KubeApiError

PROVISIONER = "e2e.scone-stack/zonal"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
ZONE_LABEL = "topology.kubernetes.io/zone"


class ZonalProvisioner:
    """One `reconcile()` call provisions every claim that is waiting for a volume."""

    def __init__(self, api: KubeApi) -> None:
        self.api = api

    def _our_classes(self) -> dict[str, dict[str, Any]]:
        classes = self.api.items("/apis/storage.k8s.io/v1/storageclasses")
        return {c["metadata"]["name"]: c for c in classes if c.get("provisioner") == PROVISIONER}

    def reconcile(self) -> int:
        classes = self._our_classes()
        if not classes:
            return 0
        made = 0
        for pvc in self.api.items("/api/v1/persistentvolumeclaims"):
            meta, spec = pvc["metadata"], pvc.get("spec", {})
            cls = classes.get(spec.get("storageClassName") or "")
            node_name = (meta.get("annotations") or {}).get(SELECTED_NODE)
            if cls is None or not node_name or spec.get("volumeName"):
                continue
            pv_name = f"pvc-{meta['uid']}"
            if self.api.get_or_none(f"/api/v1/persistentvolumes/{pv_name}") is not None:
                continue
            node = self.api.get_or_none(f"/api/v1/nodes/{node_name}")
            zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
            if zone is None:
                continue  # the node vanished or has no zone: let the scheduler pick again
            self._create_pv(pv_name, pvc, cls, zone)
            made += 1
        return made

    def _create_pv(self, pv_name: str, pvc: dict[str, Any], cls: dict[str, Any], zone: str) -> None:
        meta, spec = pvc["metadata"], pvc.get("spec", {})
        size = spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")
        pv = {
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv_name,
                         "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
                         "labels": {ZONE_LABEL: zone}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                "persistentVolumeReclaimPolicy": cls.get("reclaimPolicy", "Delete"),
                "storageClassName": cls["metadata"]["name"],
                "volumeMode": spec.get("volumeMode", "Filesystem"),
                "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                             "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]},
                # Never mounted: kwok runs no containers. The path only makes the PV valid.
                "hostPath": {"path": f"/nonexistent/scone-e2e/{pv_name}"},
                "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                    {"key": ZONE_LABEL, "operator": "In", "values": [zone]}]}]}},
            },
        }
        try:
            self.api.create("/api/v1/persistentvolumes", pv)
        except KubeApiError as err:
            if err.status != 409:
                raise
