"""The ERP's customer prices through erp-sync on an in-memory wire and store: mirrored per customer and article,
handed on to approval on erp-sync.prices.v1 (registered or not), resends unlist what they did not carry, and
erp-sync asks for a resend when a customer registers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from contracts import Money
from contracts.erp import v1 as erp
from contracts.erp_sync import v1 as sync_wire
from contracts.topics import (
    ERP_INBOUND_CUSTOMER_PRICES,
    ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS,
    ERP_SYNC_PRICES,
    REGISTRATION_REGISTRATIONS,
)
from erp_sync.adapters.inbound.kafka import price_consumer_specs
from erp_sync.adapters.inbound.prices_http import price_ops_router
from erp_sync.adapters.outbound.metrics import count_failure
from erp_sync.application.prices import Prices
from erp_sync.domain.prices import PriceListRequest
from erp_sync.main import DOMAIN_ERRORS
from erp_sync.settings import ErpSyncSettings
from kc_runtime.errors import install_error_handlers
from kc_runtime.eventstore import WorkerPool
from tests.service.erp_sync.test_erp_exchange import T0, ErpSync, registration
from tests.service.registration.wire import FakeBatch, Inbox, published, record


class PriceSync(ErpSync):
    def __init__(self) -> None:
        super().__init__()
        specs = [*self.inbox.specs.values(), *price_consumer_specs(self.exchanges)]
        self.inbox = Inbox(self.exchanges, "erp-sync", specs)

    async def erp(self, *messages: Any) -> None:
        for m in messages:
            await self.deliver(ERP_INBOUND_CUSTOMER_PRICES, m.customer_number, m, producer="erp")

    async def erp_in_one_fetch(self, *messages: Any) -> None:
        consumer = self.inbox.consumers[ERP_INBOUND_CUSTOMER_PRICES.name]
        records = [
            record(published(ERP_INBOUND_CUSTOMER_PRICES, m.customer_number, m, next(self._ids), "erp"), offset=i)
            for i, m in enumerate(messages)
        ]
        await consumer.handle(FakeBatch(tuple(records)))  # type: ignore[arg-type]

    def prices(self) -> list[sync_wire.ArticlePriceChanged]:
        return self.sent(ERP_SYNC_PRICES)


def article(
    sku: str = "A-100", amount: str = "9.90", minutes: int = 0, number: str = "10001", **kw: Any
) -> erp.CustomerArticlePriceChanged:
    fields: dict[str, Any] = dict(
        idempotency_key=f"price/{number}/{sku}/{minutes}", customer_number=number, sku=sku, description="Schraube M8",
        unit_price=Money(amount=Decimal(amount), currency="EUR"), changed_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip
    return erp.CustomerArticlePriceChanged(**{**fields, **kw})


def resent(resend_id: str, count: int, number: str = "10001", in_reply_to: str | None = None, minutes: int = 30):
    return erp.CustomerPriceListResent(
        idempotency_key=f"price-list/{resend_id}", customer_number=number, resend_id=resend_id, article_count=count,
        in_reply_to=in_reply_to, sent_at=T0 + timedelta(minutes=minutes),
    )  # fmt: skip


async def test_a_price_of_a_customer_not_registered_is_handed_on_without_a_company():
    sync = PriceSync()
    breaks = [erp.PriceBreak(min_quantity=100, unit_price=Money(amount=Decimal("2.00"), currency="EUR"))]
    await sync.erp(article("B-200", "2.50", price_breaks=breaks, unit="piece"))
    (p,) = sync.prices()
    assert (p.customer_number, p.company_id, p.sku, p.unit_price.amount) == ("10001", None, "B-200", Decimal("2.50"))
    assert [(b.min_quantity, b.unit_price.amount) for b in p.price_breaks] == [(100, Decimal("2.00"))]
    assert (p.listed, p.blocked, p.changed_at) == (True, False, T0)


async def test_older_and_repeated_prices_change_nothing_and_newer_ones_are_handed_on_once():
    sync = PriceSync()
    await sync.erp(
        article(amount="9.90", minutes=1),
        article(amount="9.90", minutes=1),  # the same message twice
        article(amount="5.00", minutes=0),  # older than what erp-sync has
        article(amount="9.90", minutes=2),  # the same state, later: nothing new
        article(amount="10.50", minutes=3),
    )
    assert [(p.unit_price.amount, p.changed_at) for p in sync.prices()] == [
        (Decimal("9.90"), T0 + timedelta(minutes=1)),
        (Decimal("10.50"), T0 + timedelta(minutes=3)),
    ]


async def test_prices_of_different_customers_for_the_same_sku_are_kept_apart():
    sync = PriceSync()
    await sync.erp(article(amount="9.90", number="10001"), article(amount="8.50", number="10002"))
    assert {(p.customer_number, p.unit_price.amount) for p in sync.prices()} == {
        ("10001", Decimal("9.90")),
        ("10002", Decimal("8.50")),
    }


async def test_a_registration_asks_the_erp_for_the_prices_and_the_resend_hands_them_on_with_the_company():
    sync, company = PriceSync(), uuid4()
    await sync.erp(article("A-100"), article("BLK-1", blocked=True))
    await sync.deliver(REGISTRATION_REGISTRATIONS, "10001", registration(company))
    (request,) = sync.sent(ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS)
    assert (request.customer_number, request.reason) == ("10001", "registration")

    await sync.erp(
        article("A-100", resend_id="r-1"),
        article("BLK-1", blocked=True, resend_id="r-1"),
        resent("r-1", 2, in_reply_to=request.idempotency_key),
    )
    handed_on = sync.prices()[2:]
    assert {(p.sku, p.company_id, p.listed) for p in handed_on} == {("A-100", company, True), ("BLK-1", company, True)}
    answered = Prices(sync.exchanges).request(request.idempotency_key)
    assert answered is not None and (answered.status, answered.article_count, answered.unlisted) == ("answered", 2, 0)


async def test_a_resend_unlists_the_articles_it_did_not_carry():
    sync = PriceSync()
    await sync.erp(article("A-100"), article("OLD-1"), article("GONE-1", listed=False))
    await sync.erp(article("A-100", resend_id="r-1"), resent("r-1", 1))
    unlisted = sync.prices()[3:]
    assert [(p.sku, p.listed) for p in unlisted] == [("OLD-1", False)]
    assert unlisted[0].changed_at == T0 + timedelta(minutes=30)
    await sync.erp(resent("r-1", 1))  # the end of the resend again: nothing more
    assert len(sync.prices()) == 4


async def test_a_resend_in_one_fetch_with_its_articles_unlists_only_the_missing():
    sync = PriceSync()
    await sync.erp(article("A-100"), article("B-200"), article("OLD-1"))
    await sync.erp_in_one_fetch(
        article("A-100", resend_id="r-1"), article("B-200", amount="2.40", minutes=5, resend_id="r-1"), resent("r-1", 2)
    )
    later = sync.prices()[3:]
    assert sorted((p.sku, p.listed, p.unit_price.amount) for p in later) == [
        ("B-200", True, Decimal("2.40")),
        ("OLD-1", False, Decimal("9.90")),
    ]


async def test_an_article_the_resend_brings_back_is_listed_again():
    sync = PriceSync()
    await sync.erp(article("A-100"))
    await sync.erp(resent("r-1", 0))
    await sync.erp(article("A-100", resend_id="r-2", minutes=40), resent("r-2", 1))
    assert [(p.sku, p.listed) for p in sync.prices()] == [("A-100", True), ("A-100", False), ("A-100", True)]


async def test_a_price_list_request_is_sent_to_the_erp_once_per_key():
    sync = PriceSync()
    prices = Prices(sync.exchanges)
    key = PriceListRequest.key_of("10001", T0, "operator")
    sync.exchanges.save(*prices.request_price_list("10001", "operator", T0, key))
    assert prices.request_price_list("10001", "operator", T0, key) == []
    (request,) = sync.sent(ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS)
    assert (request.idempotency_key, request.reason, request.requested_at) == (key, "operator", T0)


async def test_a_change_and_its_revert_in_one_fetch_are_both_handed_on():
    sync = PriceSync()
    await sync.erp(article(amount="9.90"))
    await sync.erp_in_one_fetch(article(amount="10.50", minutes=1), article(amount="9.90", minutes=2))
    assert [p.unit_price.amount for p in sync.prices()] == [Decimal("9.90"), Decimal("10.50"), Decimal("9.90")]


async def test_an_article_changed_in_the_same_fetch_before_a_resend_that_left_it_out_is_unlisted():
    sync = PriceSync()
    await sync.erp(article("A-100"), article("B-200"))
    await sync.erp_in_one_fetch(
        article("A-100", amount="9.50", minutes=1), article("B-200", resend_id="r-1"), resent("r-1", 1)
    )
    assert [(p.sku, p.unit_price.amount, p.listed) for p in sync.prices()[2:]] == [
        ("A-100", Decimal("9.50"), True),
        ("A-100", Decimal("9.50"), False),
    ]


async def test_a_whole_price_list_in_one_fetch_is_saved_in_one_transaction():
    sync = PriceSync()
    saves: list[int] = []
    save_tracked = sync.exchanges.save_tracked

    def counting(tracking, *objs):
        saves.append(len(objs))
        return save_tracked(tracking, *objs)

    sync.exchanges.save_tracked = counting  # type: ignore[method-assign]
    await sync.erp_in_one_fetch(*(article(f"SKU-{i}") for i in range(50)))
    assert len(saves) == 1 and len(sync.prices()) == 50


async def test_price_changes_resend_requests_and_the_delay_are_counted_for_prometheus():
    sync, service = PriceSync(), f"erp-sync-{uuid4().hex[:6]}"
    await sync.erp(article("A-100"), article("OLD-1"))
    key = PriceListRequest.key_of("10001", T0, "operator")
    sync.exchanges.save(*Prices(sync.exchanges).request_price_list("10001", "operator", T0, key))
    await sync.erp(article("A-100", resend_id="r-1"), resent("r-1", 1, in_reply_to=key))
    for _, event, _ in sync.exchanges.notifications(0, 10_000):
        count_failure(service, event)  # what the operations follower does with every event of the log

    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"kc_service": service, **labels})

    assert sample("kc_erp_sync_prices_total", change="changed") == 2
    assert sample("kc_erp_sync_prices_total", change="unlisted") == 1
    assert sample("kc_erp_sync_price_list_requests_total", reason="operator", outcome="requested") == 1
    assert sample("kc_erp_sync_price_list_requests_total", reason="operator", outcome="answered") == 1
    assert sample("kc_erp_sync_price_delay_seconds_count") == 2  # the changes outside the resend


# ---- the operator API ----------------------------------------------------------------------------------------


def ops_client(sync: PriceSync, token: str = "test-ops-token") -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app, DOMAIN_ERRORS)  # the service's own mapping, not a copy
    settings = ErpSyncSettings(database_url="memory://", ops_token=token)  # type: ignore[arg-type]
    app.include_router(price_ops_router(sync.exchanges, WorkerPool(2), settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://erp-sync")


OPS = {"Authorization": "Bearer test-ops-token"}


async def test_an_operator_asks_for_a_customers_prices_and_sees_the_resend_end():
    sync = PriceSync()
    await sync.erp(article("A-100"), article("OLD-1"))
    async with ops_client(sync) as ops:
        r = await ops.post("/ops/customers/10001/price-list-requests", headers=OPS)
        assert r.status_code == 202, r.text
        asked = r.json()
        assert (asked["status"], asked["reason"], asked["customer_number"]) == ("requested", "operator", "10001")
        (request,) = sync.sent(ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS)
        assert request.idempotency_key == asked["idempotency_key"]

        await sync.erp(article("A-100", resend_id="r-9"), resent("r-9", 1, in_reply_to=request.idempotency_key))
        answered = (await ops.get(r.headers["Location"], headers=OPS)).json()
        assert (answered["status"], answered["article_count"], answered["unlisted"]) == ("answered", 1, 1)
        old = (await ops.get("/ops/customers/10001/prices/OLD-1", headers=OPS)).json()
        assert old["state"]["listed"] is False and old["last_resend_id"] == "r-9"


async def test_price_list_requests_need_the_operator_token():
    sync = PriceSync()
    async with ops_client(sync) as ops:
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            r = await ops.post("/ops/customers/10001/price-list-requests", headers=headers)
            assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_ops_token"
    assert sync.sent(ERP_OUTBOUND_CUSTOMER_PRICE_REQUESTS) == []


async def test_a_bad_customer_number_or_an_unknown_article_is_a_4xx_with_a_code():
    sync = PriceSync()
    async with ops_client(sync) as ops:
        r = await ops.post("/ops/customers/%20x%3B/price-list-requests", headers=OPS)
        assert r.status_code == 422 and r.json()["error"]["code"]
        r = await ops.get("/ops/customers/10001/prices/NOPE-1", headers=OPS)
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
        r = await ops.get(f"/ops/price-list-requests/{uuid4()}", headers=OPS)
        assert r.status_code == 404


async def test_a_handler_that_fails_half_way_leaves_nothing_it_changed_to_the_next_message():
    sync = PriceSync()
    await sync.erp(article("A-100"), article("B-200"))
    prices, name = Prices(sync.exchanges), "erp/prices/0"
    find = prices.find

    def failing_find(number: str, sku: str):
        if sku == "B-200":
            raise RuntimeError("the store failed for another reason than an outage")
        return find(number, sku)

    prices.find = failing_find  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        prices.resend_ended("10001", "r-1", T0, unit=(name, 10))  # A-100 was unlisted in memory, then it failed
    assert sync.exchanges.units.of(name, 11) == {}  # the next message loads afresh
    assert (
        prices.article_changed(
            "10001",
            "A-100",
            sync.prices()[0].model_dump(
                mode="json",
                include={
                    "description",
                    "unit",
                    "unit_price",
                    "price_breaks",
                    "valid_from",
                    "valid_to",
                    "blocked",
                    "listed",
                },
            ),
            T0,
            None,
            unit=(name, 11),
        )
        == []
    )  # unchanged: still listed as saved
