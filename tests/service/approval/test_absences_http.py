"""``/api/absences`` on the in-memory store, with a stand-in for the token verifier: the request's rules (422 with a
machine-readable code, never a 500), who may do what, tenancy, and the answer's shape (ADR 0020)."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest

from approval.adapters.outbound.read_model import OrderSummaries
from approval.application.orders import Orders
from approval.main import create_app
from approval.settings import ApprovalSettings
from tests.service.approval.test_bulk_decisions_http import auth, stand_in_caller
from tests.service.approval.test_orders_application import BUDGET, order
from tests.support.approval import Company

PATH = "/api/absences"


@pytest.fixture
async def api(monkeypatch) -> AsyncIterator[tuple[httpx.AsyncClient, Orders]]:
    async def no_waiting_orders(self, company_id, approver_id, limit):  # the read model is PostgreSQL's
        return []

    monkeypatch.setattr(OrderSummaries, "pending_routed_to", no_waiting_orders)
    settings = ApprovalSettings(
        database_url="memory://", process_roles=["api"], log_format="console", fence_timeout_s=0
    )
    app = create_app(settings, caller=stand_in_caller)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://approval") as client:
        yield client, app.state.runtime.app


@pytest.fixture
def world(api):
    client, orders = api
    company = Company(orders)
    buyer = company.member("buyer", ["place_orders"], BUDGET)
    anna = company.member("anna", ["approve_orders"])
    sam = company.member("sam", ["approve_orders"])
    company.approvers(anna)
    return client, orders, company, buyer, anna, sam


def period(hours: float = 8, start: timedelta = timedelta(0)) -> dict[str, str]:
    begin = datetime.now(UTC) + start
    return {"from": begin.isoformat(), "until": (begin + timedelta(hours=hours)).isoformat()}


async def test_an_approver_records_their_absence_and_gets_it_back_with_its_audit(world):
    client, _, _, _, anna, sam = world
    body = {"substitute_id": str(sam.id), "from": "2030-08-01T08:00:00+02:00", "until": "2030-08-15T18:00:00+02:00"}
    r = await client.post(PATH, json=body, headers=auth(anna))
    assert r.status_code == 201, r.text
    out = r.json()
    assert out == {
        "id": out["id"], "approver": {"id": str(anna.id), "name": "Anna Muster", "erased": False},
        "substitute": {"id": str(sam.id), "name": "Sam Muster", "erased": False},
        "from": "2030-08-01T06:00:00Z", "until": "2030-08-15T16:00:00Z", "state": "upcoming",
        "recorded_by": {"id": str(anna.id), "name": "Anna Muster", "erased": False}, "recorded_at": out["recorded_at"],
        "withdrawn_by": None, "withdrawn_at": None,
    }  # fmt: skip
    assert (await client.get(f"{PATH}/{out['id']}", headers=auth(sam))).json() == out
    assert (await client.get(PATH, headers=auth(anna))).json() == {"items": [out]}


async def test_withdrawing_answers_the_absence_with_who_withdrew_it(world):
    client, _, company, _, anna, sam = world
    r = await client.post(PATH, json={"substitute_id": str(sam.id), **period()}, headers=auth(anna))
    absence = r.json()["id"]
    r = await client.delete(f"{PATH}/{absence}", headers=auth(company.main))
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["withdrawn_by"]["id"]) == ("withdrawn", str(company.main.id))
    again = await client.delete(f"{PATH}/{absence}", headers=auth(anna))
    assert (again.status_code, again.json()["error"]["code"]) == (409, "wrong_state")
    assert (await client.get(PATH, headers=auth(anna))).json() == {"items": []}
    past = await client.get(PATH, params={"include_past": "true"}, headers=auth(anna))
    assert [a["id"] for a in past.json()["items"]] == [absence]


async def test_a_substitute_decides_on_behalf_and_the_order_says_so(world):
    client, orders, _, buyer, anna, sam = world
    r = await client.post(PATH, json={"substitute_id": str(sam.id), **period()}, headers=auth(anna))
    assert r.status_code == 201, r.text
    held = orders.submit(buyer, order(20))
    r = await client.post(f"/api/orders/{held.id}/approve", json={"comment": "Für Anna"}, headers=auth(sam))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["decided_by"]["id"] == str(sam.id)
    assert out["decided_on_behalf_of"] == {"id": str(anna.id), "name": "Anna Muster", "erased": False}
    assert out["conversation"][-1]["on_behalf_of"]["id"] == str(anna.id)
    offered, approved = (next(t for t in out["timeline"] if t["event"] == e) for e in ("OfferedToSubstitute",
                                                                                       "Approved"))  # fmt: skip
    assert offered["on_behalf_of"]["id"] == str(anna.id)
    assert offered["detail"]["substitute"] == {"id": str(sam.id), "name": "Sam Muster", "erased": False}
    assert (approved["by"]["id"], approved["on_behalf_of"]["id"]) == (str(sam.id), str(anna.id))


async def test_a_substitutes_own_order_is_self_approval(world):
    client, orders, company, _, anna, _ = world
    sam = company.member("sam", ["place_orders", "approve_orders"], BUDGET)
    await client.post(PATH, json={"substitute_id": str(sam.id), **period()}, headers=auth(anna))
    own = orders.submit(sam, order(20))
    r = await client.post(f"/api/orders/{own.id}/approve", json={}, headers=auth(sam))
    assert (r.status_code, r.json()["error"]["code"]) == (403, "self_approval")


def _detail_types(r: httpx.Response) -> set[str]:
    return {d["type"] for d in r.json()["error"].get("details", [])}


BAD = {
    "no_time_zone": ({"from": "2030-08-01T08:00:00", "until": "2030-08-02T08:00:00"}, "timezone_aware"),
    "not_a_time": ({"from": "morgen", "until": "2030-08-02T08:00:00Z"}, "datetime_from_date_parsing"),
    "beyond_what_is_kept": ({"from": "0001-01-01T00:00:00+01:00", "until": "2030-08-02T08:00:00Z"}, "invalid_period"),
    "no_until": ({"from": "2030-08-01T08:00:00Z"}, "missing"),
    "unknown_field": ({"note": "Urlaub"}, "extra_forbidden"),
    "python_names": ({"starts_at": "2030-08-01T08:00:00Z", "ends_at": "2030-08-02T08:00:00Z"}, "extra_forbidden"),
    "malformed_substitute": ({"substitute_id": "sam"}, "uuid_parsing"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD)
async def test_bad_input_is_422_invalid_request_with_the_fields_type(world, case):
    client, *_, anna, sam = world
    change, detail = BAD[case]
    body = {"substitute_id": str(sam.id), **period(), **change}
    body = {k: v for k, v in body.items() if not (case == "no_until" and k == "until")}
    r = await client.post(PATH, json=body, headers=auth(anna))
    assert (r.status_code, r.json()["error"]["code"]) == (422, "invalid_request"), r.text
    assert detail in _detail_types(r)


REFUSED = {
    "until_before_from": (period(hours=-1), "invalid_period"),
    "until_equal_from": (period(hours=0), "invalid_period"),
    "longer_than_a_year": (period(hours=367 * 24), "period_too_long"),
    "over_already": (period(hours=1, start=-timedelta(days=2)), "period_over"),
}


@pytest.mark.parametrize("case", REFUSED)
async def test_an_unsound_period_is_422_with_its_code(world, case):
    client, *_, anna, sam = world
    r = await client.post(PATH, json={"substitute_id": str(sam.id), **REFUSED[case][0]}, headers=auth(anna))
    assert (r.status_code, r.json()["error"]["code"]) == (422, REFUSED[case][1]), r.text


async def test_a_buyer_naming_themselves_substitute_is_refused(world):
    client, _, _, buyer, anna, _ = world
    for body in ({}, {"approver_id": str(anna.id)}):
        r = await client.post(PATH, json={"substitute_id": str(buyer.id), **period(), **body}, headers=auth(buyer))
        assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed"), r.text


async def test_people_who_do_not_fit_are_422_with_a_code(world):
    client, _, company, buyer, anna, sam = world
    cases = [({"approver_id": str(anna.id), "substitute_id": str(anna.id)}, "invalid_substitute"),
             ({"approver_id": str(anna.id), "substitute_id": str(buyer.id)}, "invalid_substitute"),
             ({"approver_id": str(buyer.id), "substitute_id": str(sam.id)}, "not_an_approver")]  # fmt: skip
    for body, code in cases:
        r = await client.post(PATH, json={**body, **period()}, headers=auth(company.main))
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), (body, r.text)


async def test_another_companys_people_and_absences_are_404_like_missing_ones(world):
    client, orders, company, _, anna, sam = world
    other = Company(orders)
    theirs_approver = other.member("approver", ["approve_orders"])
    r = await client.post(PATH, json={"approver_id": str(theirs_approver.id), "substitute_id": str(other.main.id),
                                      **period()}, headers=auth(other.main))  # fmt: skip
    theirs = r.json()["id"]
    missing = str(uuid4())
    for method in ("GET", "DELETE"):
        a = await client.request(method, f"{PATH}/{theirs}", headers=auth(company.main))
        b = await client.request(method, f"{PATH}/{missing}", headers=auth(company.main))
        assert a.status_code == b.status_code == 404
        assert a.json() == b.json()
    for body in ({"approver_id": str(theirs_approver.id), "substitute_id": str(sam.id)},
                 {"approver_id": str(anna.id), "substitute_id": str(other.main.id)}):  # fmt: skip
        r = await client.post(PATH, json={**body, **period()}, headers=auth(company.main))
        assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    assert (await client.get(f"{PATH}/{theirs}", headers=auth(other.main))).json()["withdrawn_at"] is None
