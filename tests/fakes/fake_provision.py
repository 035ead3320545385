"""A faithful fake of SCONE's ``kubectl-provision`` 5.8.0, minus SGX.

Why: the real plugin needs Scontain's private images, docker, SGX attestation and a running CAS.
None of that exists here. This fake keeps everything the owner code depends on: argument parsing and
its errors, the env vars it reads, the files it writes under ``TARGET_DIR`` and the current
directory, "already provisioned" idempotency, Vault's non-idempotency, ``--local-backup`` layout,
recovery preconditions, the upgrade prerequisites, exit codes and ANSI-coloured stderr.

What stands in for the parts that cannot run:
- The CAS's internal database (owner, ``provisioned`` session, public keys) is a JSON file under
  ``$FAKE_SCONE_STATE_DIR/casdb/<ns>/<name>.json`` (default ``$HOME/.fake-scone``).
- The cluster is reached through a backend chosen by ``FAKE_SCONE_BACKEND``:
  ``kubectl`` (default: real ``kubectl`` against whatever API server the kubeconfig names — the e2e
  harness's kube-apiserver or tests/fakes/apiserver.py) or ``dir`` (``FAKE_SCONE_CLUSTER_DIR``, the
  JSON-file store of cluster_store.py, accessed directly).

Test hooks (env vars):
- ``FAKE_SCONE_CALL_LOG``: JSON lines, one per run: argv, cwd, the env vars upstream reads, and the
  SHA-256 of ``DCAP_KEY`` (never the key itself).
- ``FAKE_SCONE_CONTROL``: a JSON file ``{"rules": [{"match": "--upgrade", "action": "fail"|"hang"|
  "partial", "times": 2, "exit": 1, "message": "..."}]}``. A rule applies when ``match`` is a
  substring of the space-joined argv (equal to it with ``"exact": true``); ``times`` counts down
  (absent = always). ``fail`` exits with
  coloured stderr before doing anything, ``hang`` sleeps until killed (upstream's unbounded waits),
  ``partial`` runs the operation but prints only the first half of its stdout and exits ``exit``
  (default 0) — as when the CLI's output is cut short; for ``--local-backup`` the copied
  ``cas.key-store`` is also left empty, as when ``kubectl cp`` is cut short. ``cp-nothing`` (for
  ``--local-backup``) moves the previous copy to ``.bak`` as usual, then copies nothing and still
  exits 0 with tar's complaint on stderr: ``kubectl cp`` of a missing source can exit 0
  (kubernetes/kubectl#980).
- The call log also lists what ``./cas-database-snapshots`` held when the run started
  (``cwd_snapshots``), so a test can see what a ``--local-backup`` found in its working directory.

``--print-public-keys`` prints ``CAS_CERT`` as a PEM over several lines (the quoted value of a shell
variable holding a PEM keeps its line breaks); a CAS database written by an older fake may hold a
one-line certificate, which is printed as it is.
"""

from __future__ import annotations

import base64
import datetime
import fcntl
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from tests.fakes.cluster_store import ClusterStore, StoreError, apply_json_patch, image_tag

PLUGIN_VERSION = "5.8.0"
DEFAULT_DCAP = "00000000000000000000000000000000"
DEFAULT_REPO = "registry.scontain.com/scone.cloud"
RED, ORANGE, BLUE, RESET = "\033[31m", "\033[38;5;208m", "\033[34m", "\033[0m"

