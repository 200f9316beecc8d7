"""Daily digests (ADR 0027): sent once although the sender is killed mid-send, and by the scheduler on its own once
due. Real notifications processes, PostgreSQL and the SMTP sink; the process SIGKILLs itself at a failpoint, as
``kill -9`` at that instant would."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr

from kc_runtime.settings import ServiceSettings
from notifications.application.mails import MailRequest, Mails
from notifications.domain.digests import Digest, DigestStatus
from tests.conftest import eventually
from tests.integration.conftest import service_env
from tests.support.infra import ServiceProcess, random_suffix
from tests.support.ops import ops_headers

pytestmark = pytest.mark.integration

SMTP_SINK = "http://127.0.0.1:8113"


async def messages_to(address: str) -> list[dict]:
    async with httpx.AsyncClient(base_url=SMTP_SINK, timeout=10) as sink:
        response = await sink.get("/messages", params={"to": address})
        response.raise_for_status()
        return response.json()


def far_hour() -> str:
    """A digest hour twelve hours from now in Berlin: every digest of these tests is due in 11 to 12 hours."""
    return str((datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin")).hour + 12) % 24)


def notifications(dsn: str, prefix: str) -> ServiceProcess:
    # the scheduler looks for due digests five times a second: it must leave a digest that is not due alone
    env = service_env(dsn, prefix, CONSUMER_GROUP=f"it-notifications-{random_suffix()}", SMTP_PORT="2525",
                      DIGEST_HOUR=far_hour(), DIGEST_CHECK_INTERVAL_S="0.2")  # fmt: skip
    return ServiceProcess("notifications", "NOTIFICATIONS_", env, name="notifications-digests")


async def send_now(service: ServiceProcess, user_id: UUID) -> httpx.Response:
    async with httpx.AsyncClient(base_url=service.url, headers=ops_headers("notifications"), timeout=30) as client:
        return await client.post("/ops/digests/send", json={"user_id": str(user_id), "include_not_due": True})


def a_buyer_with_a_deferred_mail(mails: Mails, address: str) -> tuple[UUID, str]:
    """A buyer who chose the digest for approvals, and an approval mail queued for them (as the consumer would)."""
    buyer = uuid4()
    mails.save(*mails.recipient_changed(buyer, email=address, first_name="Bea", last_name="Buyer", language="en",
                                        active=True))  # fmt: skip
    mails.choose(buyer, {"order_approved": "digest"}, by=buyer)
    order_id = str(uuid4())
    data = {"order_id": order_id, "order_path": f"/orders/{order_id}", "total": {"amount": "118.8", "currency": "EUR"},
            "comment": "Passt", "modifications": []}  # fmt: skip
    mails.save(*mails.queue(str(uuid4()), [MailRequest("order_approved", data, to_user_id=buyer)]))
    return buyer, order_id


async def killed_while_sending(
    failpoint: str, database, topic_prefix, processes
) -> tuple[ServiceProcess, Mails, UUID, str, str, dict]:
    """A process that dies at ``failpoint`` while sending the buyer's digest, and what its successor sent."""
    dsn = await database("notifications")
    doomed = notifications(dsn, topic_prefix)
    processes.append(doomed.start(failpoints=failpoint))
    await asyncio.to_thread(doomed.wait_ready)
    mails = Mails(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env())
    address = f"digest-{random_suffix()}@example.com"
    buyer, order_id = await asyncio.to_thread(a_buyer_with_a_deferred_mail, mails, address)

    async def listed() -> bool:
        async with httpx.AsyncClient(base_url=doomed.url, headers=ops_headers("notifications")) as client:
            r = await client.get("/ops/digests", params={"user_id": str(buyer), "pending": "true"})
            return any(d["mails"] == 1 for d in r.json()["items"])

    await eventually(listed, what="the mail deferred into the buyer's digest")
    async with httpx.AsyncClient(base_url=doomed.url, headers=ops_headers("notifications"), timeout=30) as client:
        due_only = await client.post("/ops/digests/send", json={"user_id": str(buyer)})
    assert (due_only.status_code, due_only.json()["sent"]) == (200, [])  # not due for hours: not sent
    with pytest.raises(httpx.HTTPError):
        await send_now(doomed, buyer)  # the sender dies holding the claim
    await asyncio.to_thread(doomed.wait_exit, 10)

    again = doomed.restarted()
    processes.append(again)
    await asyncio.to_thread(again.wait_ready)

    async def sent_by_the_next() -> list:
        r = await send_now(again, buyer)
        return r.json()["sent"] if r.status_code == 200 else []  # 409 until its scheduler holds the lock

    (sent,) = await eventually(sent_by_the_next, what="the restarted process to send the digest")
    return again, mails, buyer, address, order_id, sent


