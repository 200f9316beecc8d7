"""approval's part of erasing a person, through the whole stack (ADR 0035, decisions 3 and 4): a buyer and an approver
with marker names write on an order (the checkout comment, a message, the approval's comment), the approver approves
it; both are deactivated and erased by the main contact. Then the order, its timeline, the company's list and the
explanation show two erased users — ids kept, names and words gone, the approval still there — and no table of
approval's database holds a marker, its event store included: names, e-mail addresses and comments are stored sealed
with their person's key (ADR 0035 plan step 1), which users destroyed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import eventually
from tests.support.erasure import found_in_tables, holds_any
from tests.support.infra import dsn_for, random_suffix
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop
from tests.support.users import unique_email

pytestmark = pytest.mark.journey


async def person(shop: Shop, role: str, tag: str, first: str, last: str, **fields: Any) -> tuple[dict, dict]:
    user, auth = await shop.api.user(
        shop.company, [role], email=unique_email(f"erased-{tag}"), first_name=first, last_name=last, **fields
    )
    await eventually(lambda: shop.known_to_approval(auth), what=f"approval to know the {role}")
    return user, auth


@dataclass
class Written:
    """A buyer and an approver with marker names who wrote on an order the approver approved."""

    buyer: dict
    approver: dict
    words: dict[str, str]
    markers: list[str]
    order_id: str
    approved: dict
    """the order as the approval answered it"""


async def written_on_and_approved(shop: Shop, buyer_name: str, approver_name: str) -> Written:
    """The buyer writes the checkout comment and a message on an order over budget, the approver approves it with
    a comment; every name, address and word carries a marker of this run."""
    tag = random_suffix()
    buyer, buyer_auth = await person(shop, "buyer", tag, f"{buyer_name}{tag}", f"Besteller{tag}", budget=BUDGET)
    approver, approver_auth = await person(shop, "approver", tag, f"{approver_name}{tag}", f"Freigeber{tag}")
    words = {"checkout": f"Rampe{tag}", "message": f"Kommentar{tag}", "approval": f"Genehmigt{tag}"}
    markers = [buyer["email"], buyer["first_name"], buyer["last_name"], approver["email"], approver["first_name"],
               approver["last_name"], *words.values()]  # fmt: skip
    await shop.approvers(approver, seen_by=buyer_auth)

    body = order_body(quantity=12)
    body["buyer_comment"] = words["checkout"]
    placed = await shop.gw.post("/api/orders", json=body, headers=buyer_auth)
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    said = await shop.gw.post(f"/api/orders/{order_id}/comments", json={"text": words["message"]}, headers=buyer_auth)
    assert said.status_code == 200, said.text

    async def approved() -> dict | None:
        r = await shop.do(order_id, "approve", approver_auth, {"comment": words["approval"]})
        return r.json() if r.status_code == 200 else None

    done = await eventually(approved, what="the approver to approve the order")
    return Written(buyer, approver, words, markers, order_id, done)


async def deactivated_and_erased(shop: Shop, *users: dict) -> None:
    """The main contact deactivates and erases each of ``users``."""
    for user in users:
        r = await shop.gw.post(f"/api/users/{user['id']}/deactivate", headers=shop.main)
        assert r.status_code == 200, r.text
        r = await shop.gw.post(f"/api/users/{user['id']}/erasure", headers=shop.main)
        assert r.status_code == 200, r.text


async def test_an_order_decided_by_erased_users_shows_erased_users_and_keeps_the_approval(shop: Shop):
    written = await written_on_and_approved(shop, "Bruno", "Anna")
    buyer, approver, words, markers, order_id = (
        written.buyer, written.approver, written.words, written.markers, written.order_id
    )  # fmt: skip
    assert written.approved["decided_by"] == {"id": approver["id"],
                                              "name": approver["first_name"] + " " + approver["last_name"],
                                              "erased": False}  # fmt: skip
    before = (await shop.get(order_id, shop.main)).text
    assert set(holds_any(before, markers)) >= {buyer["first_name"], approver["last_name"], *words.values()}

    await deactivated_and_erased(shop, buyer, approver)

    async def shown_erased() -> dict | None:
        r = await shop.get(order_id, shop.main)
        assert r.status_code == 200, r.text
        out = r.json()
        return out if out["buyer"]["erased"] and out["decided_by"]["erased"] else None

    order = await eventually(shown_erased, what="approval to show the order's buyer and approver as erased")
    assert order["status"] in ("released", "transmitted", "confirmed")
    assert order["buyer"] == {"id": buyer["id"], "name": None, "erased": True}
    assert order["decided_by"] == {"id": approver["id"], "name": None, "erased": True}
    assert order["buyer_comment"] is None
    (step,) = [e for e in order["timeline"] if e["event"] == "Approved"]  # "approved by an erased user"
    assert step["by"] == {"id": approver["id"], "name": None, "erased": True} and step["comment"] is None
    # the conversation keeps what always makes an entry (a message); the optional comments of a checkout and an
    # approval no longer open, so they make none (their steps stay in the timeline, by an erased user)
    kinds = [(m["kind"], m["author"]["erased"], m["text"]) for m in order["conversation"]]
    assert kinds == [("comment", True, None)]
    assert holds_any(str(order), markers) == []

    async def listed() -> dict | None:  # the list is a projection: it may lag behind the order
        r = await shop.gw.get("/api/orders", params={"scope": "company"}, headers=shop.main)
        assert r.status_code == 200 and holds_any(r.text, markers) == [], r.text
        return next((o for o in r.json()["items"] if o["id"] == order_id), None)

    item = await eventually(listed, what="the order in the company's list")
    assert item["buyer"] == {"id": buyer["id"], "name": None, "erased": True}
    explained = await shop.gw.get(f"/api/orders/{order_id}/explanation", headers=shop.main)
    assert explained.status_code == 200, explained.text
    assert explained.json()["decided_by"]["erased"] is True and holds_any(explained.text, markers) == []

    async def scrubbed() -> bool:
        return await found_in_tables(dsn_for("approval"), markers, set()) == []

    await eventually(scrubbed, what="no marker in any table of approval's database, the event store included")
