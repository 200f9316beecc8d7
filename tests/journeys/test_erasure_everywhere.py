"""The proof of issue 18 item 4 (ADR 0035): a buyer and an approver with marker names and addresses write on an
order (the checkout comment, a message, the approval's comment), the approver approves it, mails go out; both are
deactivated and erased by the main contact. Afterwards no table of any of our services' databases — event stores
included — and no record our services wrote to Kafka since the test began holds a marker, plain, URL-encoded or
base64, while the order still shows it was approved by an erased user of the company. Only the ERP's topics may:
what we send the ERP is plain (decision 5: it cannot open sealed values, and it is asked to erase its contact
person), and what the ERP writes is its own record."""

from __future__ import annotations

import pytest

from contracts.topics import ERP_INBOUND_TOPICS, ERP_OUTBOUND_TOPICS, TOPICS
from tests.conftest import eventually
from tests.journeys.test_approval_erasure import deactivated_and_erased, written_on_and_approved
from tests.support.erasure import nothing_left, topic_ends
from tests.support.infra import KAFKA, dsn_for
from tests.support.shop import Shop

pytestmark = pytest.mark.journey

DATABASES = ("users", "registration", "approval", "notifications", "erp_sync")
THE_ERPS = {n for t in (*ERP_OUTBOUND_TOPICS, *ERP_INBOUND_TOPICS) for n in (t.name, t.dlt)}
"""The topics to and from the ERP: plain by decision 5 (to it), the ERP's own records (from it)."""


async def test_after_an_erasure_no_store_and_no_topic_of_ours_holds_anything_of_the_erased_people(shop: Shop):
    since = await topic_ends(KAFKA, [n for t in TOPICS for n in (t.name, t.dlt)])
    written = await written_on_and_approved(shop, "Everywhere", "Allerorts")
    buyer, approver, markers, order_id = written.buyer, written.approver, written.markers, written.order_id
    await deactivated_and_erased(shop, buyer, approver)

    async def shown_erased() -> dict | None:
        r = await shop.get(order_id, shop.main)
        out = r.json()
        return out if out["buyer"]["erased"] and out["decided_by"]["erased"] else None

    order = await eventually(shown_erased, what="approval to show the buyer and the approver as erased")
    assert order["decided_by"] == {"id": approver["id"], "name": None, "erased": True}  # the audit keeps its shape

    await nothing_left(KAFKA, since, markers, {d: dsn_for(d) for d in DATABASES}, THE_ERPS)
