"""The fake kubectl-provision's command line: upstream 5.8.0's flags, argument errors, exit and colours.

Why apart: ``kubectl provision SVC [NAME] [options]`` is parsed exactly as upstream's shell loop does
(``--upgrade`` only after the service word, unknown flags and extra words refused); the operations in
``fake_provision`` and ``provision_base`` share these helpers.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

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
