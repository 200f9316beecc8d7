"""Bundling in a real browser (ADR 0034): the approver ticks orders of two buyers in the inbox and bundles them; a
pair with different delivery addresses is refused in words, naming the order, and nothing changes; the bundled orders
leave the inbox, and a buyer's order page says it went to the ERP in a collective order."""

from __future__ import annotations

from tests.browser.conftest import people, shop  # noqa: F401  (fixtures)
from tests.support.shop import BUDGET, Shop


async def test_the_approver_bundles_two_buyers_orders_in_the_inbox(people, shop: Shop):  # noqa: F811
    _, anna_h = await shop.person(["buyer"], budget=BUDGET)
    ben_user, ben_h = await shop.person(["buyer"], budget=BUDGET)
    approver_user, _ = await shop.person(["approver"])
    await shop.approvers(approver_user, seen_by=anna_h)
    hers, his = await shop.order(anna_h, quantity=30), await shop.order(ben_h, quantity=31)
    to_hamburg = await shop.order_to(ben_h, 32, "Hamburg")

    approver = people("approver")
    approver.sign_in(approver_user["email"])
    approver.open("/approvals")

    def tick(*orders: dict) -> None:
        for order in orders:
            approver.element(f"#inbox input[name=order_id][value='{order['id']}']").click()

    tick(hers, to_hamburg)  # different delivery addresses: refused, naming the order, nothing stored
    approver.click("#decide-selected button[value=bundle]")
    approver.until_text("main", "lassen sich nicht bündeln")
    named = [o for o in (hers, to_hamburg) if f"(Bestellung {o['id'][:8]})" in approver.text("main")]
    assert len(named) == 1  # the one that differs from the first of the inbox's order (the list is newest first)
    for order, headers in ((hers, anna_h), (to_hamburg, ben_h)):
        assert (await shop.get(order["id"], headers)).json()["status"] == "pending_approval"

    approver.open("/approvals")
    tick(hers, his)
    approver.fill("bulk-comment", "Eine Lieferung")
    approver.check("35-inbox-bundle-selected")
    approver.click("#decide-selected button[value=bundle]")
    approver.until_text("#bundle-result", "2 Bestellungen")
    approver.check("36-inbox-bundled")
    for order in (hers, his):
        assert approver.driver.find_elements("css selector", f"#inbox tr[data-order-id='{order['id']}']") == []
        assert approver.element(f"#bundle-result li[data-order-id='{order['id']}']")

    ben = people("ben")
    ben.sign_in(ben_user["email"])
    ben.open(f"/orders/{his['id']}")
    assert "gebündelt an das ERP gegangen" in ben.text("#bundle")
    assert "Eine Lieferung" in ben.text("#conversation")
    ben.check("37-order-bundled")
    assert (await shop.get(his["id"], ben_h)).json()["bundle_id"] is not None
