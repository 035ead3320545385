"""Fake nodes kwok keeps Ready: SGX nodes in two zones plus one plain node.

Why these labels: SCONE schedules LAS/SGX plugin on `sgx.intel.com/capable=true`,
CAS on `las.scontain.com/ok=true` (and the backup controller selects
`las.scontain.com/capable=true` too); `topology.kubernetes.io/zone` lets zonal
volumes pin CAS to its zone when it moves. kwok manages only nodes annotated
`kwok.x-k8s.io/node=fake`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

KWOK_ANNOTATION = "kwok.x-k8s.io/node"
SGX_LABELS = {
    "sgx.intel.com/capable": "true",
    "las.scontain.com/capable": "true",
    "las.scontain.com/ok": "true",
}
ZONE_LABEL = "topology.kubernetes.io/zone"


@dataclass(frozen=True)
class FakeNode:
    """One node to register: its name, zone and whether it has (simulated) SGX."""

    name: str
    zone: str
    sgx: bool = True
    extra_labels: dict[str, str] = field(default_factory=dict)

    def manifest(self, kube_version: str) -> dict[str, Any]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "type": "kwok",
            ZONE_LABEL: self.zone,
            "topology.kubernetes.io/region": "local",
            **(SGX_LABELS if self.sgx else {}),
            **self.extra_labels,
        }
        resources = {"cpu": "32", "memory": "128Gi", "pods": "110", "ephemeral-storage": "500Gi"}
        if self.sgx:
            resources["sgx.intel.com/enclave"] = "20"
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": self.name,
                "labels": labels,
                "annotations": {KWOK_ANNOTATION: "fake", "node.alpha.kubernetes.io/ttl": "0"},
            },
            "spec": {},
            "status": {
                "allocatable": resources,
                "capacity": resources,
                "nodeInfo": {
                    "architecture": "amd64",
                    "kubeletVersion": kube_version,
                    "kubeProxyVersion": kube_version,
                    "operatingSystem": "linux",
                    "containerRuntimeVersion": "kwok",
                },
                "phase": "Running",
            },
        }


DEFAULT_NODES: tuple[FakeNode, ...] = (
    FakeNode("sgx-a1", "zone-a"),
    FakeNode("sgx-a2", "zone-a"),
    FakeNode("sgx-b1", "zone-b"),
    FakeNode("sgx-b2", "zone-b"),
    FakeNode("plain-a1", "zone-a", sgx=False, extra_labels={"node-role.scone-e2e/infra": "true"}),
)