VALUE_FLAGS = {
    "-n": "namespace",
    "--namespace": "namespace",
    "--dcap-api": "dcap",
    "-d": "dcap",
    "--owner-config": "owner_config",
    "-o": "owner_config",
    "--target": "target",
    "--webhook": "webhook",
    "--manifests-dir": "manifests_dir",
    "--image-registry": "image_repo",
    "-f": "filename",
    "--filename": "filename",
    "--cas": "cas",
    "--image-overwrite": "image_overwrite",
    "--set-version": "set_version",
    "--cas-database-recovery": "recovery_dir",
    "--set-tolerations": "tolerations",
    "--set-toleration": "tolerations",
    "--upgrade": "upgrade",
    "--verify-image-signatures": "verify_sig_key",
    "--cas-address": "cas_address",
    "--cas-client-port": "cas_client_port",
    "--postprovision-owner-identity": "pp_identity",
}
BOOL_FLAGS = {
    "--no-backup": "no_backup",
    "-v": "verbose",
    "--verbose": "verbose",
    "--debug": "debug",
    "--is-provisioned": "is_provisioned",
    "--vault-client": "vault_client",
    "--verify": "verify",
    "--print-public-keys": "print_keys",
    "--local-backup": "local_backup",
    "--force": "force",
    "--wait": "wait",
    "--no-image-signature-check": "no_sig_check",
    "--no-docker": "no_docker",
    "--preprovision-only": "preprovision_only",
    "--postprovision-only": "postprovision_only",
    "--help": "help",
    "--version": "version",
}
USAGE = """Usage:
  kubectl provision SVC [NAME] [options]
    SVC: cas | vault   NAME defaults to SVC
  see https://sconedocs.github.io/5_kubectl/ for the options"""


class Exit(Exception):  # noqa: N818 - control flow like SystemExit, not an error
    """Unwinds to ``main`` with an exit code (the real script calls ``exit``)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def error_exit(message: str) -> NoReturn:
    print(f"{RED}ERROR: {message}{RESET}", file=sys.stderr, flush=True)
    raise Exit(1)


def warning(message: str) -> None:
    print(f"{ORANGE}WARNING: {message}{RESET}", file=sys.stderr, flush=True)


class Options:
    def __init__(self) -> None:
        self.svc: str | None = None
        self.name: str | None = None
        self.values: dict[str, str] = {}
        self.flags: set[str] = set()

    def __getattr__(self, key: str) -> Any:
        if key in set(VALUE_FLAGS.values()):
            return self.values.get(key)
        if key in set(BOOL_FLAGS.values()):
            return key in self.flags
        raise AttributeError(key)


def parse(argv: list[str]) -> Options:
    """Upstream's ``while [[ "$#" -gt 0 ]]; case $1 in ...`` loop, errors included."""
    opts = Options()
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in VALUE_FLAGS:
            if i + 1 >= len(argv):
                error_exit(f"Missing argument for {arg}")
            key = VALUE_FLAGS[arg]
            if key == "upgrade" and opts.svc not in ("cas", "vault"):
                error_exit("Flag --upgrade must follow the service: kubectl provision cas NAME --upgrade VERSION")
            opts.values[key] = argv[i + 1]
            i += 2
            continue
        if arg in BOOL_FLAGS:
            opts.flags.add(BOOL_FLAGS[arg])
        elif arg.startswith("-"):
            print(USAGE, file=sys.stderr)
            error_exit(f"Unknown argument passed: {arg}")
        elif opts.svc is None:
            opts.svc = arg
        elif opts.name is None:
            opts.name = arg
        else:
            print(USAGE, file=sys.stderr)
            error_exit(f"Unknown parameter passed: {arg}")
        i += 1
    return opts


# -- cluster backends -----------------------------------------------------------------------------
class DirBackend:
    def __init__(self, root: str) -> None:
        self.store = ClusterStore(root)

    def namespace_exists(self, ns: str) -> bool:
        return self.store.exists("namespaces", None, ns)

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        try:
            return self.store.get(plural, ns, name)
        except StoreError:
            return None

    def create(self, plural: str, ns: str, obj: dict[str, Any]) -> None:
        self.store.create(plural, ns, obj)

    def patch_json(self, plural: str, ns: str, name: str, ops: list[dict[str, Any]]) -> None:
        old = self.store.get(plural, ns, name)
        new = apply_json_patch(old, ops)
        new["status"] = old.get("status", {})
        self.store.replace(plural, ns, new)


