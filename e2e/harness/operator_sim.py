"""A simulated scone-operator: the status and workloads the real one produces.

Why: Scontain's operator image is private and needs SGX. The program under test
only reads what the operator writes (CR status, the CAS StatefulSet, its PVCs and
PDB), so this simulation writes exactly those, with the fields SCONE documents for
the LAS, SGXPlugin and CAS status:

- It acts only while the operator is installed: a Deployment named
  `scone-controller-manager` with a ready replica (what the local chart creates).
  Without it, CRs get no status, as in a real cluster.
- LAS / SGXPlugin (cluster-scoped): state HEALTHY, version from `spec.image`'s tag,
  per-node maps over the SGX nodes (`sgx.intel.com/capable=true`, LAS nodeSelector).
- CAS: creates StatefulSet `<cas>` (1 replica, owner-referenced to the CR, requests
  one `sgx.intel.com/enclave`), volume claim templates `database` (PVC
  `database-<cas>-0`) and `database-snapshots`, Service `<cas>` and PDB `<cas>`
  (maxUnavailable 0, so eviction is refused and the alert reads 0). Status:
  state/phase, provisioned (read from the CAS database stand-in that the fake
  kubectl-provision writes, as the real operator reads the CAS `provisioned`
  policy), attestable, snapshotStatus, migrationNodeRatio k/N with N = schedulable
  SGX nodes (Disabled when the backup controller is off; registration completes
  REGISTRATION_SECONDS after it is enabled, showing EnablingMigration in between, and
  labels each registered node `cas-registered-<cas>.<ns>-<version>=true`), version.
  Image changes roll the StatefulSet. Deleting the CR lets garbage collection
  remove the StatefulSet/Service/PDB; PVCs stay (StatefulSet semantics).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from components.live_cluster import image_tag
from e2e.harness.kube_api import JsonObj, KubeApi, KubeApiError

OPERATOR_DEPLOYMENT = "scone-controller-manager"
REGISTRATION_SECONDS = 2.0
SGX_LABEL = "sgx.intel.com/capable"
#: The backup controller's default SELECTOR_LABELS: the nodes it registers as CAS backups.
BACKUP_CONTROLLER_SELECTOR = {"las.scontain.com/capable": "true", "las.scontain.com/ok": "true", SGX_LABEL: "true"}
BASE = "/apis/base.scone.cloud/v1beta1"
SERVICES = "/apis/services.scone.cloud/v1beta1"


def _version(spec: JsonObj) -> str:
    """The version a CAS spec's image runs: its tag, ``unknown`` when untagged."""
    return image_tag(spec.get("image", "")) or "unknown"


