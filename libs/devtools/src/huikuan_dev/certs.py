"""Certificates for test servers that speak TLS, made here with `cryptography` (EC P-256):
a throw-away certificate authority and the server certificates it signs, so a test can run
a server with TLS and clients that verify it (`sslmode=verify-full`, `KAFKA_SSL_CAFILE`)
without anything from outside the test. The SASL_SSL broker (`huikuan_dev.secure_kafka`)
and the PostgreSQL and PgBouncer of `huikuan_dev.pgservers` take theirs from here.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAYS = 30


@dataclass(frozen=True, slots=True)
class Issued:
    """A certificate and its private key."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        """The key unencrypted, in PKCS#8 (`BEGIN PRIVATE KEY`): what PostgreSQL, PgBouncer
        and Kafka's PEM keystore read."""
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA: its key signs the certificates of `issue`."""

    own: Issued

    @classmethod
    def new(cls, common_name: str = "Huikuan test CA", *, days: int = DAYS) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(common_name)
        certificate = (
            _builder(name, key, days)
            .issuer_name(name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
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
            .sign(key, hashes.SHA256())
        )
        return cls(Issued(key, certificate))

    def cert_pem(self) -> bytes:
        """The CA's certificate: what clients trust."""
        return self.own.cert_pem()

    def issue(self, hosts: Sequence[str], *, client_auth: bool = False, days: int = DAYS) -> Issued:
        """A server certificate for `hosts` (IP addresses or DNS names, as clients dial
        them: its only subject alternative names); `client_auth` lets it be presented as
        a client too (a broker connecting to its own listener)."""
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.SERVER_AUTH]
        if client_auth:
            usages.append(ExtendedKeyUsageOID.CLIENT_AUTH)
        certificate = (
            _builder(_name(hosts[0]), key, days)
            .issuer_name(self.own.certificate.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_subject_alt_names(hosts), critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.own.key.public_key()),
                critical=False,
            )
            .sign(self.own.key, hashes.SHA256())
        )
        return Issued(key, certificate)


@dataclass(frozen=True, slots=True)
class ServerFiles:
    """PEM files of a server: the CA that signed it, its certificate and its key."""

    ca: Path
    cert: Path
    key: Path


def server_files(directory: Path, hosts: Sequence[str], name: str = "server") -> ServerFiles:
    """A new CA and a certificate it signs for `hosts`, written to `directory` as `ca.crt`,
    `<name>.crt` and `<name>.key` (readable by its owner only: PostgreSQL refuses a key
    others may read)."""
    ca = CertificateAuthority.new()
    server = ca.issue(hosts)
    directory.mkdir(parents=True, exist_ok=True)
    files = ServerFiles(directory / "ca.crt", directory / f"{name}.crt", directory / f"{name}.key")
    files.ca.write_bytes(ca.cert_pem())
    files.cert.write_bytes(server.cert_pem())
    write_private(files.key, server.key_pem())
    return files


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file only its owner may read (never readable by others, even for
    a moment)."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as file:
        file.write(data)
    path.chmod(0o600)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(
    subject: x509.Name, key: ec.EllipticCurvePrivateKey, days: int
) -> x509.CertificateBuilder:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def _subject_alt_names(hosts: Sequence[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)