class KubectlBackend:
    """Real ``kubectl``; the resource names are fully qualified so no other CRD can shadow them."""

    QUALIFIED: ClassVar[dict[str, str]] = {
        "cas": "cas.services.scone.cloud",
        "vaults": "vaults.services.scone.cloud",
        "persistentvolumeclaims": "persistentvolumeclaims",
        "namespaces": "namespaces",
    }

    def _run(self, args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["kubectl", *args], input=stdin, check=False, capture_output=True, text=True)

    def namespace_exists(self, ns: str) -> bool:
        return self._run(["get", "namespace", ns, "-o", "name"]).returncode == 0

    def get(self, plural: str, ns: str, name: str) -> dict[str, Any] | None:
        result = self._run(["get", self.QUALIFIED[plural], name, "-n", ns, "-o", "json", "--ignore-not-found"])
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise Exit(result.returncode)
        return json.loads(result.stdout) if result.stdout.strip() else None

    def create(self, plural: str, ns: str, obj: dict[str, Any]) -> None:
        result = self._run(["create", "--validate=false", "-n", ns, "-f", "-"], stdin=json.dumps(obj))
        if result.returncode != 0:
            sys.stderr.write(result.stderr)
            raise Exit(result.returncode)
        print(result.stdout, end="")

    def patch_json(self, plural: str, ns: str, name: str, ops: list[dict[str, Any]]) -> None:
        for _attempt in range(5):  # upstream retries the CR patch 5 times
            result = self._run(["patch", self.QUALIFIED[plural], name, "-n", ns, "--type=json", "-p", json.dumps(ops)])
            if result.returncode == 0:
                print(result.stdout, end="")
                return
            time.sleep(0.2)
        sys.stderr.write(result.stderr)
        raise Exit(result.returncode)


