"""The Kafka security settings become faststream's security object and the same options for direct clients."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from pydantic import SecretStr

from kc_runtime.kafka import KafkaSecurityError, client_options, create_broker, kafka_security
from kc_runtime.settings import ServiceSettings


def settings(**kw) -> ServiceSettings:
    return ServiceSettings(kafka_bootstrap_servers="kafka:9093", **kw)


def sasl(protocol: str, mechanism: str = "SCRAM-SHA-512", **kw) -> ServiceSettings:
    return settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_sasl_username="approval",
        kafka_sasl_password=SecretStr("s3cret"),
        **kw,
    )


def test_plaintext_is_the_default_and_has_no_security_object():
    assert ServiceSettings().kafka_security_protocol == "PLAINTEXT"
    assert kafka_security(settings()) is None
    assert client_options(settings()) == {"bootstrap_servers": "kafka:9093"}


@pytest.mark.parametrize(
    ("mechanism", "cls"), [("PLAIN", SASLPlaintext), ("SCRAM-SHA-256", SASLScram256), ("SCRAM-SHA-512", SASLScram512)]
)
def test_sasl_over_tls_gives_the_mechanisms_security_object_with_a_verifying_tls_context(mechanism, cls):
    security = kafka_security(sasl("SASL_SSL", mechanism))
    assert type(security) is cls
    assert (security.username, security.password) == ("approval", "s3cret")
    assert security.use_ssl
    assert security.ssl_context.verify_mode == ssl.CERT_REQUIRED and security.ssl_context.check_hostname


def test_sasl_without_tls_authenticates_in_plaintext():
    options = client_options(sasl("SASL_PLAINTEXT"))
    assert options["security_protocol"] == "SASL_PLAINTEXT"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("approval", "s3cret")
    assert options["ssl_context"] is None


def test_tls_only_gives_a_base_security_object_with_ssl():
    security = kafka_security(settings(kafka_security_protocol="SSL"))
    assert type(security) is BaseSecurity and security.use_ssl
    assert client_options(settings(kafka_security_protocol="SSL"))["security_protocol"] == "SSL"


def test_the_ca_file_is_what_the_brokers_certificates_are_verified_against(tmp_path: Path):
    import certifi  # a CA bundle that exists on every machine with httpx

    security = kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=certifi.where()))
    assert security.ssl_context.cert_store_stats()["x509_ca"] > 0
    with pytest.raises(FileNotFoundError):
        kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_ca_file=str(tmp_path / "missing.pem")))


def test_sasl_without_credentials_is_refused_at_start():
    with pytest.raises(KafkaSecurityError, match="kafka_sasl_username"):
        kafka_security(settings(kafka_security_protocol="SASL_SSL"))


def test_a_client_key_without_its_certificate_is_refused():
    with pytest.raises(KafkaSecurityError, match="kafka_ssl_cert_file"):
        kafka_security(settings(kafka_security_protocol="SSL", kafka_ssl_key_file="/x/key.pem"))


def test_the_password_is_a_secret_in_the_settings_and_read_from_the_environment(monkeypatch):
    monkeypatch.setenv("KC_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KC_KAFKA_SASL_USERNAME", "users")
    monkeypatch.setenv("KC_KAFKA_SASL_PASSWORD", "from-the-secret")
    s = ServiceSettings()
    assert "from-the-secret" not in repr(s)
    assert kafka_security(s).password == "from-the-secret"


def test_the_brokers_producer_and_consumers_connect_with_the_settings_security():
    broker = create_broker(sasl("SASL_SSL"))
    expected = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "approval",
        "sasl_plain_password": "s3cret",
    }
    producer = broker._connection_kwargs  # what faststream connects its producer with
    consumers = broker.config.broker_config.builder.keywords  # what it builds every consumer with
    for options in (producer, consumers):
        assert {k: options[k] for k in expected} == expected
        assert isinstance(options["ssl_context"], ssl.SSLContext)
