"""Fixtures: a loopback "cluster" reached through real kubectl, and the fake plugin on PATH.

Every test gets its own API server (tests/fakes/apiserver.py over a JSON-file store), kubeconfig,
kubectl cache, TARGET_DIR, backup dir, fake-CAS state, call log and failure-injection control file.
``kubectl provision ...`` goes through real kubectl plugin dispatch to tests/fakes/bin/kubectl-provision.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
FAKES = ROOT / "tests" / "fakes"
sys.path.insert(0, str(FAKES))

from apiserver import FakeApiServer  # noqa: E402
from cluster_store import ClusterStore  # noqa: E402

from components.owner import plugin as plugin_module  # noqa: E402

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
            "casName": "cas", "namespace": NAMESPACE, "version": "5.8.0",
            "imageRepo": "registry.example/scone", "imagePrefix": "osc-",
            "targetDir": str(self.target), "backupDir": str(self.backups), "workDir": str(self.work),
            "timeoutSeconds": 60, "maxAttempts": 3, "backoffSeconds": 0,
            "supportedVersions": list(SUPPORTED), "kubectl": "kubectl", "dcapKey": SENTINEL_DCAP,
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
        self.store.create("cas", NAMESPACE, {"metadata": {"name": name}, "spec": {
            "image": f"registry.example/scone/osc-cas:{version}", "backup-controller": {"enabled": False}}})

    def cas(self, name: str = "cas") -> dict[str, Any]:
        return self.store.get("cas", NAMESPACE, name)

    def everything_written(self) -> str:
        """All text the test world holds outside the plugin's own owner config (for leak scans)."""
        chunks = [self.call_log.read_text() if self.call_log.exists() else ""]
        for path in list(self.work.rglob("*")) + list(self.backups.rglob("*")) + list(self.store.root.rglob("*.json")):
            if path.is_file():
                chunks.append(path.read_text(errors="replace"))
        return "\n".join(chunks)


def _port_forwards_of_this_test(marker: str) -> list[int]:
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


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[OwnerWorld]:
    server = FakeApiServer(tmp_path / "cluster").start()
    try:
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        server.store.create("namespaces", None, {"metadata": {"name": NAMESPACE}})
        stubs = tmp_path / "stub-bin"
        stubs.mkdir()
        for tool in STUBBED_TOOLS:
            if shutil.which(tool) is None:
                stub = stubs / tool
                stub.write_text(f"#!/bin/sh\necho '{tool} (stand-in: not installed on this machine)'\n")
                stub.chmod(0o755)
        target, backups, work, state = (tmp_path / n for n in ("owner-target", "backups", "work", "fake-state"))
        target.mkdir()
        marker = uuid.uuid4().hex
        env = {
            "PATH": f"{FAKES / 'bin'}{os.pathsep}{stubs}{os.pathsep}{os.environ.get('PATH', '')}",
            "KUBECONFIG": str(kubeconfig),
            "KUBECACHEDIR": str(tmp_path / "kube-cache"),
            "FAKE_SCONE_BACKEND": "kubectl",
            "FAKE_SCONE_STATE_DIR": str(state),
            "FAKE_SCONE_CALL_LOG": str(tmp_path / "calls.jsonl"),
            "FAKE_SCONE_CONTROL": str(tmp_path / "control.json"),
            "FAKE_SCONE_PORT_FORWARD_MARKER": marker,
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        for inherited in ("DCAP_KEY", "NAMESPACE", "TARGET_DIR", "VERSION", "IMAGE_REPO", "IMAGE_PREFIX"):
            monkeypatch.delenv(inherited, raising=False)
        # Other engineers' processes on this machine may run `kubectl port-forward`; only ours count.
        monkeypatch.setattr(plugin_module, "other_port_forwards", lambda: _port_forwards_of_this_test(marker))
        yield OwnerWorld(tmp_path, server.store, target, backups, work, tmp_path / "calls.jsonl",
                         tmp_path / "control.json", state, env, marker)
    finally:
        server.stop()
