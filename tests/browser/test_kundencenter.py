"""The Kundencenter in the browser, as the people of a customer company use it: registering and confirming from
the mail, the main contact's user administration, a buyer's order over budget, the approver's decision, rejection
and resubmission, and a deactivated user signed out. Every page is checked with axe-core and photographed."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from tests.browser.conftest import BASE, LINK
from tests.conftest import eventually
from tests.journeys.test_registration_support import SMTP_SINK, new_customer
from tests.support.shop import BUDGET, Shop
from tests.support.users import unique_email

pytestmark = pytest.mark.journey

ERP_SIMULATOR = "http://127.0.0.1:8111"


async def mailed_link(address: str, pattern: re.Pattern[str]) -> str:
    async def probe() -> str | None:
        async with httpx.AsyncClient(timeout=10) as sink:
            r = await sink.get(f"{SMTP_SINK}/messages", params={"to": address})
        for mail in r.json() if r.status_code == 200 else []:
            found = pattern.search((mail.get("text") or "") + (mail.get("html") or ""))
            if found:
                return html.unescape(found.group(0))
        return None

    return await eventually(probe, timeout=30, what=f"the mail to {address}")


async def test_a_customer_registers_confirms_from_the_mail_and_signs_in(people):
    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=30) as erp:
        customer = await new_customer(erp, name="Browser Werkzeuge GmbH")
    hanna = people("main contact")
    hanna.open("/")
    assert hanna.heading() == "Kundencenter"
    hanna.check("01-home-anonymous")

    hanna.open("/registration")
    hanna.check("02-registration")
    email = unique_email("hk")
    hanna.fill("f-customer_number", customer["customer_number"])
    hanna.fill("f-invoice_number", customer["invoices"][0])
    hanna.fill("f-email", email)
    hanna.fill("f-first_name", "Hanna")
    hanna.fill("f-last_name", "Hauptkontakt")
    hanna.click("form[action$='/registration'] button[type=submit]")
    # the page waits for the ERP and shows its answer by itself
    hanna.until_text("#registration-status", "E-Mail geschickt")
    hanna.check("03-registration-awaiting-confirmation")

    link = await mailed_link(email, LINK)
    assert link.startswith(f"{BASE}/registration/confirm?")
    hanna.open(link)
    assert hanna.heading() == "Registrierung bestätigen"
    hanna.check("04-registration-confirm")
    hanna.click("#confirm")
    hanna.until_text("#registration-status", "abgeschlossen")
    hanna.check("05-registration-completed")

    hanna.open("/login")
    hanna.check("06-sign-in")

    async def signed_in() -> bool:  # users creates the company from the registration (over Kafka)
        hanna.sign_in(email)
        return "Browser Werkzeuge GmbH" in hanna.text("main")

    await eventually(signed_in, timeout=30, interval=0.5, what="the main contact to be able to sign in")
    assert "Willkommen, Hanna Hauptkontakt" in hanna.text("main")
    hanna.check("07-home-main-contact")


async def test_a_bad_registration_is_refused_with_a_clear_message(people):
    visitor = people("visitor")
    visitor.open("/registration")
    visitor.click("form[action$='/registration'] button[type=submit]")
    assert "Bitte prüfen Sie Ihre Eingaben" in visitor.text("#error")
    assert visitor.element("#f-customer_number").get_attribute("aria-invalid") == "true"
    visitor.check("08-registration-refused")


async def test_a_form_without_the_sessions_csrf_token_is_refused(gateway):
    r = await gateway.post("/kundencenter/registration", data={"customer_number": "K-1", "csrf": "forged"})
    assert r.status_code == 403
    assert "Das Formular ist abgelaufen" in r.text


async def test_an_order_over_budget_is_changed_and_approved_by_the_approver_the_buyer_sees_it(people, shop: Shop):
    main = people("main contact")
    main.sign_in(shop.company.main_email)
    main.open("/users")
    main.check("10-users")
    buyer_email, approver_email = unique_email("buyer"), unique_email("approver")

    main.click("#new-user")
    main.check("11-user-new")
    main.fill("f-first_name", "Bea")
    main.fill("f-last_name", "Buyer")
    main.fill("f-email", buyer_email)
    main.fill("f-max_quantity", "10")
    main.fill("f-max_value", "500")
    main.click("#create-user")
    assert "Der Benutzer ist angelegt" in main.text("main")
    main.check("12-user")

    main.open("/users/new")
    main.fill("f-first_name", "Arno")
    main.fill("f-last_name", "Approver")
    main.fill("f-email", approver_email)
    main.element("#role-buyer").click()  # unticked: the approver only approves
    main.element("#role-approver").click()
    main.click("#create-user")
    main.click("#toggle-approver")
    assert "Nicht mehr Freigeber" in main.text("#toggle-approver")
    main.open("/audit")
    audit = main.text("#audit")
    assert "Benutzer angelegt" in audit and "Arno Approver" in audit and "Freigeber benannt" in audit
    main.check("18-audit")

    buyer = people("buyer")
    buyer.sign_in(buyer_email)
    buyer.open("/orders/new")
    buyer.check("13-order-new")
    buyer.fill("f-sku-0", "A-100")
    buyer.fill("f-qty-0", "12")
    buyer.fill("f-street", "Hauptstr. 1")
    buyer.fill("f-postal_code", "10115")
    buyer.fill("f-city", "Berlin")
    buyer.fill("f-comment", "Bitte an Rampe 3")
    buyer.click("form[action$='/orders/new'] button[type=submit]")
    assert "wartet auf Freigabe" in buyer.heading()
    assert "Menge 12 statt höchstens 10 Stück" in buyer.text("#budget-verdict")
    assert buyer.text("#buyer-comment") == "Bitte an Rampe 3"
    order_path = buyer.path

    approver = people("approver")
    approver.sign_in(approver_email)
    approver.open("/approvals")
    row = approver.until_text("#inbox", "Bea Buyer")
    assert "12" in row
    approver.check("20-inbox")
    approver.click(f"#inbox a[href$='{order_path}']")
    assert "Arno Approver" in approver.text("dl.facts")
    approver.check("21-order-detail")
    approver.fill("change-qty-0", "8")
    approver.fill("change-comment", "8 Stück reichen")
    approver.click("#approve-changed")
    assert "Die Bestellung ist freigegeben" in approver.text("main")
    assert "8 Stück reichen" in approver.text("#conversation")

    approver.check("22-order-approved")

    buyer.open(order_path)
    assert buyer.element("#lines td[data-quantity]").get_attribute("data-quantity") == "8"
    why = buyer.text("#why")  # why it went where it went, as judged then (ADR 0028)
    assert "Budget je Bestellung: höchstens 10 Stück" in why and "Ergebnis: über dem Budget – zur Freigabe." in why
    assert "An Arno Approver: die damals benannten Freigeber der Firma." in why
    assert "Arno Approver hat als Freigeber freigegeben." in why
    assert "8 Stück reichen" in buyer.text("#conversation")
    buyer.check("17-order-approved-buyer")
    assert "Freigabe" not in buyer.heading() or "wartet" not in buyer.heading()
    assert "geändert" in buyer.text("#timeline")
    buyer.open("/orders")
    assert "wartet auf Freigabe" not in buyer.text("#orders")
    buyer.check("14-my-orders")


async def test_a_rejected_order_is_resubmitted_with_a_comment_and_new_quantities(people, shop: Shop):
    from tests.support.shop import BUDGET

    buyer_user, buyer_headers = await shop.person(["buyer"], budget=BUDGET)
    approver_user, _ = await shop.person(["approver"])
    await shop.approvers(approver_user, seen_by=buyer_headers)
    order = await shop.order(buyer_headers, quantity=30)

    approver = people("approver")
    approver.sign_in(approver_user["email"])
    approver.open(f"/orders/{order['id']}")
    approver.fill("reject-comment", "Zu viel, bitte höchstens 10")
    approver.click("#reject")
    assert "abgelehnt" in approver.heading()

    buyer = people("buyer")
    buyer.sign_in(buyer_user["email"])
    buyer.open(f"/orders/{order['id']}")
    assert "Zu viel, bitte höchstens 10" in buyer.text("#conversation")
    assert "Zu viel, bitte höchstens 10" in buyer.text("#timeline")
    buyer.check("15-order-rejected")
    buyer.fill("resubmit-qty-0", "10")
    buyer.fill("resubmit-comment", "Auf 10 reduziert")
    buyer.click("#resubmit")
    assert "Die Bestellung ist erneut eingereicht" in buyer.text("main")
    # within budget now: released straight to the ERP
    assert "wartet auf Freigabe" not in buyer.heading()
    assert buyer.element("#lines td[data-quantity]").get_attribute("data-quantity") == "10"
    assert "Auf 10 reduziert" in buyer.text("#conversation")


async def test_a_deactivated_user_is_signed_out(people, shop: Shop):
    user, _ = await shop.person(["buyer"])
    buyer = people("buyer")
    buyer.sign_in(user["email"])
    buyer.open("/orders")
    assert buyer.heading() == "Meine Bestellungen"

    main = people("main contact")
    main.sign_in(shop.company.main_email)
    main.open(f"/users/{user['id']}")
    main.click("#deactivate")
    assert "deaktiviert" in main.text("#user-status")

    buyer.open("/orders")
    assert buyer.path.startswith("/login")
    assert "Ihr Zugang wurde deaktiviert" in buyer.text("main")
    assert buyer.driver.find_elements("css selector", "#sign-out") == []


async def test_the_pages_speak_english_to_an_english_user(people, shop: Shop):
    user, _ = await shop.person(["buyer"], language="en")
    buyer = people("buyer")
    buyer.sign_in(user["email"])
    buyer.open("/orders")
    assert buyer.heading() == "My orders"
    buyer.check("16-my-orders-en")


async def test_the_registration_can_be_done_with_the_keyboard_alone(people):
    from selenium.webdriver.common.keys import Keys

    async with httpx.AsyncClient(base_url=ERP_SIMULATOR, timeout=30) as erp:
        customer = await new_customer(erp)
    visitor = people("keyboard user")
    visitor.open("/registration")
    body = visitor.element("body")
    body.send_keys(Keys.TAB)
    focused = visitor.driver.switch_to.active_element
    assert focused.text == "Zum Inhalt springen"  # the first stop: skip the navigation
    focused.send_keys(Keys.ENTER)
    assert visitor.driver.switch_to.active_element.get_attribute("id") == "main"
    typed = [customer["customer_number"], customer["invoices"][0], unique_email("kb"), "Karla", "Keyboard"]
    order = []
    for text in typed:  # Tab walks through the fields in reading order
        visitor.driver.switch_to.active_element.send_keys(Keys.TAB)
        active = visitor.driver.switch_to.active_element
        order.append(active.get_attribute("id"))
        active.send_keys(text)
    assert order == ["f-customer_number", "f-invoice_number", "f-email", "f-first_name", "f-last_name"]
    old = visitor.element("html")
    visitor.driver.switch_to.active_element.send_keys(Keys.ENTER)  # Enter sends the form
    visitor.wait.until(lambda _: _stale(old))
    visitor.until_text("#registration-status", "E-Mail geschickt")


def _stale(element) -> bool:
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException:
        return False
    return False


async def test_a_users_new_address_counts_once_confirmed_from_the_mail(people, shop: Shop):
    user, _ = await shop.person(["buyer"])
    main = people("main contact")
    main.sign_in(shop.company.main_email)
    main.open(f"/users/{user['id']}")
    new_address = unique_email("new")
    main.fill("f-email", new_address)
    main.click("#save-email")
    assert "Bestätigungslink" in main.text("main")
    assert user["email"] in main.text("#user-status")  # the old address until the new mailbox confirms

    link = await mailed_link(
        new_address,
        re.compile(
            r"http://[^\s\"'<>]+/kundencenter/account/email/confirm\?change=[0-9a-f-]+&(?:amp;)?token=[A-Za-z0-9_-]+"
        ),
    )
    owner = people("the new mailbox")
    owner.open(link)
    owner.check("19-email-confirm")
    owner.click("#confirm")
    assert "gilt ab sofort" in owner.text("#email-confirmed")
    main.open(f"/users/{user['id']}")
    assert new_address in main.text("#user-status")


async def test_the_main_contact_defines_a_custom_role_and_deletes_it(people, shop: Shop):
    main = people("main contact")
    main.sign_in(shop.company.main_email)
    main.open("/roles")
    main.fill("f-name", "Servicetechniker")
    main.element("#perm-view_data_sheets").click()
    main.click("#define-role")
    assert "Die Rolle ist angelegt" in main.text("main")
    row = main.until_text("#roles", "Servicetechniker")
    assert "Datenblätter lesen" in row
    main.check("23-roles")
    main.click("#roles button.danger")
    assert "Die Rolle ist gelöscht" in main.text("main")
    assert "Servicetechniker" not in main.text("#roles")


async def test_the_approver_approves_two_selected_orders_of_the_inbox_at_once(people, shop: Shop):
    from tests.support.shop import BUDGET

    _, buyer_headers = await shop.person(["buyer"], budget=BUDGET)
    approver_user, _ = await shop.person(["approver"])
    await shop.approvers(approver_user, seen_by=buyer_headers)
    first = await shop.order(buyer_headers, quantity=30)
    second = await shop.order(buyer_headers, quantity=31)

    approver = people("approver")
    approver.sign_in(approver_user["email"])
    approver.open("/approvals")
    for order in (first, second):
        approver.element(f"#inbox input[name=order_id][value='{order['id']}']").click()  # ticks it, stays
    approver.fill("bulk-comment", "Beide passen")
    approver.check("23-inbox-selected")
    approver.click("#decide-selected button[value=approve]")
    approver.until_text("#decision-results", "2 entschieden, 0 nicht entschieden")
    for order in (first, second):
        assert approver.element(f"#decision-results li[data-order-id='{order['id']}']").get_attribute("class") == (
            "outcome-approved"
        )
    approver.check("24-inbox-decided")
    # both left the inbox, and each was approved with the one comment
    for order in (first, second):
        assert approver.driver.find_elements("css selector", f"#inbox tr[data-order-id='{order['id']}']") == []
        approver.open(f"/orders/{order['id']}")
        assert "Beide passen" in approver.text("#conversation")


async def test_the_buyer_cancels_an_order_waiting_for_approval(people, shop: Shop):
    from tests.support.shop import BUDGET

    buyer_user, buyer_headers = await shop.person(["buyer"], budget=BUDGET)
    order = await shop.order(buyer_headers, quantity=30)
    buyer = people("buyer")
    buyer.sign_in(buyer_user["email"])
    buyer.open("/orders?status=pending_approval")
    assert buyer.driver.find_elements("css selector", f"#orders a[href$='/orders/{order['id']}']")
    buyer.open(f"/orders/{order['id']}")
    buyer.click("#cancel")
    assert "Die Bestellung ist storniert" in buyer.text("main")
    assert "storniert" in buyer.heading()
    assert buyer.driver.find_elements("css selector", "#cancel") == []


async def test_the_main_contact_takes_over_an_employee_the_erp_knows(people, users_api):
    from tests.support.users import erp_contact

    company = await users_api.company(erp_contacts=[erp_contact("Erna", "Erp")])
    main = people("main contact")
    main.sign_in(company.main_email)
    main.open("/users")
    contacts = main.until_text("#erp-contacts", "Erna Erp")
    assert "Erna Erp" in contacts
    main.click("#erp-contacts button")
    assert "Der Ansprechpartner ist jetzt Benutzer" in main.text("main")
    assert main.heading() == "Erna Erp"
    main.open("/users")
    assert "Erna Erp" in main.text("#users")


async def test_an_absent_approvers_order_is_approved_by_the_substitute_named_on_the_absences_page(people, shop: Shop):
    from tests.support.shop import BUDGET

    _, buyer_headers = await shop.person(["buyer"], budget=BUDGET)
    absent_user, absent_headers = await shop.api.user(shop.company, ["approver"], first_name="Arno", last_name="Absent")

    async def known() -> bool:
        return (await shop.gw.get("/api/orders", headers=absent_headers)).status_code == 200

    await eventually(known, what="approval to know the approver")
    await shop.approvers(absent_user, seen_by=buyer_headers)

    # the approver names the main contact (who decides nothing of this company while approvers are named)
    absent = people("absent approver")
    absent.sign_in(absent_user["email"])
    absent.click("nav a[href$='/absences']")
    absent.check("30-absences")
    absent.choose("f-substitute_id", shop.company.main_id)  # from now for a week: the form's default period
    absent.click("#record")
    assert "Die Abwesenheit ist eingetragen" in absent.text("main")
    assert "läuft" in absent.text("#absences tr[data-state='in_force']")
    absent.check("31-absence-recorded")

    order = await shop.order(buyer_headers, quantity=30)

    substitute = people("substitute")
    substitute.sign_in(shop.company.main_email)
    substitute.open("/approvals")
    row = substitute.until_text(f"#inbox tr[data-order-id='{order['id']}']", "Vertretung für Arno Absent", reload=True)
    assert "Bea Buyer" in row
    substitute.check("32-inbox-substitute")
    substitute.click(f"#inbox a[href$='/orders/{order['id']}']")
    assert "Sie entscheiden in Vertretung für Arno Absent" in substitute.text("#decide")
    substitute.check("33-order-substitute")
    substitute.click("#approve")
    assert "Die Bestellung ist freigegeben" in substitute.text("main")
    assert "in Vertretung für Arno Absent" in substitute.text("#decided-by")
    assert "in Vertretung für Arno Absent" in substitute.text("#timeline li[data-event='Approved']")
    substitute.check("34-order-approved-substitute")
    # the main contact records anyone's absence: the absent person is theirs to choose, and the absence theirs to end
    substitute.open("/absences")
    assert substitute.element(f"#f-approver_id option[value='{absent_user['id']}']").text == "Arno Absent"
    substitute.check("35-absences-main-contact")
    substitute.click("#absences tr[data-state='in_force'] button")
    assert "Die Abwesenheit ist zurückgezogen" in substitute.text("main")
    substitute.open("/absences?include_past=true")
    assert "zurückgezogen von" in substitute.text("#absences tr[data-state='withdrawn']")


async def test_the_approver_approves_from_the_mails_link_after_confirming_on_the_page(people, shop: Shop):
    """ADR 0031: the mail's link opens a page that only asks (nothing is decided by opening it); the confirmation
    decides, without signing in."""
    _, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    approver, _ = await shop.person(["approver"])
    await shop.approvers(approver, seen_by=buyer_h)
    held = await shop.order(buyer_h, quantity=12)
    link = await mailed_link(
        approver["email"], re.compile(r"Freigeben: (http://[^\s\"'<>]+/kundencenter/decision\?token=[A-Za-z0-9._%-]+)")
    )
    link = link.removeprefix("Freigeben: ")
    person = people("approver, from the mail")
    person.open(link)
    assert "möchten Sie diese Bestellung über 118,80" in person.text("#decision-question")
    person.check("30-decision-link")
    assert (await shop.get(held["id"], buyer_h)).json()["status"] == "pending_approval"  # opening decided nothing
    person.fill("comment", "Per Mail freigegeben")
    person.click("#confirm")
    assert "Ihre Entscheidung ist gespeichert" in person.text("#decision-done")
    person.check("31-decision-done")
    assert (await shop.get(held["id"], buyer_h)).json()["status"] in ("released", "transmitted", "confirmed")
