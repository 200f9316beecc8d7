"""The controller's figures through the gateway (issue 18 item 1, ADR 0021): after real orders — released within
budget, approved, rejected, confirmed by the ERP — the controller reads spend, statuses, cycle times, rejections,
budget use and top articles as JSON and as CSV; a buyer may not; no parameter reaches another company."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from uuid import uuid4
from xml.etree import ElementTree

import pytest

from tests.conftest import eventually
from tests.support.orders import order_body
from tests.support.shop import BUDGET, Shop

pytestmark = pytest.mark.journey

URL = "/api/reports/figures"
REASON = "=1+1 Bitte über KST 200"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(content: bytes) -> dict[str, list[list]]:
    """The sheets of an XLSX file (rows of strings and numbers), read with the standard library; asserts that no
    cell holds a formula."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(io.BytesIO(content)) as z:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ] if "xl/sharedStrings.xml" in z.namelist() else []  # fmt: skip
        targets = {r.get("Id"): r.get("Target") for r in ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))}
        out = {}
        for sheet in ElementTree.fromstring(z.read("xl/workbook.xml")).find("m:sheets", ns):
            xml = ElementTree.fromstring(z.read("xl/" + targets[sheet.get(rel)].removeprefix("/xl/")))
            assert not xml.findall(".//m:f", ns), "a formula in the workbook"
            rows = []
            for row in xml.findall(".//m:sheetData/m:row", ns):
                cells = []
                for c in row.findall("m:c", ns):
                    v = c.find("m:v", ns)
                    if v is None:
                        cells.append("")
                    elif c.get("t") == "s":
                        cells.append(strings[int(v.text)])
                    else:
                        cells.append(float(v.text))
                rows.append(cells)
            out[sheet.get("name")] = rows[1:]
    return out


def money(value: dict) -> Decimal:
    assert value["currency"] == "EUR"
    return Decimal(value["amount"])


