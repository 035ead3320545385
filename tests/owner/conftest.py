"""The ``world`` fixture (see tests/owner/world.py): one isolated owner environment per test."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.owner import plugin as plugin_module
from tests.owner.world import (
    FAKES,
    NAMESPACE,
    STUBBED_TOOLS,
    FakeApiServer,
    OwnerWorld,
    port_forwards_of_this_test,
)


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
        monkeypatch.setattr(plugin_module, "other_port_forwards", lambda: port_forwards_of_this_test(marker))
        yield OwnerWorld(
            tmp_path,
            server.store,
            target,
            backups,
            work,
            tmp_path / "calls.jsonl",
            tmp_path / "control.json",
            state,
            env,
            marker,
        )
    finally:
        server.stop()
