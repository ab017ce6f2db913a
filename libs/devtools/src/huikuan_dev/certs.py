"""Certificates for tests that speak TLS: a throw-away certificate authority and server
certificates it signs, written as PEM files (`cryptography`), so a test can run a server
with TLS and a client that verifies it (`sslmode=verify-full`, `sslrootcert=` the CA)
without anything from outside the test."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALID = timedelta(days=2)


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA's key and self-signed certificate; `cert` is its PEM file (a client's root)."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    cert: Path

    def issue(self, directory: Path, name: str, hosts: Sequence[str]) -> ServerCertificate:
        """A server certificate for `hosts` (IP addresses or DNS names, its only subject
        alternative names), written to `<name>.crt` and `<name>.key` in `directory`."""
        key = ec.generate_private_key(ec.SECP256R1())
        names: list[x509.GeneralName] = [_general_name(host) for host in hosts]
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + _VALID)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        cert, key_file = directory / f"{name}.crt", directory / f"{name}.key"
        cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        _write_key(key_file, key)
        return ServerCertificate(cert=cert, key=key_file, ca=self.cert)


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """PEM files: the server's certificate, its private key, and the CA that signed it."""

    cert: Path
    key: Path
    ca: Path


def certificate_authority(directory: Path, name: str = "ca") -> CertificateAuthority:
    """A new CA, its certificate written to `<name>.crt` in `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"huikuan test {name}")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + _VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert = directory / f"{name}.crt"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return CertificateAuthority(key=key, certificate=certificate, cert=cert)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    """The key readable by its owner only (PostgreSQL refuses a key others may read)."""
    path.touch(mode=0o600, exist_ok=False)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
