"""``/api/approvals/deadlines`` on the in-memory store, with a stand-in for the token verifier (ADR 0033): the main
contact sets the deadlines as ISO 8601 durations; an approver who would like more time and a buyer who would like
less get 403 with their own valid tokens; bad deadlines are 422 with a code; an expired order shows as such, with
its steps on the timeline, and its buyer may send it again."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.service.approval.test_absences_http import api  # noqa: F401  (the fixture)
from tests.service.approval.test_bulk_decisions_http import auth
from tests.service.approval.test_deadlines import BUDGET
from tests.service.approval.test_tiers_http import order_body
from tests.support.approval import Company

PATH = "/api/approvals/deadlines"
SET = {"remind_after": "PT4H", "escalate_after": "PT8H", "expire_after": "P3D"}


@pytest.fixture
def world(api):  # noqa: F811
    client, orders = api
    company = Company(orders)
    bea = company.member("bea", ["place_orders"], BUDGET)
    clara = company.member("clara", ["approve_orders"])
    company.approvers(clara)
    return client, orders, company, bea, clara


async def test_never_set_the_deadlines_are_none(world):
    client, _orders, company, _bea, _clara = world
    r = await client.get(PATH, headers=auth(company.main))
    assert r.status_code == 200, r.text
    assert r.json() == {"remind_after": None, "escalate_after": None, "expire_after": None, "changed_by": None,
                        "changed_at": None, "version": None}  # fmt: skip


async def test_the_main_contact_sets_them_as_durations_and_gets_them_back(world):
    client, _orders, company, _bea, _clara = world
    r = await client.put(PATH, json=SET, headers=auth(company.main))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["remind_after"], body["escalate_after"], body["expire_after"]) == ("PT4H", "PT8H", "P3D")
    assert (body["changed_by"], body["version"]) == (str(company.main.id), 2)
    assert (await client.get(PATH, headers=auth(company.main))).json()["expire_after"] == "P3D"


async def test_an_approver_or_a_buyer_cannot_change_or_see_the_deadlines_with_their_own_token(world):
    client, _orders, company, bea, clara = world
    await client.put(PATH, json=SET, headers=auth(company.main))
    for someone in (clara, bea):
        r = await client.put(PATH, json={"expire_after": "P300D"}, headers=auth(someone))
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
        assert (await client.get(PATH, headers=auth(someone))).status_code == 403
    assert (await client.get(PATH, headers=auth(company.main))).json()["expire_after"] == "P3D"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"remind_after": "PT8H", "escalate_after": "PT4H"}, "invalid_deadlines"),
        ({"remind_after": "PT10M"}, "invalid_deadlines"),
        ({"expire_after": "P400D"}, "invalid_deadlines"),
        ({"expire_after": "soon"}, "invalid_request"),
        ({"expire_after": "P3D", "company_id": "00000000-0000-0000-0000-000000000000"}, "invalid_request"),
    ],
)
async def test_bad_deadlines_are_refused_with_a_code(world, body, code):
    client, _orders, company, _bea, _clara = world
    r = await client.put(PATH, json=body, headers=auth(company.main))
    assert (r.status_code, r.json()["error"]["code"]) == (422, code), r.text
    assert (await client.get(PATH, headers=auth(company.main))).json()["version"] is None


async def test_an_expired_order_shows_its_steps_and_may_be_sent_again(world):
    client, orders, company, bea, _clara = world
    await client.put(PATH, json=SET, headers=auth(company.main))
    held = (await client.post("/api/orders", json=order_body(6), headers=auth(bea))).json()
    now = datetime.now(UTC)
    for after in (timedelta(hours=4), timedelta(hours=8), timedelta(days=3)):
        orders.clock = lambda after=after: now + after
        assert orders.take_deadline(held["id"]) is not None
    seen = (await client.get(f"/api/orders/{held['id']}", headers=auth(bea))).json()
    assert seen["status"] == "expired"
    assert [t["event"] for t in seen["timeline"]][-3:] == ["Reminded", "EscalatedOnDeadline", "Expired"]
    assert seen["timeline"][-1]["detail"]["waited_s"] >= 3 * 86400
    again = await client.post(
        f"/api/orders/{held['id']}/resubmit", json={"comment": "Bitte jetzt", "order": order_body(6)}, headers=auth(bea)
    )
    assert (again.status_code, again.json()["status"]) == (200, "pending_approval"), again.text