async def test_a_digest_whose_sender_dies_after_claiming_it_is_sent_once_by_the_next(database, topic_prefix, processes):
    again, mails, buyer, address, order_id, sent = await killed_while_sending(
        "digest.after_claim", database, topic_prefix, processes
    )
    assert sent["mails"] == 1
    (digest_mail,) = await eventually(lambda: messages_to(address), what="the digest at the SMTP sink")
    assert f"/orders/{order_id}" in digest_mail["text"]

    r = await send_now(again, buyer)
    assert (r.status_code, r.json()["sent"]) == (200, [])
    assert len(await messages_to(address)) == 1
    digest = await asyncio.to_thread(mails.digest, UUID(sent["digest_id"]))
    assert isinstance(digest, Digest) and (digest.status, digest.attempts) == (DigestStatus.SENT, 2)
    mails.close()


async def test_a_digest_the_server_took_before_its_sender_died_comes_again_with_the_same_message_id(
    database, topic_prefix, processes
):
    """The window every mail has (ADR 0001, 0027): accepted by the server, not yet recorded. The copy is
    recognisable as the same mail; a third sweep sends nothing."""
    again, mails, buyer, address, _, _ = await killed_while_sending(
        "digest.after_send", database, topic_prefix, processes
    )
    first, second = await eventually(
        lambda: _two(messages_to(address)), what="the digest and its copy at the SMTP sink"
    )
    assert first["headers"]["Message-ID"] == second["headers"]["Message-ID"]
    assert first["headers"]["Message-ID"].startswith("<digest-")
    r = await send_now(again, buyer)
    assert (r.status_code, r.json()["sent"]) == (200, [])
    mails.close()


async def _two(probe) -> list | None:
    found = await probe
    return found if len(found) == 2 else None


async def test_a_digest_whose_hour_has_come_is_sent_by_the_scheduler_on_its_own(database, topic_prefix, processes):
    dsn = await database("notifications")
    service = notifications(dsn, topic_prefix)
    processes.append(service.start())
    await asyncio.to_thread(service.wait_ready)
    mails = Mails(env=ServiceSettings(database_url=SecretStr(dsn), db_pool_size=2).eventsourcing_env())
    address = f"due-{random_suffix()}@example.com"

    def yesterdays_digest() -> str:
        """A mail deferred into yesterday's digest, due an hour ago (as if the process had been down since)."""
        buyer = uuid4()
        mails.save(*mails.recipient_changed(buyer, email=address, first_name="Bea", last_name="Buyer", language="de",
                                            active=True))  # fmt: skip
        order_id = str(uuid4())
        data = {"order_id": order_id, "order_path": f"/orders/{order_id}", "comment": "Zu viel",
                "total": {"amount": "118.8", "currency": "EUR"}}  # fmt: skip
        (mail,) = mails.queue(str(uuid4()), [MailRequest("order_rejected", data, to_user_id=buyer)])
        due = datetime.now(UTC) - timedelta(hours=1)
        digest = Digest.open(buyer, (due - timedelta(days=1)).date(), due)
        digest.add(mail.id)
        mail.defer(digest.id, digest.day, due)
        mails.save(mail, digest)
        return order_id

    order_id = await asyncio.to_thread(yesterdays_digest)
    (digest_mail,) = await eventually(lambda: messages_to(address), what="the due digest sent without a trigger")
    assert digest_mail["subject"].startswith("Ihre Zusammenfassung vom ")
    assert f"/orders/{order_id}" in digest_mail["text"] and "Zu viel" in digest_mail["text"]
    mails.close()
