"""Every Kafka client takes TLS and SASL from the settings (one KafkaConnection), topics are
created with the settings' partitions, replication, min.insync.replicas and retention (dead
letters kept longer), in the deployment's namespace (`KAFKA_TOPIC_PREFIX`), and settings
that cannot work refuse to start."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from huikuan_events.topics import all_topics
from huikuan_runtime.kafka import NO_PREFIX, KafkaConnection, TopicLayout, make_producer
from huikuan_runtime.settings import ServiceSettings


async def test_plaintext_by_default_and_a_bare_address_is_plaintext() -> None:
    settings = ServiceSettings()
    assert settings.kafka.options() == {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "security_protocol": "PLAINTEXT",
    }
    producer = make_producer("127.0.0.1:9", "t")
    assert producer.client._security_protocol == "PLAINTEXT"


def test_sasl_ssl_with_scram_reaches_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "huikuan")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-s3cret")
    settings = ServiceSettings()
    options = settings.kafka.options()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"]) == (
        "SCRAM-SHA-512",
        "huikuan",
    )
    assert options["sasl_plain_password"] == "s3cret-s3cret"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert "s3cret" not in repr(settings.kafka)  # the password stays out of logs


def test_settings_that_cannot_work_refuse_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    with pytest.raises(ValidationError, match="needs KAFKA_SASL_MECHANISM"):
        ServiceSettings()
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "GSSAPI")
    with pytest.raises(ValidationError, match=r"KAFKA_SASL_MECHANISM|kafka_sasl_mechanism"):
        ServiceSettings()
    monkeypatch.delenv("KAFKA_SASL_MECHANISM")
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "2")
    with pytest.raises(ValidationError, match="cannot exceed KAFKA_TOPIC_REPLICATION_FACTOR"):
        ServiceSettings()


def test_topics_are_laid_out_as_configured_and_dead_letters_kept_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_PARTITIONS", "12")
    monkeypatch.setenv("KAFKA_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("KAFKA_TOPIC_MIN_INSYNC_REPLICAS", "2")
    layout: TopicLayout = ServiceSettings().topic_layout
    events = layout.new_topic("ledger.events.v1")
    assert (events.num_partitions, events.replication_factor) == (12, 3)
    assert events.topic_configs == {
        "min.insync.replicas": "2",
        "retention.ms": str(7 * 24 * 3600 * 1000),
    }
    dead = layout.new_topic("credit.dlq.v1")
    assert dead.topic_configs["retention.ms"] == str(90 * 24 * 3600 * 1000)


def test_a_connection_is_a_value() -> None:
    assert KafkaConnection("a:1") == KafkaConnection("a:1")


def test_without_a_prefix_every_name_is_as_it_was() -> None:
    settings = ServiceSettings(service_name="credit")
    namespace = settings.kafka_namespace
    assert namespace == NO_PREFIX
    assert namespace.all_topics == all_topics()
    assert namespace.topic("ledger.events.v1") == "ledger.events.v1"
    assert namespace.logical("ledger.events.v1") == "ledger.events.v1"
    assert settings.consumer_group == "credit"


def test_a_prefix_puts_every_topic_and_group_in_the_deployments_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", "eu.staging")
    settings = ServiceSettings(service_name="credit")
    namespace = settings.kafka_namespace
    assert namespace.all_topics == tuple(f"eu.staging.{t}" for t in all_topics())
    assert namespace.topics(("ledger.events.v1", "credit.events.v1")) == (
        "eu.staging.ledger.events.v1",
        "eu.staging.credit.events.v1",
    )
    assert namespace.dead_letter_topic("credit") == "eu.staging.credit.dlq.v1"
    assert settings.consumer_group == "eu.staging.credit"
    assert ServiceSettings(service_name="credit", group_suffix="b").consumer_group == (
        "eu.staging.credit-b"
    )
    # and back: the logical name of a topic of the namespace, None for any other
    assert namespace.logical("eu.staging.credit.dlq.v1") == "credit.dlq.v1"
    for foreign in ("credit.dlq.v1", "eu.credit.dlq.v1", "eu.stagingx.credit.dlq.v1"):
        assert namespace.logical(foreign) is None, foreign
    assert namespace.logical("eu.staging.") is None


@pytest.mark.parametrize("prefix", ["a b", ".staging", "staging.", "a..b", "x/y", "é"])
def test_a_prefix_kafka_cannot_name_topics_with_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, prefix: str
) -> None:
    monkeypatch.setenv("KAFKA_TOPIC_PREFIX", prefix)
    with pytest.raises(ValidationError, match=r"kafka_topic_prefix|KAFKA_TOPIC_PREFIX"):
        ServiceSettings()
