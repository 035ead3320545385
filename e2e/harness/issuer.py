"""A CA that signs serving certificates in-process, as cert-manager's CA issuer would.

Why not the ``openssl`` CLI (``pki``): the operator's webhook certificate must be issued, served
and its CA injected before the program's first CR write after the chart's install, which follows
the operator Deployment's readiness within a second or two; two ``openssl`` runs on a loaded
machine can take longer. Signing with ``cryptography`` takes milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID = datetime.timedelta(days=30)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


class Issuer:
    """A self-signed CA; ``issue`` writes ``<name>.crt`` / ``<name>.key`` into ``directory``."""

    def __init__(self, directory: Path, common_name: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # One serving key for every certificate this CA issues: made once, signing alone is fast.
        self._serving_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.datetime.now(datetime.UTC)
        self._cert = (
            x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(_name(common_name))
            .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.ca_pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self.ca_cert = directory / "ca.crt"
        self.ca_cert.write_bytes(self.ca_pem)

    def issue(self, name: str, common_name: str, dns_names: Sequence[str]) -> tuple[Path, Path]:
        """A serving certificate for ``dns_names`` and 127.0.0.1, signed by this CA."""
        now = datetime.datetime.now(datetime.UTC)
        sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        sans += [x509.DNSName(dns) for dns in dns_names]
        cert = (
            x509.CertificateBuilder().subject_name(_name(common_name)).issuer_name(self._cert.subject)
            .public_key(self._serving_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        crt, key = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(_pem_key(self._serving_key))
        key.chmod(0o600)
        return crt, key
