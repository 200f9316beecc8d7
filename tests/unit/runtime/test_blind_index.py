"""Blind indexes (ADR 0035 decision 4): an index id is a keyed hash of the value, unrelated to its uuid5, different
under another secret or namespace; the secret comes from ``<PREFIX>INDEX_SECRET``, a development secret in the
development profile only, and a service outside it does not start without one."""

from __future__ import annotations

import hashlib
import hmac
from uuid import NAMESPACE_URL, UUID, uuid5

import pytest
from pydantic import SecretStr

from kc_runtime.blind_index import (
    DEVELOPMENT_INDEX_SECRET,
    MIN_SECRET_BYTES,
    BlindIndex,
    IndexSecretMissing,
    blind_id,
    index_secret,
)
from kc_runtime.settings import ServiceSettings

SECRET = b"s" * MIN_SECRET_BYTES


def test_the_id_is_the_hmac_sha256_of_namespace_and_value_as_a_version_8_uuid():
    found = blind_id(SECRET, "svc/email", "lea@example.com")
    digest = hmac.new(SECRET, b"svc/email\x00lea@example.com", hashlib.sha256).digest()
    assert found.version == 8 and found.variant == "specified in RFC 4122"
    assert found.int >> 80 == int.from_bytes(digest[:6]) and found.bytes[10:] == digest[10:16]


def test_the_id_is_stable_and_not_the_uuid5_of_the_value():
    value = "lea@example.com"
    assert blind_id(SECRET, "svc/email", value) == blind_id(SECRET, "svc/email", value)
    assert blind_id(SECRET, "svc/email", value) not in {
        uuid5(NAMESPACE_URL, value),
        uuid5(uuid5(NAMESPACE_URL, "svc"), value),
    }


def test_another_secret_namespace_or_value_gives_another_id():
    ids = {
        blind_id(SECRET, "svc/email", "lea@example.com"),
        blind_id(b"t" * MIN_SECRET_BYTES, "svc/email", "lea@example.com"),
        blind_id(SECRET, "other/email", "lea@example.com"),
        blind_id(SECRET, "svc/email", "lia@example.com"),
        blind_id(SECRET, "svc/emai", "l\x00lea@example.com"),  # the separator is not part of either
    }
    assert len(ids) == 5


def test_a_short_secret_or_a_namespace_with_nul_is_refused():
    with pytest.raises(ValueError, match="32 bytes"):
        blind_id(b"short", "svc/email", "x")
    with pytest.raises(ValueError, match="NUL"):
        BlindIndex(SECRET, "svc\x00email")
    with pytest.raises(ValueError, match="32 bytes"):
        BlindIndex(b"short", "svc/email")


def test_an_index_gives_the_ids_of_its_namespace_and_never_shows_its_secret():
    index = BlindIndex(SECRET, "svc/email")
    assert index.id("lea@example.com") == blind_id(SECRET, "svc/email", "lea@example.com")
    assert isinstance(index.id(""), UUID)
    assert SECRET.decode() not in repr(index) and SECRET.decode() not in str(vars(index).get("namespace"))


def test_the_secret_is_the_configured_one_else_a_development_secret_in_development_only():
    configured = "c" * 40
    assert (
        index_secret(ServiceSettings(index_secret=SecretStr(configured), profile="production")) == configured.encode()
    )
    assert index_secret(ServiceSettings(profile="development")) == DEVELOPMENT_INDEX_SECRET
    assert index_secret(ServiceSettings(index_secret=SecretStr(""), profile="development")) == DEVELOPMENT_INDEX_SECRET
    with pytest.raises(IndexSecretMissing, match="INDEX_SECRET"):
        index_secret(ServiceSettings(profile="production"))


def test_a_configured_secret_that_is_too_short_is_refused_in_every_profile():
    for profile in ("development", "production"):
        with pytest.raises(IndexSecretMissing, match="fewer than 32 bytes") as refused:
            index_secret(ServiceSettings(index_secret=SecretStr("too-short"), profile=profile))
        assert "too-short" not in str(refused.value)


def test_each_service_reads_its_secret_under_its_own_prefix(monkeypatch):
    monkeypatch.setenv("APPROVAL_INDEX_SECRET", "a" * 48)
    monkeypatch.setenv("APPROVAL_PROFILE", "production")
    settings = ServiceSettings.under("APPROVAL_")
    assert index_secret(settings) == b"a" * 48
    with pytest.raises(IndexSecretMissing, match="NOTIFICATIONS_INDEX_SECRET"):
        index_secret(ServiceSettings.under("NOTIFICATIONS_").model_copy(update={"profile": "production"}))


def test_the_approval_and_notifications_services_refuse_to_start_in_production_without_it(monkeypatch):
    from approval.main import create_app as approval_app
    from approval.settings import ApprovalSettings
    from notifications.main import create_app as notifications_app
    from notifications.settings import NotificationsSettings

    for app, settings in ((approval_app, ApprovalSettings), (notifications_app, NotificationsSettings)):
        production = settings(
            profile="production", ops_token=SecretStr("o" * 40), decision_link_secret=SecretStr("d" * 40)
        )
        with pytest.raises(IndexSecretMissing, match="INDEX_SECRET"):
            app(production, caller=lambda: None)