async def test_the_controller_reads_the_figures_of_real_orders_as_json_and_csv(shop: Shop):
    controller, controller_h = await shop.person(["controller"])
    buyer, buyer_h = await shop.person(["buyer"], budget=BUDGET)  # 10 pieces per order
    approver, approver_h = await shop.person(["approver"])
    await shop.approvers(approver, seen_by=buyer_h)

    within = await shop.order(buyer_h, quantity=2)  # 2 × 9.90, released at once
    approved = await shop.order(buyer_h, quantity=12)  # over 10 pieces: held
    rejected = await shop.order(buyer_h, quantity=11)
    assert (within["status"], approved["status"], rejected["status"]) == (
        "released", "pending_approval", "pending_approval",
    )  # fmt: skip
    r = await shop.do(approved["id"], "approve", approver_h, {"comment": "ok"})
    assert r.status_code == 200, r.text
    # a comment that a spreadsheet would run as a formula: the exports keep it text
    r = await shop.do(rejected["id"], "reject", approver_h, {"comment": REASON})
    assert r.status_code == 200, r.text

    async def settled() -> dict | None:
        """The figures once the ERP confirmed both released orders (the simulator confirms what it receives)."""
        r = await shop.gw.get(URL, headers=controller_h)
        assert r.status_code == 200, r.text
        body = r.json()
        (eur,) = body["spend"] or [None]
        return body if eur and money(eur["confirmed"]) == Decimal("138.60") else None

    figures = await eventually(settled, timeout=60, what="the figures to show both orders confirmed by the ERP")
    (spend,) = figures["spend"]
    assert spend["orders"] == 3
    assert money(spend["submitted"]) == Decimal("247.50")  # 19.80 + 118.80 + 108.90
    assert money(spend["released"]) == Decimal("138.60")
    assert money(spend["approved"]) == Decimal("118.80")
    assert money(spend["rejected"]) == Decimal("108.90")
    assert {s["status"]: s["orders"] for s in figures["orders_by_status"]} == {"confirmed": 2, "rejected": 1}
    (ref,) = figures["spend_by_reference"]  # every order of the shop's checkout carries PO-4711
    assert (ref["reference"], ref["orders"], money(ref["released"])) == ("PO-4711", 3, Decimal("138.60"))

    assert figures["cycle_time"]["decisions"] == 2 and figures["cycle_time"]["p90_seconds"] >= 0
    (mine,) = figures["cycle_time_per_approver"]
    assert mine["approver"]["id"] == approver["id"] and mine["approver"]["name"]
    assert (mine["approved"], mine["rejected"], mine["rejection_rate"]) == (1, 1, "0.5000")
    rejections = figures["rejections"]
    assert (rejections["rate"], rejections["reasons"]) == ("0.5000", [{"reason": REASON, "count": 1}])
    assert (rejections["erp"]["answered"], rejections["erp"]["rejected"]) == (2, 0)

    (use,) = figures["budget_use"]
    assert use["user"]["id"] == buyer["id"]
    assert (use["orders"], use["over_order_limit"], use["limits"]["max_quantity"]) == (3, 2, 2)
    (article,) = figures["top_articles"]
    assert (article["sku"], article["quantity"], money(article["value"])) == ("A-100", 14, Decimal("138.60"))

    # the same figures as CSV, one per row
    r = await shop.gw.get(URL, params={"format": "csv"}, headers=controller_h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    rows = list(csv.DictReader(io.StringIO(r.text)))
    cell = {(row["section"], row["key"], row["currency"], row["metric"]): row["value"] for row in rows}
    assert Decimal(cell[("spend", "", "EUR", "released")]) == Decimal("138.60")
    assert cell[("cycle_time_per_approver", approver["id"], "", "rejected")] == "1"
    assert cell[("budget_use", buyer["id"], "EUR", "limit:max_quantity")] == "2"
    assert cell[("rejection_reasons", "'" + REASON, "", "count")] == "1"

    # and as a workbook: a sheet per section, figures as numbers, the comment a string and no formula anywhere
    r = await shop.gw.get(URL, params={"format": "xlsx"}, headers=controller_h)
    assert r.status_code == 200 and r.headers["content-type"] == XLSX, r.text
    sheets = workbook(r.content)
    assert ["EUR", "released", 138.6] in [row[1:] for row in sheets["spend"]]
    assert [REASON, "", "count", 1.0] in sheets["rejection_reasons"]

    # filters: the buyer, the approver, the status, the reference (cost centre)
    async def orders_with(**params: str) -> int:
        r = await shop.gw.get(URL, params=params, headers=controller_h)
        assert r.status_code == 200, r.text
        return sum(s["orders"] for s in r.json()["spend"])

    assert await orders_with(user_id=buyer["id"]) == 3
    assert await orders_with(user_id=controller["id"]) == 0
    assert await orders_with(approver_id=approver["id"]) == 2
    assert await orders_with(status="rejected") == 1
    assert await orders_with(reference="PO-4711") == 3
    assert await orders_with(reference="KST-200") == 0
    assert await orders_with(**{"from": "2000-01-01", "until": "2000-02-01"}) == 0


async def test_a_buyer_may_not_read_the_figures_and_bad_periods_are_refused_with_a_code(shop: Shop):
    _, buyer_h = await shop.person(["buyer"])
    r = await shop.gw.get(URL, headers=buyer_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")

    cases = {
        (("from", "2026-03-01"), ("until", "2026-02-01")): "invalid_period",
        (("from", "yesterday"),): "invalid_period",
        (("from", "2026-01-01T00:00:00"),): "invalid_period",  # no offset: which midnight?
        (("from", "2020-01-01"), ("until", "2026-01-01")): "period_too_long",
        (("status", "lost"),): "invalid_request",
        (("user_id", "not-a-user"),): "invalid_request",
        (("format", "xls"),): "invalid_request",
    }
    for params, code in cases.items():
        r = await shop.gw.get(URL, params=dict(params), headers=shop.main)
        assert (r.status_code, r.json()["error"]["code"]) == (422, code), (params, r.text)


async def test_no_parameter_reaches_another_companys_figures(shop: Shop, users_api):
    other = Shop(users_api, await users_api.company())
    _, other_buyer = await other.person(["buyer"], budget=BUDGET)
    await other.order(other_buyer, quantity=3)
    _, controller_h = await shop.person(["controller"])

    async def others_have_figures() -> bool:
        r = await other.gw.get(URL, headers=other.main)
        return r.status_code == 200 and bool(r.json()["spend"])

    await eventually(others_have_figures, what="the other company's order in its figures")
    mine = await shop.gw.get(URL, headers=controller_h)
    for params in ({"company_id": other.company.id}, {"company": other.company.id}, {"company_id": str(uuid4())}):
        r = await shop.gw.get(URL, params=params, headers=controller_h)
        assert r.status_code == 200 and r.json() == mine.json(), params
    assert mine.json()["spend"] == []  # this company ordered nothing
    r = await shop.gw.post("/api/orders/evaluate", json=order_body(quantity=1), headers=controller_h)
    assert r.status_code == 403  # a controller reads figures, and orders nothing


async def test_a_controller_whose_role_is_taken_away_is_refused_at_the_very_next_request(shop: Shop):
    """No wait, no retry: once users answered the change of roles, approval judges on it (ADR 0012)."""
    controller, controller_h = await shop.person(["controller"])
    assert (await shop.gw.get(URL, headers=controller_h)).status_code == 200
    r = await shop.gw.put(f"/api/users/{controller['id']}/roles", json={"role_ids": ["buyer"]}, headers=shop.main)
    assert r.status_code == 200, r.text
    r = await shop.gw.get(URL, params={"format": "csv"}, headers=controller_h)
    assert (r.status_code, r.json()["error"]["code"]) == (403, "not_allowed")
    # and given back, it counts at once too
    r = await shop.gw.put(f"/api/users/{controller['id']}/roles", json={"role_ids": ["controller"]}, headers=shop.main)
    assert r.status_code == 200, r.text
    assert (await shop.gw.get(URL, headers=controller_h)).status_code == 200
