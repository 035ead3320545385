"""The fake kubectl-provision's state: its settings from flags and env, the CAS database, the owner files.

Why apart from the operations: every operation (provision, upgrade, backup, recovery, vault) needs the
same settings (``VERSION``, ``IMAGE_REPO``, ``TARGET_DIR``, ``DCAP_KEY`` ...), the prerequisites upstream
checks first, the CAS's internal database (what SGX-sealed CAS state would hold) and the owner identity.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Any

from e2e.fakes.provision_backends import DirBackend, KubectlBackend
from e2e.fakes.provision_cli import (
    BLUE,
    DEFAULT_DCAP,
    DEFAULT_REPO,
    PLUGIN_VERSION,
    RESET,
    Options,
    error_exit,
    warning,
)


class PluginBase:
    """Settings, prerequisites, the CAS database and owner files; the operations are in ``fake_provision``."""

    def __init__(self, opts: Options, env: dict[str, str]) -> None:
        self.cut_short = False  # set by the "partial" failure injection
        self.copy_nothing = False  # set by the "cp-nothing" failure injection
        self.opts = opts
        self.env = env
        self.svc = opts.svc or ""
        self.name = opts.name or self.svc
        self.version = opts.set_version or env.get("VERSION") or PLUGIN_VERSION
        self.repo = opts.image_repo or env.get("IMAGE_REPO") or DEFAULT_REPO
        self.prefix = env.get("IMAGE_PREFIX", "")
        self.target = Path(opts.target or env.get("TARGET_DIR") or os.path.join(env.get("HOME", "/root"), ".cas"))
        self.dcap = opts.dcap or env.get("DCAP_KEY") or DEFAULT_DCAP
        if opts.namespace:
            self.ns = opts.namespace
        elif env.get("NAMESPACE"):
            warning("Using external NAMESPACE")
            self.ns = env["NAMESPACE"]
        else:
            self.ns = "default"
        state = Path(env.get("FAKE_SCONE_STATE_DIR") or os.path.join(env.get("HOME", "/root"), ".fake-scone"))
        self.db_path = state / "casdb"
        backend = env.get("FAKE_SCONE_BACKEND", "kubectl")
        self.cluster: DirBackend | KubectlBackend = (
            DirBackend(env["FAKE_SCONE_CLUSTER_DIR"]) if backend == "dir" else KubectlBackend()
        )

    def image(self, what: str, version: str | None = None) -> str:
        return f"{self.repo}/{self.prefix}{what}:{version or self.version}"

    def verbose(self, message: str) -> None:
        if self.opts.verbose or self.env.get("V") == "1":
            print(f"{BLUE}{message}{RESET}", file=sys.stderr)

    # -- CAS internal database (what SGX-sealed CAS state would hold) --
    def db_file(self, name: str, ns: str) -> Path:
        return self.db_path / ns / f"{name}.json"

    def load_db(self, name: str, ns: str) -> dict[str, Any]:
        path = self.db_file(name, ns)
        if not path.exists():  # CAS generated its keys when it first started
            db: dict[str, Any] = {
                "owner_id": None,
                "provisioned": False,
                "policies": [],
                "keys": {
                    k: secrets.token_hex(32) for k in ("CAS_KEY", "CAS_SOFTWARE_KEY", "CAS_SESSION_ENCRYPTION_KEY")
                },
                "cert": "-----BEGIN CERTIFICATE-----\n"
                + "\n".join(base64.b64encode(secrets.token_bytes(48)).decode() for _ in range(3))
                + "\n-----END CERTIFICATE-----",
            }
            self.save_db(name, ns, db)
        result: dict[str, Any] = json.loads(path.read_text())
        return result

    def save_db(self, name: str, ns: str, db: dict[str, Any]) -> None:
        path = self.db_file(name, ns)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(db, indent=2))

    # -- checks upstream runs before any operation --
    def prerequisites(self) -> None:
        for tool in ("kubectl", "jq", "cosign", "gpg"):
            if shutil.which(tool) is None:
                error_exit(f"'{tool}' is not installed or not in PATH. Please install it.")
        if not self.cluster.namespace_exists(self.ns):
            error_exit(f"Namespace '{self.ns}' cannot be retrieved")
        if not self.target.is_dir() or not os.access(self.target, os.W_OK):
            error_exit(f"Target directory '{self.target}' does not exist or is not writable")
        # upstream: `ps axx | grep port-forward` must find nothing but the grep itself. Tests share the
        # machine with other people's port-forwards, so FAKE_SCONE_PORT_FORWARD_MARKER (if set) limits
        # the count to processes carrying the same marker in their environment.
        marker = self.env.get("FAKE_SCONE_PORT_FORWARD_MARKER")
        others = 0
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
                if b"port-forward" not in cmd or int(proc.name) == os.getpid():
                    continue
                if (
                    marker
                    and f"FAKE_SCONE_PORT_FORWARD_MARKER={marker}".encode() not in (proc / "environ").read_bytes()
                ):
                    continue
            except OSError:
                continue
            others += 1
        if others:
            error_exit("There is already a port-forward running. Please stop it first (kubectl port-forward).")

    def write_identity(self) -> str:
        """The scone CLI reuses an existing identity (config.json); only a missing one is created."""
        identity = self.target / "identity"
        identity.mkdir(parents=True, exist_ok=True)
        config = identity / "config.json"
        if config.exists():
            owner_id: str = json.loads(config.read_text())["owner_id"]
        else:
            owner_id = secrets.token_hex(16)
            config.write_text(json.dumps({"owner_id": owner_id, "identity": secrets.token_hex(64)}))
        (identity / "base-owner-identity.json").write_text(json.dumps({"owner_id": owner_id}))
        (identity / f"owner_id_{self.svc}_{self.ns}.json").write_text(json.dumps({"owner_id": owner_id}))
        return owner_id

    def owner_identity(self) -> str | None:
        config = self.target / "identity" / "config.json"
        if not config.exists():
            return None
        value: str = json.loads(config.read_text())["owner_id"]
        return value

    def patch_probes_and_backup(self) -> None:
        ops: list[dict[str, Any]] = [
            {"op": "add", "path": "/spec/livenessProbe", "value": {"enabled": True}},
            {"op": "add", "path": "/spec/startupProbe", "value": {"enabled": True}},
            {"op": "add", "path": "/spec/attestedCLIProbes", "value": False},
        ]
        if not self.opts.no_backup:
            ops.insert(
                0,
                {
                    "op": "add",
                    "path": "/spec/backup-controller",
                    "value": {
                        "enabled": True,
                        "session": "cas-owner/primary-backup/register",
                        "image": f"{self.repo}/{self.prefix}backup-controller:5.8.0",
                    },
                },
            )
        owner_config = self.target / "owner-config"
        owner_config.mkdir(parents=True, exist_ok=True)
        (owner_config / f"cas-{self.ns}-{self.name}-{self.version}-patch.json").write_text(json.dumps(ops))
        self.cluster.patch_json("cas", self.ns, self.name, ops)
        print(f"cas.services.scone.cloud/{self.name} patched")
