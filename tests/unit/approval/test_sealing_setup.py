"""approval's event store seals with keys from users (ADR 0035): the composition root gives Orders a key ring fed by
users' internal endpoint, and outside the development profile approval refuses to start without the token for it."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from approval.application.orders import Orders
from approval.main import create_app
from approval.settings import ApprovalSettings
from kc_runtime.person_keys import UsersInternalTokenMissing


def production(**fields: object) -> ApprovalSettings:
    return ApprovalSettings(
        profile="production", ops_token=SecretStr("o" * 40), decision_link_secret=SecretStr("d" * 40),
        index_secret=SecretStr("i" * 40), **fields,
    )  # fmt: skip


def test_approval_refuses_to_start_in_production_without_the_token_for_users_keys():
    with pytest.raises(UsersInternalTokenMissing, match="APPROVAL_USERS_INTERNAL_TOKEN"):
        create_app(production(), caller=lambda: None)


def test_the_orders_of_the_service_seal_with_a_key_ring_fed_by_users():
    app = create_app(ApprovalSettings(profile="development"), caller=lambda: None)
    orders = app.state.runtime.app
    assert isinstance(orders, Orders) and orders.key_ring is not None and orders.mapper.keys is orders.key_ring
    assert orders.key_ring.ttl_s == 600.0  # ADR 0035: at most 10 minutes
