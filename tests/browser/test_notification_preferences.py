"""The notifications page in a real browser (ADR 0027): a buyer chooses the daily digest for approvals and no mail
for rejections, and the API holds their choice; a mail that needs their decision offers no "not at all"."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser.conftest import people, shop  # noqa: F401  (fixtures)
from tests.support.shop import BUDGET, Shop


async def test_a_buyer_chooses_the_digest_for_approvals_and_nothing_for_rejections(people, shop: Shop):  # noqa: F811
    user, headers = await shop.person(["buyer"], budget=BUDGET)
    buyer = people("buyer")
    buyer.sign_in(user["email"])
    buyer.open("/notification-preferences")
    assert buyer.heading() == "Benachrichtigungen per E-Mail"
    offered = [e.get_attribute("value") for e in buyer.driver.find_elements(By.NAME, "kind.approval_requested")]
    assert offered == ["immediately", "digest"]  # a mail that needs a decision cannot be switched off

    buyer.element("input[name='kind.order_approved'][value='digest']").click()
    buyer.element("input[name='kind.order_rejected'][value='none']").click()
    buyer.click("#save-preferences")
    assert "Ihre Einstellungen sind gespeichert." in buyer.text("main")
    assert buyer.element("input[name='kind.order_approved'][value='digest']").is_selected()
    buyer.check("30-notification-preferences")

    stored = (await shop.gw.get("/api/me/notification-preferences", headers=headers)).json()
    chosen = {p["kind"]: p["delivery"] for p in stored["preferences"]}
    assert (chosen["order_approved"], chosen["order_rejected"]) == ("digest", "none")
    assert chosen["approval_requested"] == "immediately"
