"""Erasing a person in a real browser (ADR 0035): the main contact erases a deactivated buyer from the user's page
after a confirmation; users shows them erased, the users list names them "Gelöschter Benutzer", and the order they
wrote on shows them so as well, with their message "(entfernt)" — the marker they wrote is on no page any more."""

from __future__ import annotations

from uuid import uuid4

from tests.browser.conftest import people, shop  # noqa: F401  (fixtures)
from tests.support.shop import BUDGET, Shop

ERASED = "Gelöschter Benutzer"


async def test_the_main_contact_erases_a_deactivated_buyer_and_the_pages_show_an_erased_user(
    people,  # noqa: F811
    shop: Shop,  # noqa: F811
):
    user, buyer = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer, quantity=30)  # over budget: waits for the main contact
    marker = f"marker-{uuid4().hex[:12]}"
    said = await shop.gw.post(f"/api/orders/{order['id']}/comments", json={"text": marker}, headers=buyer)
    assert said.status_code in (200, 201), said.text
    main = people("main")
    main.sign_in(shop.company.main_email)

    main.open(f"/users/{user['id']}")
    assert main.element("#deactivate")
    main.click("#deactivate")
    main.click("#erase")
    assert main.heading() == f"{user['first_name']} {user['last_name']} löschen"
    main.check("40-erasure-confirm")
    main.element("#erase-confirm").click()  # the tick is required: without it the browser sends nothing
    main.click("#erase-for-good")
    assert "Der Benutzer ist gelöscht." in main.text("main")
    assert main.heading() == ERASED
    assert user["email"] not in main.text("main") and not main.driver.find_elements("css selector", "#activate")
    main.check("41-erased-user")
    shown = (await shop.gw.get(f"/api/users/{user['id']}", headers=shop.main)).json()
    assert shown["erased"] is True and shown["first_name"] is None

    main.open("/users?status=inactive")
    row = main.text(f"tr[data-user-id='{user['id']}']")
    assert ERASED in row and "None" not in row

    main.open(f"/orders/{order['id']}")
    main.until_text("#order-buyer", ERASED, reload=True)  # approval learns of the erasure over Kafka
    assert "(entfernt)" in main.until_text("#conversation", "(entfernt)", reload=True)
    page = main.text("main")
    assert marker not in page and user["last_name"] not in page and "None" not in page
    main.check("42-order-of-an-erased-buyer")
