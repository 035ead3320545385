"""Helpers of the scone-ops unit tests: node JSON as the API server returns it."""

from __future__ import annotations

from typing import Any

REG = "cas-registered-cas.osc-scone-system-5.8.0"
SGX = {"sgx.intel.com/capable": "true", "las.scontain.com/capable": "true", "las.scontain.com/ok": "true"}


def node(name: str, zone: str | None, *, registered: bool = True, sgx: bool = True, cordoned: bool = False,
         ready: bool = True, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A node object shaped like `kubectl get nodes -o json` items."""
    labels: dict[str, str] = {"kubernetes.io/hostname": name}
    if zone is not None:
        labels["topology.kubernetes.io/zone"] = zone
    if sgx:
        labels.update(SGX)
    if registered:
        labels[REG] = "true"
    for key in drop:
        labels.pop(key, None)
    return {"metadata": {"name": name, "labels": labels},
            "spec": {"unschedulable": True} if cordoned else {},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def two_zones() -> list[dict[str, Any]]:
    """The e2e layout: two SGX nodes per zone and one plain node in zone-a."""
    return [node("sgx-a1", "zone-a"), node("sgx-a2", "zone-a"), node("sgx-b1", "zone-b"),
            node("sgx-b2", "zone-b"), node("plain-a1", "zone-a", registered=False, sgx=False)]
