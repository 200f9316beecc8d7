"""The company's credit at the ERP through the gateway (issue 16 item 2, ADR 0026): the ERP (the simulator's hook)
sets a low credit limit, an order within budget waits for credit (`credit_hold`), the buyer and the main contact are
told by mail (the figures only to the main contact); a raised limit lets the order reach the ERP by itself. A credit
block holds any order; the main contact cancels a held order; nobody else cancels it or pushes it through."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import httpx
import pytest

from tests.conftest import eventually
from tests.journeys.test_approval import mails_to
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

CREDIT = "/api/orders/credit"


async def set_credit(shop: Shop, erp: httpx.AsyncClient, **figures: object) -> dict:
    """Change the company's credit in the ERP (the simulator's hook) and wait until approval judges on it: the figures
    travel ERP → Kafka → erp-sync → Kafka → approval."""
    number = shop.company.registration.company.customer_number
    r = await erp.put(f"/admin/customers/{number}/credit", json=figures)
    assert r.status_code == 200, r.text
    sent = r.json()

    async def known() -> dict | None:
        r = await shop.gw.get(CREDIT, headers=shop.main)
        assert r.status_code == 200, r.text
        body = r.json()
        if not (body["known"] and body["as_of"] and _instant(body["as_of"]) >= _instant(sent["as_of"])):
            return None
        # these figures or later ones: a raised limit may release a held order at once, and the ERP then sends its
        # figures again with that order among its open orders, sooner than the next poll
        for name, value in figures.items():
            if name in ("credit_limit", "open_receivables"):
                assert Decimal(body[name]) == Decimal(str(value)), (name, body)
            elif name == "credit_blocked":
                assert body[name] is value, (name, body)
        return body

    return await eventually(known, what="approval to know the ERP's credit figures")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def email_of(shop: Shop, headers: dict) -> str:
    return (await shop.gw.get("/api/me", headers=headers)).json()["user"]["email"]


async def mail_about(address: str, order_id: str, what: str) -> dict:
    async def found() -> dict | None:
        return next((m for m in await mails_to(address) if order_id in m.get("text", "")), None)

    return await eventually(found, what=what)


async def at_erp(erp: httpx.AsyncClient, order_id: str) -> list:
    return (await erp.get("/sales-orders", params={"order_id": order_id})).json()


async def test_an_order_waits_for_credit_and_reaches_the_erp_by_itself_when_the_limit_is_raised(
    shop: Shop, erp_simulator: httpx.AsyncClient, erp_sync: httpx.AsyncClient
):
    _, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    credit = await set_credit(shop, erp_simulator, credit_limit="20.00", open_receivables="5.00")
    assert Decimal(credit["available"]) == Decimal("15.00")
    number = shop.company.registration.company.customer_number
    mirrored = (await erp_sync.get(f"/ops/customers/{number}")).json()  # what erp-sync handed on, for operators
    assert Decimal(mirrored["credit"]["credit_limit"]) == Decimal("20.00") and mirrored["credit_as_of"]

    held = await shop.order(buyer_h, quantity=5)  # 49.50 EUR: within the buyer's budget, not within the credit
    assert held["status"] == "credit_hold", held
    assert held["credit_hold"]["reason"] == "credit_limit"
    assert Decimal(held["credit_hold"]["amount"]["amount"]) == Decimal("49.50")
    assert set(held["credit_hold"]) == {"reason", "amount", "since"}  # the company's figures are not the buyer's

    # the buyer is told why, the main contact gets the figures
    to_buyer = await mail_about(await email_of(shop, buyer_h), held["id"], "the buyer's credit-hold mail")
    assert "Kreditrahmen" in to_buyer["text"] and "Offene Posten" not in to_buyer["text"]
    to_main = await mail_about(await email_of(shop, shop.main), held["id"], "the main contact's credit-hold mail")
    assert "Offene Posten" in to_main["text"] and "15,00" in to_main["text"]  # available, in German

    # the buyer sees no figures and cannot push the order through
    r = await shop.gw.get(CREDIT, headers=buyer_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    r = await shop.do(held["id"], "approve", buyer_h)
    assert r.status_code in (403, 409), r.text
    r = await shop.do(held["id"], "approve", shop.main)  # approving is over: nobody approves it past the credit
    assert (r.status_code, r.json()["error"]["code"]) == (409, "wrong_state")
    waiting = (await shop.gw.get(CREDIT, headers=shop.main)).json()["waiting"]
    assert [w["order_id"] for w in waiting] == [held["id"]]
    assert await at_erp(erp_simulator, held["id"]) == []

    await set_credit(shop, erp_simulator, credit_limit="10000.00")

    async def reached() -> list | None:
        return await at_erp(erp_simulator, held["id"]) or None

    assert len(await eventually(reached, what="the held order at the ERP")) == 1
    done = (await shop.get(held["id"], buyer_h)).json()
    assert done["status"] in ("released", "transmitted", "confirmed") and done["credit_hold"] is None
    events = [e["event"] for e in done["timeline"]]
    assert events.index("CreditHeld") < events.index("Released") and events.count("Released") == 1

    # the ERP confirms it and sends its figures again with the order among its open orders: once approval has both
    # (they travel on different topics, in either order) it stops counting the order itself
    async def settled() -> dict | None:
        body = (await shop.gw.get(CREDIT, headers=shop.main)).json()
        ours, erps = Decimal(body["released_unconfirmed"]), Decimal(body["open_orders"])
        assert ours + erps >= Decimal("49.50")  # never counted zero times
        return body if (ours, erps) == (0, Decimal("49.50")) else None

    credit = await eventually(settled, what="the ERP's figures with the confirmed order, and its confirmation")
    assert credit["waiting"] == []
    assert Decimal(credit["available"]) == Decimal("10000.00") - Decimal("5.00") - Decimal("49.50")


async def test_a_credit_block_holds_any_order_and_the_main_contact_cancels_it(
    shop: Shop, erp_simulator: httpx.AsyncClient
):
    _, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    _, colleague_h = await shop.person(["buyer"], budget=BUDGET)
    await set_credit(shop, erp_simulator, credit_limit="100000.00", credit_blocked=True)

    held = await shop.order(buyer_h, quantity=1)
    assert (held["status"], held["credit_hold"]["reason"]) == ("credit_hold", "credit_blocked")
    later = await shop.order(colleague_h, quantity=1)
    assert later["status"] == "credit_hold"

    # another buyer neither sees, cancels nor decides it (another's order is not theirs to see)
    for action in ("cancel", "approve"):
        r = await shop.do(held["id"], action, colleague_h)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found"), (action, r.text)
    r = await shop.gw.post("/api/orders/re-evaluations", json={}, headers=buyer_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")

    main_id = (await shop.gw.get("/api/me", headers=shop.main)).json()["user"]["id"]
    r = await shop.do(held["id"], "cancel", shop.main, {"comment": "Kreditsperre"})
    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert cancelled["status"] == "cancelled"
    (audit,) = [e for e in cancelled["timeline"] if e["event"] == "Cancelled"]
    assert audit["by"]["id"] == main_id

    # the block lifted: the other waiting order goes on by itself, the cancelled one never reaches the ERP
    await set_credit(shop, erp_simulator, credit_blocked=False)

    async def reached() -> list | None:
        return await at_erp(erp_simulator, later["id"]) or None

    await eventually(reached, what="the colleague's order at the ERP")
    assert await at_erp(erp_simulator, held["id"]) == []
    assert (await shop.get(held["id"], buyer_h)).json()["status"] == "cancelled"
