"""Certificates for the local control plane, made with the real `openssl` CLI.

Why: kube-apiserver must serve TLS and authenticate the admin and the controllers;
a private CA per cluster keeps every run self-contained (nothing is trusted
outside the run's work directory) and lets kubeconfigs verify the server instead of
skipping TLS verification.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path


class PkiError(RuntimeError):
    """openssl failed; the message carries its stderr."""


@dataclass(frozen=True)
class Pki:
    """Paths of everything the control plane and its clients need."""

    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    admin_cert: Path
    admin_key: Path
    sa_key: Path
    sa_pub: Path


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise PkiError(f"openssl {' '.join(args[:2])} failed: {proc.stderr.strip()}")


def _signed_cert(d: Path, name: str, subject: str, ext: str | None) -> None:
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=d)
    args = ["x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "30", "-sha256", "-out", f"{name}.crt"]
    if ext is not None:
        (d / f"{name}.ext").write_text(ext)
        args += ["-extfile", f"{name}.ext"]
    _openssl(*args, cwd=d)


def make_pki(directory: Path) -> Pki:
    """Create a CA, the API server's serving cert (loopback only), an admin client
    cert in group system:masters, and the service-account signing key pair."""
    d = directory
    d.mkdir(parents=True, exist_ok=True)
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=d)
    _openssl("req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=scone-e2e-ca", "-days", "30",
             "-out", "ca.crt", cwd=d)
    _signed_cert(
        d, "apiserver", "/CN=kube-apiserver",
        "subjectAltName=IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n",
    )
    _signed_cert(d, "admin", "/O=system:masters/CN=scone-e2e-admin",
                 "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n")
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)
    for p in d.glob("*.key"):
        p.chmod(0o600)
    return Pki(
        ca_cert=d / "ca.crt", ca_key=d / "ca.key",
        server_cert=d / "apiserver.crt", server_key=d / "apiserver.key",
        admin_cert=d / "admin.crt", admin_key=d / "admin.key",
        sa_key=d / "sa.key", sa_pub=d / "sa.pub",
    )