# -- the fake plugin ------------------------------------------------------------------------------
class Plugin:
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

    # -- operations --
    def run(self) -> int:  # noqa: PLR0911, PLR0912 - one branch per upstream operation
        o = self.opts
        if o.version:
            print(PLUGIN_VERSION)
            return 0
        if o.help:
            print(USAGE)
            print("Current Configuration:\n  VERSION=" + self.version)
            return 0
        if self.svc not in ("cas", "vault"):
            print(USAGE, file=sys.stderr)
            error_exit("Please specify a valid SVC")
        if self.svc == "cas" and len(self.name) > 15:
            error_exit("Name of the cas must not be longer than 15 characters")
        if o.force and not o.upgrade:
            error_exit("--force can only be used together with --upgrade")
        if o.no_backup and o.wait:
            error_exit("--no-backup cannot be combined with --wait")
        self.prerequisites()
        if self.dcap == DEFAULT_DCAP:
            warning("You are using the default DCAP API key. Please specify your own key with --dcap-api")
        if self.svc == "vault":
            return self.vault()
        if o.recovery_dir:
            return self.recovery()
        cr = self.cluster.get("cas", self.ns, self.name)
        if o.print_keys:
            return self.print_keys(cr)
        if o.is_provisioned:
            db = self.load_db(self.name, self.ns) if cr else None
            if db and db["provisioned"]:
                print("YES")
                return 0
            print("provisioned session not found")
            print("NO")
            return 1
        if o.verify:
            db = self.load_db(self.name, self.ns) if cr else None
            if db and db["provisioned"]:
                print(f"CAS '{self.name}' in namespace '{self.ns}' is attestable and provisioned.")
                return 0
            error_exit(f"CAS '{self.name}' in namespace '{self.ns}' is not attestable or not provisioned.")
        if o.local_backup:
            return self.local_backup(cr)
        if o.upgrade:
            return self.upgrade(cr, o.upgrade)
        return self.provision(cr)

    def print_keys(self, cr: dict[str, Any] | None) -> int:
        if cr is None:
            error_exit(f"CAS '{self.name}' in namespace '{self.ns}' does not exist")
        db = self.load_db(self.name, self.ns)
        for key, value in db["keys"].items():
            print(f'export {key}="{value}"')
        print(f'export CAS_CERT="{db["cert"]}"')
        return 0

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

    def provision(self, cr: dict[str, Any] | None) -> int:
        expected = self.image("cas")
        owner_config = self.target / "owner-config"
        owner_config.mkdir(parents=True, exist_ok=True)
        if cr is None:
            if self.cluster.get("persistentvolumeclaims", self.ns, f"database-{self.name}-0") is not None:
                warning(
                    f"CAS '{self.name}' does not exist but its volume 'database-{self.name}-0' does. "
                    "Not overwriting an existing database."
                )
                return 1
            manifest = {
                "apiVersion": "services.scone.cloud/v1beta1",
                "kind": "CAS",
                "metadata": {"name": self.name, "namespace": self.ns},
                "spec": {
                    "image": expected,
                    "imagePullSecrets": [{"name": "sconeapps"}],
                    "service": {"type": "NodePort"},
                    "imagePullPolicy": "Always",
                    "persistence": {"enabled": True},
                    "databaseSnapshots": {"enabled": True, "interval": "24h0m0s", "persistence": {"enabled": True}},
                    "podAnnotations": {"sconeapps/inject-pull-secret": "true"},
                    "backup-controller": {"enabled": False},
                },
            }
            (owner_config / f"cas-{self.ns}-{self.name}-{self.version}-provisioning-step.yaml").write_text(
                json.dumps(manifest, indent=2)
            )
            self.db_file(self.name, self.ns).unlink(missing_ok=True)  # a new CAS starts with a new database
            self.cluster.create("cas", self.ns, manifest)
        else:
            actual = cr.get("spec", {}).get("image", "")
            if actual != expected:
                error_exit(
                    f"CAS '{self.name}' runs image '{actual}' but expected '{expected}'. "
                    "Use --set-version to select the version CAS runs."
                )
            self.verbose(f"CAS '{self.name}' exists - trying to provision it")
        db = self.load_db(self.name, self.ns)
        if db["provisioned"]:
            print(f"The CAS {self.name} in namespace {self.ns} is already provisioned. Nothing more to do.")
            return 0
        (owner_config / "config.toml").write_text(
            f'enclave_reconnect_timeout = "24h"\n[api_identity]\ncommon_name = "{self.name}"\n[dcap]\n'
            f'subscription_key = "{self.dcap}"\n[audit_log]\nmode = "signed"\nsink = "file"\n'
        )
        if db["owner_id"] and db["owner_id"] != self.owner_identity():
            error_exit("Provisioning of CAS failed! FATAL ERROR")
        db["owner_id"] = self.write_identity()
        identity = self.target / "identity"
        (identity / f"cas-owner-session-{self.name}-{self.ns}.yaml").write_text("name: cas-owner\n")
        (identity / "backup-controller-session-cas-owner_primary-backup.yaml").write_text(
            "name: cas-owner/primary-backup\n"
        )
        (identity / "provisioned.yaml").write_text("name: provisioned\n")
        db["policies"] = ["cas-owner", "cas-owner/primary-backup", "provisioned"]
        db["provisioned"] = True
        db["version"] = self.version
        self.save_db(self.name, self.ns, db)
        print("Exit: 0")
        for key, value in db["keys"].items():
            print(f"PUBLIC {key}={value}")
        self.patch_probes_and_backup()
        final = self.cluster.get("cas", self.ns, self.name)
        (owner_config / f"cas-{self.ns}-{self.name}-{self.version}-manifest.yaml").write_text(
            json.dumps(final, indent=2)
        )
        return 0

    def upgrade(self, cr: dict[str, Any] | None, new: str) -> int:
        if cr is None:
            error_exit(f"CAS '{self.name}' in namespace '{self.ns}' does not exist")
        if not re.fullmatch(r"\d+\.\d+\.\d+(-rc\.\d+)?", new):
            error_exit(f"Cannot fetch manifests for version '{new}'")
        spec = cr.get("spec", {})
        if not self.opts.force:
            if image_tag(spec.get("image", "")) != self.version:
                error_exit(
                    f"CAS image '{spec.get('image')}' does not match VERSION={self.version}; "
                    "specify the current version with --set-version"
                )
            if cr.get("status", {}).get("state") != "HEALTHY":
                error_exit(f"CAS '{self.name}' is not HEALTHY - use --force to upgrade anyway")
        if not spec.get("backup-controller", {}).get("session"):
            error_exit("spec.backup-controller.session is not set - was this CAS provisioned?")
        db = self.load_db(self.name, self.ns)
        owner = self.owner_identity()
        if owner is None or owner != db.get("owner_id"):
            error_exit(
                "Failed to read policy cas-owner/primary-backup: the owner identity in "
                f"{self.target}/identity/config.json is missing or not the CAS owner"
            )
        (self.target / "identity" / "session.tmp").write_text("name: cas-owner/primary-backup\n")
        owner_config = self.target / "owner-config"
        owner_config.mkdir(parents=True, exist_ok=True)
        backup = {**spec.get("backup-controller", {}), "image": f"{self.repo}/{self.prefix}backup-controller:{new}"}
        (owner_config / f"cas-{self.ns}-{self.name}-{new}-input.json").write_text(json.dumps(cr, indent=2))
        self.cluster.patch_json(
            "cas", self.ns, self.name, [{"op": "replace", "path": "/spec/backup-controller", "value": backup}]
        )
        self.verbose("waiting for migration ...")
        self.cluster.patch_json(
            "cas", self.ns, self.name, [{"op": "replace", "path": "/spec/image", "value": self.image("cas", new)}]
        )
        db["version"] = new
        self.save_db(self.name, self.ns, db)
        final = self.cluster.get("cas", self.ns, self.name)
        (owner_config / f"cas-{self.ns}-{self.name}-{new}-manifest.json").write_text(json.dumps(final, indent=2))
        print(f"CAS '{self.name}' in namespace '{self.ns}' upgraded to {new}")
        return 0

    def local_backup(self, cr: dict[str, Any] | None) -> int:
        if cr is None:
            error_exit(f'pods "{self.name}-0" not found')
        db = self.load_db(self.name, self.ns)
        out = Path.cwd() / "cas-database-snapshots" / f"{self.name}-{self.ns}-last-snapshot-db"
        if out.exists():
            bak = out.with_name(out.name + ".bak")
            if bak.exists():
                shutil.rmtree(bak)
            out.rename(bak)
        if self.copy_nothing:
            print(
                "tar: Removing leading `/' from member names\n"
                "tar: /var/mnt/cas-database-snapshots/last-completed: Cannot stat: No such file or directory\n"
                "tar: Exiting with failure status due to previous errors",
                file=sys.stderr,
            )
            return 0
        out.mkdir(parents=True)
        (out / "cas.db").write_text(json.dumps(db))
        key_store = "" if self.cut_short else hashlib.sha256(json.dumps(db["keys"]).encode()).hexdigest()
        (out / "cas.key-store").write_text(key_store)
        print(f"tar: Removing leading `/' from member names\nbackup written to {out}")
        return 0

    def recovery(self) -> int:
        snapshot = Path(self.opts.recovery_dir)
        if not snapshot.is_dir():
            error_exit(f"Snapshot directory '{snapshot}' does not exist")
        if self.cluster.get("cas", self.ns, self.name) is not None:
            error_exit(
                "The target CAS of a recovery must not exists. Please specify a different CAS name and namespace"
            )
        if self.cluster.get("persistentvolumeclaims", self.ns, f"database-{self.name}-0") is not None:
            error_exit(f"The volume database-{self.name}-0 of the target CAS of a recovery must not exist")
        for required in ("cas.db", "cas.key-store"):
            if not (snapshot / required).is_file():
                error_exit(f"'{snapshot / required}' not found: a snapshot holds cas.db and cas.key-store")
        db = json.loads((snapshot / "cas.db").read_text())
        manifest = {
            "apiVersion": "services.scone.cloud/v1beta1",
            "kind": "CAS",
            "metadata": {"name": self.name, "namespace": self.ns},
            "spec": {
                "image": self.image("cas-recovery"),
                "persistence": {"enabled": True},
                "backup-controller": {"enabled": False},
            },
        }
        self.cluster.create("cas", self.ns, manifest)
        self.save_db(self.name, self.ns, db)
        Path(".tmp.x").write_text("")
        Path(".tmp.y").write_text("")
        if self.owner_identity() != db.get("owner_id") or not db.get("provisioned"):
            error_exit(
                "Failed to read session 'provisioned' with the owner identity in "
                f"{self.target}/identity - recovery FAILED"
            )
        self.patch_probes_and_backup()
        print(f"CAS '{self.name}' in namespace '{self.ns}' recovered from {snapshot}")
        return 0

    def vault(self) -> int:
        o = self.opts
        cas_ref = o.cas or "cas"
        cas_name, _, cas_ns = cas_ref.partition(".")
        cas_ns = cas_ns or self.ns
        existing = self.cluster.get("vaults", self.ns, self.name)
        if o.verify:
            if existing and existing.get("status", {}).get("state") == "HEALTHY":
                print(f"Vault '{self.name}' in namespace '{self.ns}' verified.")
                return 0
            error_exit(f"Vault '{self.name}' in namespace '{self.ns}' could not be verified")
        if existing is not None:
            error_exit("We currently do not support re-provisioning an existing vault")
        cas_cr = self.cluster.get("cas", cas_ns, cas_name)
        if cas_cr is None or not self.load_db(cas_name, cas_ns)["provisioned"]:
            error_exit(f"CAS '{cas_name}' in namespace '{cas_ns}' is not provisioned")
        owner_id = f"{secrets.randbelow(32768)}{secrets.randbelow(32768)}"
        policies = self.target / "vault_policies"
        policies.mkdir(parents=True, exist_ok=True)
        (policies / f"scone-vault-image-mrenclaves-{owner_id}.yaml").write_text("name: mrenclaves\n")
        self.cluster.create(
            "vaults",
            self.ns,
            {
                "apiVersion": "services.scone.cloud/v1beta1",
                "kind": "Vault",
                "metadata": {"name": self.name, "namespace": self.ns},
                "spec": {"image": self.image("vault"), "server": {"casAddress": f"{cas_name}.{cas_ns}"}},
            },
        )
        print(f"vault.services.scone.cloud/{self.name} created")
        return 0


