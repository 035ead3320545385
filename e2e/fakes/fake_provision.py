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
  harness's kube-apiserver or e2e/fakes/apiserver.py) or ``dir`` (``FAKE_SCONE_CLUSTER_DIR``, the
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

import contextlib
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from components.live_cluster import image_tag
from e2e.fakes.provision_base import PluginBase
from e2e.fakes.provision_cli import DEFAULT_DCAP, PLUGIN_VERSION, RED, RESET, USAGE, Exit, error_exit, parse, warning
from e2e.fakes.provision_hooks import injected_rule, log_call


class Plugin(PluginBase):
    """The operations, one method each, as upstream runs them after its checks."""

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
