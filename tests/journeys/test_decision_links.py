"""One-click decisions from the approval-request mail, through the gateway (issue 17 item 4, ADR 0031): the mail read
from the SMTP sink carries approve and reject links; opening one (as a mail scanner would) changes nothing and shows
a confirmation page; the confirmation decides once, as the approver; a used, outdated, forged or foreign link decides
nothing, and a deactivated approver's link is refused at once."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import eventually
from tests.journeys.test_approval import mails_to
from tests.support.security import error_code
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

PREVIEW, DECIDE = "/api/decision-links/preview", "/api/decision-links/decide"


async def asked(shop: Shop, language: str = "de") -> tuple[dict, dict, dict, dict, dict[str, str]]:
    """An order over budget waiting for a named approver, and the links of the approver's mail (action → URL)."""
    _, buyer_h = await shop.person(["buyer"], budget=BUDGET)
    approver, approver_h = await shop.person(["approver"], language=language)
    await shop.approvers(approver, seen_by=buyer_h)
    held = await shop.order(buyer_h, quantity=12)
    assert held["status"] == "pending_approval"

    async def mail() -> dict | None:
        return next((m for m in await mails_to(approver["email"]) if held["id"] in m["text"]), None)

    text = (await eventually(mail, what="the approval request mail"))["text"]
    words = (
        {"approve": "Freigeben", "reject": "Ablehnen"}
        if language == "de"
        else {"approve": "Approve", "reject": "Reject"}
    )
    links = {action: re.search(rf"^{word}: (\S+)$", text, re.M).group(1) for action, word in words.items()}  # type: ignore[union-attr]
    return buyer_h, approver, approver_h, held, links


def token_of(url: str) -> str:
    (token,) = parse_qs(urlsplit(url).query)["token"]
    return token


async def test_opening_the_link_changes_nothing_and_confirming_decides_once(shop: Shop):
    buyer_h, approver, _, held, links = await asked(shop)
    assert set(links) == {"approve", "reject"} and links["approve"] != links["reject"]
    approve = token_of(links["approve"])

    # a mail scanner follows both links, twice: a page asking for the confirmation, nothing decided
    async with httpx.AsyncClient(timeout=10) as scanner:
        for url in (links["approve"], links["reject"], links["approve"]):
            page = await scanner.get(url)
            assert page.status_code == 200, page.text
            assert 'id="confirm"' in page.text and "118,80" in page.text
    r = await shop.gw.post(PREVIEW, json={"token": approve})
    assert r.status_code == 200, r.text
    assert (r.json()["action"], r.json()["approver"]["id"], r.json()["order"]["id"]) == (
        "approve", approver["id"], held["id"],
    )  # fmt: skip
    now = (await shop.get(held["id"], buyer_h)).json()
    assert (now["status"], now["version"]) == ("pending_approval", held["version"])

    r = await shop.gw.post(DECIDE, json={"token": approve, "comment": "Per Mail freigegeben"})
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "released"
    (approved,) = [e for e in done["timeline"] if e["event"] == "Approved"]
    assert approved["by"]["id"] == approver["id"]

    # used: neither link decides again, and the page says why
    for action in ("approve", "reject"):
        again = await shop.gw.post(DECIDE, json={"token": token_of(links[action]), "comment": "nochmal"})
        assert (again.status_code, error_code(again.json())) == (409, "decision_link_outdated"), again.text
        (now,) = again.json()["error"]["details"]  # where the released order is now (the ERP may have it already)
        assert now["status"] in ("released", "transmitted", "confirmed"), now
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(links["reject"])
    assert page.status_code == 409 and 'data-code="decision_link_outdated"' in page.text
    final = (await shop.get(held["id"], buyer_h)).json()
    assert [e["event"] for e in final["timeline"]].count("Approved") == 1


async def test_the_reject_link_asks_for_a_reason_on_its_page_and_rejects(shop: Shop):
    buyer_h, _, _, held, links = await asked(shop, language="en")
    async with httpx.AsyncClient(timeout=10) as browser:
        page = await browser.get(links["reject"])
        assert page.status_code == 200 and 'data-action="reject"' in page.text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        action = urlsplit(links["reject"])._replace(query="").geturl()
        form = {"csrf": csrf, "token": token_of(links["reject"])}
        # the session cookie is Secure: a browser sends it back to 127.0.0.1 over http, httpx does not by itself
        session = {"Cookie": page.headers["set-cookie"].split(";", 1)[0]}
        empty = await browser.post(action, data={**form, "comment": ""}, headers=session)
        assert empty.status_code == 422  # a rejection without a reason: asked again, nothing decided
        assert (await shop.get(held["id"], buyer_h)).json()["status"] == "pending_approval"
        done = await browser.post(action, data={**form, "comment": "Bitte über den Rahmenvertrag"}, headers=session)
        assert done.status_code == 200 and 'data-status="rejected"' in done.text, done.text
    rejected = (await shop.get(held["id"], buyer_h)).json()
    assert rejected["status"] == "rejected"
    assert any(m["text"] == "Bitte über den Rahmenvertrag" for m in rejected["conversation"])


async def test_a_forged_link_decides_nothing(shop: Shop):
    buyer_h, _, _, held, links = await asked(shop)
    header, payload, signature = token_of(links["approve"]).split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    for token in (f"{header}.{payload}.{flipped}", f"{header}.{payload}.", "kein-link"):
        r = await shop.gw.post(DECIDE, json={"token": token})
        assert (r.status_code, error_code(r.json())) == (400, "invalid_decision_link"), r.text
    assert (await shop.get(held["id"], buyer_h)).json()["status"] == "pending_approval"


async def test_a_deactivated_approvers_link_is_refused_at_once(shop: Shop):
    buyer_h, approver, _, held, links = await asked(shop)
    r = await shop.gw.post(f"/api/users/{approver['id']}/deactivate", headers=shop.main)
    assert r.status_code == 200, r.text
    r = await shop.gw.post(DECIDE, json={"token": token_of(links["approve"])})  # the users fence (ADR 0012)
    assert (r.status_code, error_code(r.json())) == (403, "user_inactive"), r.text
    assert (await shop.get(held["id"], buyer_h)).json()["status"] == "pending_approval"


async def test_a_decision_in_the_shop_outdates_the_mails_links(shop: Shop):
    buyer_h, _, approver_h, held, links = await asked(shop)
    r = await shop.do(held["id"], "reject", approver_h, {"comment": "im Shop entschieden"})
    assert r.status_code == 200, r.text
    r = await shop.gw.post(DECIDE, json={"token": token_of(links["approve"])})
    assert (r.status_code, error_code(r.json())) == (409, "decision_link_outdated"), r.text
    assert (await shop.get(held["id"], buyer_h)).json()["status"] == "rejected"