# -- test hooks ------------------------------------------------------------------------------------
def log_call(argv: list[str]) -> None:
    path = os.environ.get("FAKE_SCONE_CALL_LOG")
    if not path:
        return
    dcap = os.environ.get("DCAP_KEY")
    snapshots = Path.cwd() / "cas-database-snapshots"
    record = {
        "argv": argv,
        "cwd": os.getcwd(),
        "pid": os.getpid(),
        "time": datetime.datetime.now(datetime.UTC).isoformat(),
        "env": {k: os.environ.get(k) for k in ("VERSION", "IMAGE_REPO", "IMAGE_PREFIX", "TARGET_DIR", "NAMESPACE")},
        "dcap_key_sha256": hashlib.sha256(dcap.encode()).hexdigest() if dcap else None,
        "cwd_snapshots": sorted(p.name for p in snapshots.iterdir()) if snapshots.is_dir() else [],
    }
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record) + "\n")


def injected_rule(argv: list[str]) -> dict[str, Any] | None:
    path = os.environ.get("FAKE_SCONE_CONTROL")
    if not path or not os.path.exists(path):
        return None
    joined = " ".join(argv)
    with open(path, "r+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        control = json.load(handle)
        for rule in control.get("rules", []):
            hit = joined == rule.get("match") if rule.get("exact") else rule.get("match", "") in joined
            if hit and rule.get("times", 1) != 0:
                if "times" in rule:
                    rule["times"] -= 1
                handle.seek(0)
                handle.truncate()
                json.dump(control, handle)
                return dict(rule)
    return None


def main(argv: list[str]) -> int:
    log_call(argv)
    rule = injected_rule(argv)
    if rule and rule["action"] == "fail":
        print("Exit: 1", flush=True)
        # "{DCAP_KEY}" in a message echoes the key, as `--debug` (set -x) output would: redaction tests use it.
        message = str(rule.get("message", "injected failure")).replace("{DCAP_KEY}", os.environ.get("DCAP_KEY", ""))
        print(f"{RED}ERROR: {message}{RESET}", file=sys.stderr)
        print(f'{RED}"scone cas provision" command failed - exiting.{RESET}', file=sys.stderr)
        return int(rule.get("exit", 1))
    if rule and rule["action"] == "hang":
        print("waiting for CAS ...", flush=True)
        while True:  # upstream's waits have no timeout
            time.sleep(3600)
    try:
        if rule and rule["action"] == "cp-nothing":
            plugin = Plugin(parse(argv), dict(os.environ))
            plugin.copy_nothing = True
            return plugin.run()
        if rule and rule["action"] == "partial":
            import contextlib
            import io

            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                plugin = Plugin(parse(argv), dict(os.environ))
                plugin.cut_short = True
                plugin.run()
            lines = buffer.getvalue().splitlines(keepends=True)
            sys.stdout.write("".join(lines[: len(lines) // 2]))
            return int(rule.get("exit", 0))
        return Plugin(parse(argv), dict(os.environ)).run()
    except Exit as stop:
        return stop.code
