"""notifications' part of erasing a person, through the whole stack (ADR 0035, decision 3 and plan step 1): a buyer
gets a mail (their order rejected), is deactivated and erased by the main contact; notifications then forgets them
as a recipient and no table of its database — its event store included, where their address and names were stored
sealed with their key (users' key endpoint), which users destroyed — holds their address or names."""

from __future__ import annotations

import asyncio
from uuid import UUID

import pytest
from pydantic import SecretStr

from kc_runtime.settings import ServiceSettings
from notifications.application.mails import Mails
from tests.conftest import eventually
from tests.integration.notifications.test_erasure_postgres import found_in_tables, messages_to
from tests.support.infra import dsn_for, random_suffix
from tests.support.shop import BUDGET, Shop
from tests.support.users import unique_email

pytestmark = pytest.mark.journey


async def test_an_erased_buyer_who_was_mailed_leaves_no_address_or_name_in_notifications_tables(shop: Shop):
    tag = random_suffix()
    email, first, last = unique_email(f"erased-{tag}"), f"Erika{tag}", f"Muster{tag}"
    buyer, buyer_auth = await shop.api.user(
        shop.company, ["buyer"], email=email, first_name=first, last_name=last, language="en", budget=BUDGET
    )
    await eventually(lambda: shop.known_to_approval(buyer_auth), what="approval to know the buyer")
    order = await shop.order(buyer_auth, quantity=12)
    rejected = await shop.do(order["id"], "reject", shop.main, {"comment": "Bitte höchstens 10"})
    assert rejected.status_code == 200, rejected.text
    (mail,) = await eventually(lambda: messages_to(email), what="the rejection mail to the buyer")
    assert first in (mail.get("text") or "")  # the mail named them: there was something to forget

    deactivated = await shop.gw.post(f"/api/users/{buyer['id']}/deactivate", headers=shop.main)
    assert deactivated.status_code == 200, deactivated.text
    erased = await shop.gw.post(f"/api/users/{buyer['id']}/erasure", headers=shop.main)
    assert erased.status_code == 200, erased.text

    dsn = dsn_for("notifications")
    mails = Mails(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=1).eventsourcing_env())
    try:

        async def forgotten() -> bool:
            recipient = await asyncio.to_thread(mails.recipient, UUID(buyer["id"]))
            return recipient is not None and recipient.erased

        await eventually(forgotten, what="notifications to forget the erased buyer")
        recipient = await asyncio.to_thread(mails.recipient, UUID(buyer["id"]))
        assert recipient is not None and (recipient.email, recipient.first_name, recipient.last_name) == ("", "", "")
    finally:
        mails.close()

    assert await found_in_tables(dsn, [email, first, last], skip=set()) == []
