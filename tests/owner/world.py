"""The owner tests' world: a loopback "cluster" reached through real kubectl, and the fake plugin on PATH.

Every test gets its own API server (e2e/fakes/apiserver.py over a JSON-file store), kubeconfig,
kubectl cache, TARGET_DIR, backup dir, fake-CAS state, call log and failure-injection control file.
``kubectl provision ...`` goes through real kubectl plugin dispatch to e2e/fakes/bin/kubectl-provision.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.owner import plugin as plugin_module
from e2e.fakes.apiserver import FakeApiServer
from e2e.fakes.cluster_store import ClusterStore

__all__ = ["FakeApiServer", "OwnerWorld", "port_forwards_of_this_test"]

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "e2e" / "fakes"

SENTINEL_DCAP = "SENTINEL-DCAP-7f3a9c1e5b2d4f60"
SUPPORTED = ["5.8.0", "5.8.1", "5.9.0"]
NAMESPACE = "scone-system"
# Tools upstream needs that a CI machine may lack; a stub only stands in when the real one is absent.
STUBBED_TOOLS = ("jq", "docker", "cosign", "gpg")


@dataclass
class OwnerWorld:
    """One test's world: paths, the store behind the API server, and helpers to read the fake's log."""

    tmp: Path
    store: ClusterStore
    target: Path
    backups: Path
    work: Path
    call_log: Path
    control: Path
    state: Path
    env: dict[str, str]
    marker: str

    def props(self, **overrides: Any) -> dict[str, Any]:
        props: dict[str, Any] = {
            "casName": "cas",
            "namespace": NAMESPACE,
            "version": "5.8.0",
            "imageRepo": "registry.example/scone",
            "imagePrefix": "osc-",
            "targetDir": str(self.target),
            "backupDir": str(self.backups),
            "workDir": str(self.work),
            "timeoutSeconds": 60,
            "maxAttempts": 3,
            "backoffSeconds": 0,
            "supportedVersions": list(SUPPORTED),
            "kubectl": "kubectl",
            "dcapKey": SENTINEL_DCAP,
        }
        props.update(overrides)
        return props

    def calls(self) -> list[dict[str, Any]]:
        if not self.call_log.exists():
            return []
        return [json.loads(line) for line in self.call_log.read_text().splitlines() if line.strip()]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    def inject(self, *rules: dict[str, Any]) -> None:
        self.control.write_text(json.dumps({"rules": list(rules)}))

    def create_cas_cr(self, version: str = "5.8.0", name: str = "cas") -> None:
        """What the lead's Cas component does: declare the CAS CR (operator sim adds status + PVC)."""
        self.store.create(
            "cas",
            NAMESPACE,
            {
                "metadata": {"name": name},
                "spec": {"image": f"registry.example/scone/osc-cas:{version}", "backup-controller": {"enabled": False}},
            },
        )

    def cas(self, name: str = "cas") -> dict[str, Any]:
        obj: dict[str, Any] = self.store.get("cas", NAMESPACE, name)
        return obj

    def everything_written(self) -> str:
        """All text the test world holds outside the plugin's own owner config (for leak scans)."""
        chunks = [self.call_log.read_text() if self.call_log.exists() else ""]
        for path in list(self.work.rglob("*")) + list(self.backups.rglob("*")) + list(self.store.root.rglob("*.json")):
            if path.is_file():
                chunks.append(path.read_text(errors="replace"))
        return "\n".join(chunks)


def port_forwards_of_this_test(marker: str) -> list[int]:
    pids = []
    for pid in plugin_module_real_port_forwards():
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if f"FAKE_SCONE_PORT_FORWARD_MARKER={marker}".encode() in environ:
            pids.append(pid)
    return pids


plugin_module_real_port_forwards = plugin_module.other_port_forwards
