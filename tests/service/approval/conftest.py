"""Fixtures of approval's service tests: the application on the in-memory store, and a company in it."""

from __future__ import annotations

import pytest

from approval.application.orders import Orders
from tests.support.approval import Company


@pytest.fixture
def orders() -> Orders:
    return Orders(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def company(orders: Orders) -> Company:
    return Company(orders)
