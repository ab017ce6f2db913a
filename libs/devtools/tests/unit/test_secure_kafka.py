"""The SASL_SSL test broker's certificates and parameters, without starting a broker (the
broker itself is exercised by tests/e2e/test_kafka_sasl_ssl.py)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from huikuan_dev.secure_kafka import SaslSslBroker, issue_tls


def test_the_broker_certificate_is_signed_by_the_ca_for_every_host(tmp_path: Path) -> None:
    files = issue_tls(tmp_path, ["10.77.0.2", "kafka.test"])
    ca = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
    keystore = files.keystore_file.read_bytes()
    leaf, chained_ca = x509.load_pem_x509_certificates(keystore)

    leaf.verify_directly_issued_by(ca)
    assert chained_ca == ca
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.77.0.2")]
    assert names.get_values_for_type(x509.DNSName) == ["kafka.test"]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # Kafka's PEM keystore reads an unencrypted PKCS#8 key ("BEGIN PRIVATE KEY").
    assert keystore.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = load_pem_private_key(keystore, password=None)
    assert key.public_key() == leaf.public_key()
    assert files.keystore_file.stat().st_mode & 0o077 == 0


def test_the_broker_takes_its_addresses_and_refuses_what_kafka_would_misread(
    tmp_path: Path,
) -> None:
    broker = SaslSslBroker(
        tmp_path,
        tmp_path,
        users={"huikuan": "s3cret"},
        listen_host="0.0.0.0",
        advertised_host="10.77.0.2",
        port=19999,
    )
    assert broker.bootstrap_servers == "10.77.0.2:19999"
    assert broker.client_env("huikuan")["KAFKA_SSL_CAFILE"] == str(tmp_path / "tls" / "ca.pem")
    with pytest.raises(ValueError, match="advertised_host"):
        SaslSslBroker(tmp_path, tmp_path, users={}, listen_host="0.0.0.0")
    with pytest.raises(ValueError, match="broker's own"):
        SaslSslBroker(tmp_path, tmp_path, users={"broker": "x"})
    with pytest.raises(ValueError, match="letters, digits"):
        SaslSslBroker(tmp_path, tmp_path, users={"huikuan": "a,b]"})
