"""`make demo` keeps working: the tour (scripts/demo.py) runs against the stack and its order is at the ERP as the
approver changed it."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.journeys.conftest import ERP_SIMULATOR
from tests.support.infra import GATEWAY

pytestmark = pytest.mark.journey

ROOT = Path(__file__).resolve().parents[2]
DEMO_DEADLINE_S = 240


@pytest.fixture(scope="module")
async def demo(tmp_path_factory) -> tuple[int, str, dict]:
    """One run of the tour with a fresh customer: (exit code, what it printed, its summary)."""
    summary = tmp_path_factory.mktemp("demo") / "demo.json"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "scripts" / "demo.py"), "--fresh", "--summary", str(summary),
        "--gateway", GATEWAY, "--erp", ERP_SIMULATOR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(process.communicate(), DEMO_DEADLINE_S)
    assert process.returncode is not None
    return process.returncode, out.decode(), json.loads(summary.read_text()) if summary.exists() else {}


async def test_the_demo_registers_a_customer_and_its_approved_order_reaches_the_erp_as_changed(demo, erp_simulator):
    code, out, outcome = demo
    assert code == 0, out[-4000:]
    assert outcome["status"] == "released", out[-4000:]

    customer = (await erp_simulator.get(f"/customers/{outcome['customer_number']}")).json()
    assert customer["customer_center_active"] is True
    assert customer["activation"]["company_id"] == outcome["company_id"]

    sales_order = await erp_simulator.get(f"/sales-orders/{outcome['order_id']}")
    assert sales_order.status_code == 200, sales_order.text
    payload = sales_order.json().get("payload", sales_order.json())
    assert [(line["sku"], line["quantity"]) for line in payload["lines"]] == [("A-100", 9)]
    assert payload["approved_by"] == outcome["approver_id"]


async def test_the_demo_prints_each_step_with_the_curl_line_to_type(demo):
    code, out, _ = demo
    assert code == 0, out[-4000:]
    for step in ("Register it", "Confirm the address", "Sign in as the main contact", "creates a buyer",
                 "places the order", "approval with a change", "At the ERP"):  # fmt: skip
        assert step in out, f"no step {step!r} in:\n{out}"
    assert f"curl -s -X POST {GATEWAY}/api/registrations" in out
    assert '-H "Authorization: Bearer $BUYER"' in out
    assert "/dev-auth/token" in out and "jq -r .access_token" in out
