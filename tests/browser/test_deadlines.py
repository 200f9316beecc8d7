"""The deadlines page in a real browser (ADR 0033): the main contact sets a reminder after 4 hours, an escalation after
a day and an expiry after 14 days, and the API holds them; deadlines out of order are refused in words and nothing
changes; a buyer has no such page in the navigation, and the API refuses them."""

from __future__ import annotations

from tests.browser.conftest import people, shop  # noqa: F401  (fixtures)
from tests.support.shop import BUDGET, Shop


async def test_the_main_contact_sets_the_deadlines_and_a_buyer_cannot(people, shop: Shop):  # noqa: F811
    main = people("main")
    main.sign_in(shop.company.main_email)
    main.open("/deadlines")
    assert main.heading() == "Fristen für wartende Bestellungen"
    main.fill("f-remind_after", "4")
    main.fill("f-escalate_after", "24")
    main.fill("f-expire_after", "14")
    main.click("#save-deadlines")
    assert "Die Fristen sind gespeichert." in main.text("main")
    assert main.element("#f-expire_after").get_attribute("value") == "14"
    main.check("31-deadlines")
    stored = (await shop.gw.get("/api/approvals/deadlines", headers=shop.main)).json()
    assert (stored["remind_after"], stored["escalate_after"], stored["expire_after"]) == ("PT4H", "P1D", "P14D")

    main.fill("f-escalate_after", "2")  # before the reminder: refused, nothing changes
    main.click("#save-deadlines")
    assert "Jede muss länger sein als die vorige" in main.text("main")
    assert main.element("#f-escalate_after").get_attribute("value") == "2"  # what was typed, shown again
    assert (await shop.gw.get("/api/approvals/deadlines", headers=shop.main)).json()["escalate_after"] == "P1D"

    user, headers = await shop.person(["buyer"], budget=BUDGET)
    buyer = people("buyer")
    buyer.sign_in(user["email"])
    buyer.open("/orders")
    assert "Fristen" not in buyer.text("nav")
    refused = await shop.gw.put("/api/approvals/deadlines", json={"expire_after": "P300D"}, headers=headers)
    assert refused.status_code == 403