def _owner_ref(cr: JsonObj) -> JsonObj:
    return {"apiVersion": cr["apiVersion"], "kind": cr["kind"], "name": cr["metadata"]["name"],
            "uid": cr["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


class OperatorSim:
    """One `reconcile()` call brings every SCONE CR one step closer to its real status."""

    def __init__(self, api: KubeApi, cas_db_dir: Path) -> None:
        self.api = api
        self.cas_db_dir = cas_db_dir
        self._enabling_since: dict[str, float] = {}  # CAS uid -> when its backup controller started

    # ---- environment --------------------------------------------------------------------
    def operator_running(self) -> bool:
        deps = self.api.items("/apis/apps/v1/deployments",
                              {"fieldSelector": f"metadata.name={OPERATOR_DEPLOYMENT}"})
        return any((d.get("status", {}).get("readyReplicas") or 0) >= 1 for d in deps)

    def _sgx_nodes(self, selector: dict[str, str] | None = None) -> list[JsonObj]:
        sel = selector or {SGX_LABEL: "true"}
        out = []
        for n in self.api.items("/api/v1/nodes"):
            labels = n["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in sel.items()):
                out.append(n)
        return out

    def _patch_status(self, path: str, cr: JsonObj, status: JsonObj) -> None:
        current = cr.get("status") or {}
        if all(current.get(k) == v for k, v in status.items()):
            return
        try:
            self.api.merge_patch(f"{path}/status", {"status": status})
        except KubeApiError as err:
            if err.status not in (404, 409):
                raise

    # ---- reconcile ----------------------------------------------------------------------
    def reconcile(self) -> None:
        if not self.operator_running():
            return
        for las in self.api.items(f"{BASE}/las"):
            self._las(las)
        for plugin in self.api.items(f"{BASE}/sgxplugins"):
            self._sgxplugin(plugin)
        for cas in self.api.items(f"{SERVICES}/cas"):
            if cas["metadata"].get("deletionTimestamp"):
                continue
            self._cas(cas)

    def _las(self, cr: JsonObj) -> None:
        spec = cr.get("spec") or {}
        selector = dict(spec.get("nodeSelector") or {})
        selector.setdefault(SGX_LABEL, "true")
        nodes = self._sgx_nodes(selector)
        per_node = {n["metadata"]["name"]: {
            "isReady": True, "hasDCAPQuote": bool(spec.get("dcapKey")), "hasEPIDQuote": False,
            "lasProbeAlert": 0, "errorMessages": []} for n in nodes}
        self._patch_status(f"{BASE}/las/{cr['metadata']['name']}", cr, {
            "state": "HEALTHY", "version": _version(spec),
            "desiredNumberScheduled": len(nodes), "numberAvailable": len(nodes),
            "lasReplicaAlert": 0, "lasProbeAlert": 0, "nodes": per_node,
        })

    def _sgxplugin(self, cr: JsonObj) -> None:
        spec = cr.get("spec") or {}
        nodes = self._sgx_nodes(dict(spec.get("nodeSelector") or {}) or None)
        n = len(nodes)
        cap = int(spec.get("capacitySGXPods") or 20)
        names = [x["metadata"]["name"] for x in nodes]
        self._patch_status(f"{BASE}/sgxplugins/{cr['metadata']['name']}", cr, {
            "state": "HEALTHY", "servingReplicaRatio": f"{n}/{n}",
            "desiredReplicas": n, "readyReplicas": n, "servingReplicas": n,
            "healthyServingReplicas": n, "capacitySGXDevices": cap * n,
            "availableSGXDevices": cap * n, "usedSGXDevices": 0,
            "capacitySGXDevicesPerNode": {x: cap for x in names},
            "availableSGXDevicesPerNode": {x: cap for x in names},
            "usedSGXDevicesPerNode": {x: 0 for x in names},
            "servingReplicasPerNode": {x: 1 for x in names},
            "sgxDeviceAlert": 0, "sgxReplicaAlert": 0,
            "version": _version(spec),
        })

    # ---- CAS ------------------------------------------------------------------------------
    def _cas_provisioned(self, ns: str, name: str) -> bool:
        db = self.cas_db_dir / ns / f"{name}.json"
        try:
            return bool(json.loads(db.read_text()).get("provisioned"))
        except (OSError, ValueError):
            return False

    def _cas(self, cr: JsonObj) -> None:
        meta, spec = cr["metadata"], cr.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        sts = self._ensure_statefulset(cr)
        self._ensure_service(cr)
        pdb = self._ensure_pdb(cr)

        ready = int((sts.get("status") or {}).get("readyReplicas") or 0)
        updated = (sts.get("status") or {}).get("updateRevision") == (sts.get("status") or {}).get(
            "currentRevision")
        provisioned = self._cas_provisioned(ns, name)
        bc = spec.get("backup-controller") or {}
        snaps = spec.get("databaseSnapshots") or {}
        if not snaps.get("enabled"):
            snapshot_status = "Disabled"
        elif (snaps.get("persistence") or {}).get("enabled"):
            snapshot_status = "Persisted"
        else:
            snapshot_status = "Ephemeral"

        desired = len([n for n in self._sgx_nodes() if not n.get("spec", {}).get("unschedulable")])
        uid = meta["uid"]
        if bc.get("enabled") and provisioned and ready:
            since = self._enabling_since.setdefault(uid, time.monotonic())
            # Registering every node's backup takes the backup controller a loop; here
            # REGISTRATION_SECONDS, long enough to be observed as EnablingMigration.
            migratable = desired if time.monotonic() - since >= REGISTRATION_SECONDS else 0
            if migratable:
                self._label_registered_nodes(ns, name, _version(spec))
            ratio = f"{migratable}/{desired}"
        else:
            self._enabling_since.pop(uid, None)
            migratable = 0
            ratio = "Disabled" if not bc.get("enabled") else "Initializing"

        if not ready:
            state, phase = "PENDING", "Uninitialized"
        elif not provisioned:
            state, phase = "HEALTHY", "Unprovisioned"
        elif bc.get("enabled") and migratable < desired:
            state, phase = "HEALTHY", "EnablingMigration"
        else:
            state, phase = "HEALTHY", "HEALTHY"
        pdb_allowed = int((pdb.get("status") or {}).get("disruptionsAllowed") or 0)
        self._patch_status(f"{SERVICES}/namespaces/{ns}/cas/{name}", cr, {
            "state": state, "phase": phase,
            "provisioned": "Yes" if provisioned else "No",
            "attestable": "Yes" if ready and updated else "No",
            "snapshotStatus": snapshot_status,
            "migrationNodeRatio": ratio,
            "numMigratableNodes": migratable, "desiredNumMigratableNodes": desired,
            "migrationNodeAlert": max(desired - migratable, 0) if bc.get("enabled") else 0,
            "podDisruptionBudgetAlert": pdb_allowed,
            "readyReplicas": ready, "replicaAlert": 0 if ready else 1,
            "version": _version(spec),
        })

    def _label_registered_nodes(self, ns: str, name: str, version: str) -> None:
        """Mark every schedulable node the backup controller selects as registered for this CAS.

        SCONE's own queries for nodes that can take a CAS over select
        ``cas-registered-<cas>.<namespace>-<version>=true``; registrations are never taken back
        (a cordoned node keeps its label).
        """
        label = f"cas-registered-{name}.{ns}-{version}"
        for node in self._sgx_nodes(BACKUP_CONTROLLER_SELECTOR):
            labels = node["metadata"].get("labels") or {}
            if node.get("spec", {}).get("unschedulable") or labels.get(label) == "true":
                continue
            try:
                patch = {"metadata": {"labels": {label: "true"}}}
                self.api.merge_patch(f"/api/v1/nodes/{node['metadata']['name']}", patch)
            except KubeApiError as err:
                if err.status != 404:
                    raise

    def _ensure_statefulset(self, cr: JsonObj) -> JsonObj:
        meta, spec = cr["metadata"], cr.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        labels = {"app.kubernetes.io/name": "cas", "app.kubernetes.io/instance": name}
        image = spec.get("image") or "registry.scontain.com/scone.cloud/cas:unknown"
        persistence = spec.get("persistence") or {}
        snaps = spec.get("databaseSnapshots") or {}
        claims: list[JsonObj] = []
        mounts: list[JsonObj] = []

        def claim(cname: str, p: JsonObj) -> JsonObj:
            c: JsonObj = {"metadata": {"name": cname, "labels": labels}, "spec": {
                "accessModes": p.get("accessModes") or ["ReadWriteOnce"],
                "resources": {"requests": {"storage": p.get("size") or "1Gi"}}}}
            if p.get("storageClass"):
                c["spec"]["storageClassName"] = p["storageClass"]
            return c

        if persistence.get("enabled", True):
            claims.append(claim("database", persistence))
            mounts.append({"name": "database", "mountPath": persistence.get("mountPath") or "/etc/cas/db"})
        if snaps.get("enabled") and (snaps.get("persistence") or {}).get("enabled"):
            claims.append(claim("database-snapshots", snaps.get("persistence") or {}))
            mounts.append({"name": "database-snapshots",
                           "mountPath": snaps.get("targetDirectory") or "/var/mnt/cas-database-snapshots"})
        template: JsonObj = {
            "metadata": {"labels": labels, "annotations": dict(spec.get("podAnnotations") or {})},
            "spec": {
                "nodeSelector": dict(spec.get("nodeSelector") or {}),
                "containers": [{
                    "name": "cas", "image": image,
                    "ports": [{"name": "client", "containerPort": 8081},
                              {"name": "enclave", "containerPort": 18765}],
                    "resources": {"limits": {"sgx.intel.com/enclave": "1"},
                                  "requests": {"sgx.intel.com/enclave": "1"}},
                    "volumeMounts": mounts,
                }],
            },
        }
        path = f"/apis/apps/v1/namespaces/{ns}/statefulsets/{name}"
        sts = self.api.get_or_none(path)
        if sts is None:
            # The claims exist before the pod does, as the StatefulSet controller would make
            # them, but early enough that the scheduler's cache has them when the pod comes
            # (otherwise a cache race can park the pod as unschedulable for minutes).
            for c in claims:
                self._ensure_claim(ns, f"{c['metadata']['name']}-{name}-0", c)
            return self.api.create(f"/apis/apps/v1/namespaces/{ns}/statefulsets", {
                "apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": name, "namespace": ns, "labels": labels,
                             "ownerReferences": [_owner_ref(cr)]},
                "spec": {"replicas": 1, "serviceName": name, "selector": {"matchLabels": labels},
                         "podManagementPolicy": "OrderedReady",
                         "updateStrategy": {"type": "RollingUpdate"},
                         "template": template, "volumeClaimTemplates": claims},
            })
        current = sts["spec"]["template"]["spec"]
        if (current["containers"][0].get("image") != image
                or (current.get("nodeSelector") or {}) != template["spec"]["nodeSelector"]):
            return self.api.merge_patch(path, {"spec": {"template": template}})
        return sts

    def _ensure_claim(self, ns: str, claim_name: str, template: JsonObj) -> None:
        if self.api.get_or_none(f"/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim_name}") is not None:
            return
        try:
            self.api.create(f"/api/v1/namespaces/{ns}/persistentvolumeclaims", {
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim_name, "namespace": ns, "labels": template["metadata"]["labels"]},
                "spec": template["spec"],
            })
        except KubeApiError as err:
            if err.status != 409:
                raise

    def _ensure_service(self, cr: JsonObj) -> None:
        meta, spec = cr["metadata"], cr.get("spec") or {}
        ns, name = meta["namespace"], meta["name"]
        if self.api.get_or_none(f"/api/v1/namespaces/{ns}/services/{name}") is not None:
            return
        svc = spec.get("service") or {}
        self.api.create(f"/api/v1/namespaces/{ns}/services", {
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": [_owner_ref(cr)]},
            "spec": {"type": svc.get("type") if svc.get("type") in ("ClusterIP", "NodePort") else "ClusterIP",
                     "selector": {"app.kubernetes.io/name": "cas", "app.kubernetes.io/instance": name},
                     "ports": [{"name": "client", "port": int(svc.get("clientPort") or 8081)},
                               {"name": "enclave", "port": int(svc.get("enclavePort") or 18765)}]},
        })

    def _ensure_pdb(self, cr: JsonObj) -> JsonObj:
        meta = cr["metadata"]
        ns, name = meta["namespace"], meta["name"]
        path = f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets/{name}"
        pdb = self.api.get_or_none(path)
        if pdb is not None:
            return pdb
        created: dict[str, Any] = self.api.create(f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": ns, "ownerReferences": [_owner_ref(cr)]},
            "spec": {"maxUnavailable": 0, "selector": {"matchLabels": {
                "app.kubernetes.io/name": "cas", "app.kubernetes.io/instance": name}}},
        })
        return created
