"""A kept mail names nobody but its reader under the reader's key (ADR 0035): the substitute of an absent approver
is mailed the approval request naming the absent approver, but what notifications keeps of that mail — the queued
data, the subject and address it was sent to (sealed with the substitute's key), a digest that collected it — names
the absent approver by id only, so once the absent approver's key is gone nothing of them is readable there, although
the substitute's key still opens the mail. The same holds for every mail an order's events cause (the buyer, the
approvers, the main contact named in each other's mails): another person's words are sealed with their own key.

In-memory event store, the real consumer handlers, templates, dispatcher and digest sending; a key ring over a dict
stands in for users' key endpoint."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID, uuid4

import pytest

from contracts.approval import v1 as approval
from contracts.base import Message
from contracts.topics import APPROVAL_ORDERS, USERS_USERS
from contracts.users import v1 as users
from kc_runtime.eventstore import WorkerPool
from kc_runtime.sealing import KeyRing
from notifications.adapters.outbound.digests import DigestScheduler
from notifications.adapters.outbound.dispatcher import ERASED
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.domain.digests import Digest, DigestStatus
from notifications.domain.model import Mail, MailStatus
from tests.service.notifications.test_erasure import RecordingSender, erased, markers
from tests.service.notifications.test_mail_rules import handle
from tests.service.notifications.test_preferences_and_digests import BERLIN, MORNING, TOTAL
from tests.service.notifications.test_sealed_events import Users, dispatcher, stored
from tests.support.erasure import holds_any

UNTIL = datetime(2026, 12, 24, 16, 0, tzinfo=UTC)
KEPT_SUBJECT = {
    "en": "Approval requested (substitute): order of €1,234.50 (PO-4711)",
    "de": "Freigabe erbeten (Vertretung): Bestellung über 1.234,50 € (PO-4711)",
}
AS_SUBSTITUTE = {"en": "as the substitute, who is away until", "de": "als Vertretung, abwesend bis"}


def person(mails: Mails, keys: Users, language: str = "en") -> tuple[UUID, dict[str, str]]:
    """A user with a key and marker values, known to notifications."""
    user_id, values = keys.person(), markers()
    created = users.UserCreated(
        user_id=user_id, company_id=uuid4(), email=values["email"], first_name=values["first_name"],
        last_name=values["last_name"], language=language, status="active", role_ids=["approver"],
        permissions=["approve_orders"], budget=users.Budget(), is_main_contact=False, created_at=MORNING,
    )  # fmt: skip
    mails.save(*handle(mails, created, USERS_USERS))
    return user_id, values


def offered(substitute: UUID, absent: UUID) -> approval.OrderOfferedToSubstitute:
    return approval.OrderOfferedToSubstitute(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), substitute_id=substitute, on_behalf_of=absent,
        until=UNTIL, reference="PO-4711", exceeded_limits=[], total=TOTAL, total_quantity=12, offered_at=MORNING,
    )  # fmt: skip


def queued(mails: Mails, message: Message) -> list[Mail]:
    made = handle(mails, message, APPROVAL_ORDERS)
    mails.save(*made)
    return made


def erase(mails: Mails, keys: Users, ring: KeyRing, user_id: UUID) -> None:
    """users destroys the key and its ``UserErased`` arrives."""
    keys.erase(user_id)
    ring.forget(user_id)
    mails.save(*handle(mails, erased(user_id, uuid4()), USERS_USERS))


def as_read_by(mails: Mails, keys: Users, reader: UUID, aggregate_id: UUID) -> str:
    """Everything the event store keeps of the aggregate, as stored and as opened by whoever holds the reader's key
    only (every other person's key gone)."""
    mapper = copy.copy(mails.mapper)
    mapper.keys = KeyRing(lambda who: keys.keys.get(who) if who == reader else None)  # type: ignore[attr-defined]
    events = list(mails.recorder.select_events(aggregate_id))
    opened = [repr(vars(mapper.to_domain_event(e))) for e in events]
    return "\n".join([stored(mails, aggregate_id).decode(), *opened])


def names(values: dict[str, str]) -> list[str]:
    return [values["first_name"], values["last_name"], values["email"]]


# ---- the substitute's mail ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "de"])
async def test_the_substitute_is_mailed_the_absent_approvers_name_while_the_absent_approver_lives(
    mails, keys, language
):
    absent, absent_values = person(mails, keys)
    substitute, substitute_values = person(mails, keys, language)
    (mail,) = queued(mails, offered(substitute, absent))
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    ((to, rendered),) = sender.sent
    name = f"{absent_values['first_name']} {absent_values['last_name']}"
    assert to == substitute_values["email"]
    assert name in rendered.subject and name in rendered.text and name in rendered.html


@pytest.mark.parametrize("language", ["en", "de"])
async def test_the_subject_kept_of_the_substitutes_mail_leaves_the_absent_approver_out(mails, keys, language):
    absent, absent_values = person(mails, keys)
    substitute, _ = person(mails, keys, language)
    (mail,) = queued(mails, offered(substitute, absent))

    await dispatcher(mails, RecordingSender())._deliver(mail.id)

    kept = mails.find(mail.id)
    assert kept.status is MailStatus.SENT and kept.subject == KEPT_SUBJECT[language]
    assert kept.data["on_behalf_of"] == str(absent)  # for whom: by id
    assert holds_any(as_read_by(mails, keys, substitute, mail.id), names(absent_values)) == []


async def test_once_the_absent_approvers_key_is_gone_the_substitutes_kept_mail_holds_nothing_of_them(mails, keys, ring):
    absent, absent_values = person(mails, keys)
    substitute, substitute_values = person(mails, keys)
    (mail,) = queued(mails, offered(substitute, absent))
    await dispatcher(mails, RecordingSender())._deliver(mail.id)

    erase(mails, keys, ring, absent)

    kept = as_read_by(mails, keys, substitute, mail.id)
    assert holds_any(kept, names(absent_values)) == []
    assert holds_any(kept, [substitute_values["email"]]) == [substitute_values["email"]]  # the reader's key opens
    assert mails.find(mail.id).sent_to == substitute_values["email"]


@pytest.mark.parametrize("arrived", [True, False], ids=["erasure arrived", "only the key gone"])
async def test_a_substitutes_mail_sent_after_the_absent_approver_is_erased_names_nobody_and_goes_out(
    mails, keys, ring, arrived
):
    absent, absent_values = person(mails, keys)
    substitute, substitute_values = person(mails, keys)
    (mail,) = queued(mails, offered(substitute, absent))
    if arrived:
        erase(mails, keys, ring, absent)
    else:  # users destroyed the key; its UserErased is not here yet
        keys.erase(absent)
        ring.forget(absent)
    sender = RecordingSender()

    await dispatcher(mails, sender)._deliver(mail.id)

    ((to, rendered),) = sender.sent
    assert to == substitute_values["email"] and AS_SUBSTITUTE["en"] in rendered.text
    assert holds_any(f"{rendered.subject}\n{rendered.text}\n{rendered.html}", names(absent_values)) == []
    assert mails.find(mail.id).status is MailStatus.SENT


async def test_a_digest_collecting_the_substitutes_mail_keeps_nothing_of_the_absent_approver(mails, keys, ring):
    absent, absent_values = person(mails, keys)
    substitute, _ = person(mails, keys)
    (mail,) = queued(mails, offered(substitute, absent))
    digest = mails.defer(mail.id, 7, BERLIN, now=MORNING)
    assert digest is not None
    sender = RecordingSender()
    scheduler = DigestScheduler(
        sender=sender, mails=mails, templates=Templates(), base_url="https://x",  # type: ignore[arg-type]
        service="notifications", dsn="postgresql://unused", blocking=WorkerPool(2),
    )  # fmt: skip

    assert await scheduler._send(digest.id) is not None

    ((_, rendered),) = sender.sent
    assert absent_values["first_name"] in rendered.text  # the digest says it, as the mail would
    sent = mails.find(digest.id)
    assert isinstance(sent, Digest) and sent.status is DigestStatus.SENT
    erase(mails, keys, ring, absent)
    for kept in (digest.id, mail.id):
        assert holds_any(as_read_by(mails, keys, substitute, kept), names(absent_values)) == [], kept


async def test_the_substitutes_erasure_still_drops_what_is_kept_of_them_and_what_waits_for_them(mails, keys, ring):
    absent, _ = person(mails, keys)
    substitute, substitute_values = person(mails, keys)
    (sent,) = queued(mails, offered(substitute, absent))
    (waiting,) = queued(mails, offered(substitute, absent))
    await dispatcher(mails, RecordingSender())._deliver(sent.id)

    erase(mails, keys, ring, substitute)
    sender = RecordingSender()
    await dispatcher(mails, sender)._deliver(waiting.id)

    kept, dropped = mails.find(sent.id), mails.find(waiting.id)
    assert kept.status is MailStatus.SENT and (kept.sent_to, kept.subject) == (None, None)
    assert sender.sent == [] and (dropped.status, dropped.failure) == (MailStatus.FAILED, ERASED)
    for mail_id in (sent.id, waiting.id):
        assert holds_any(as_read_by(mails, keys, absent, mail_id), names(substitute_values)) == []


# ---- every mail of an order --------------------------------------------------------------------------------


async def test_no_mail_of_an_order_keeps_anyone_but_its_reader_readable_under_the_readers_key(mails, keys):
    buyer, approver, absent, substitute, main = (person(mails, keys) for _ in range(5))
    order = {"order_id": uuid4(), "company_id": uuid4(), "buyer_id": buyer[0], "total": TOTAL}
    limits = [approval.ExceededLimit(limit="max_quantity", allowed=Decimal(10), actual=Decimal(12))]
    figures = approval.CreditFigures(
        currency="EUR", credit_limit=Decimal(1000), open_receivables=Decimal(900), open_orders=Decimal(0),
        released_unconfirmed=Decimal(0), available=Decimal(100), as_of=MORNING,
    )  # fmt: skip
    words = f"Passt, Gruss {approver[1]['first_name']} {approver[1]['last_name']}"  # the approver's own words
    messages: list[Message] = [
        approval.OrderApprovalRequested(**order, approver_ids=[approver[0]], exceeded_limits=limits, total_quantity=12,
                                        reference="PO-4711", requested_at=MORNING),
        offered(substitute[0], absent[0]).model_copy(update={"buyer_id": buyer[0]}),
        approval.OrderApproversReassigned(**{k: order[k] for k in ("order_id", "company_id", "buyer_id")},
                                          approver_ids=[approver[0]], reassigned_at=MORNING),
        approval.OrderApprovalReminded(**order, approver_ids=[approver[0]], exceeded_limits=limits, total_quantity=12,
                                       waiting_since=MORNING, reminded_at=MORNING + timedelta(days=1), version=1),
        approval.OrderApproved(**order, approver_id=approver[0], comment=words, approved_at=MORNING),
        approval.OrderRejected(**order, approver_id=approver[0], comment=words, rejected_at=MORNING),
        approval.OrderCreditHeld(**order, reason="credit_limit", figures=figures, main_contact_id=main[0],
                                 held_at=MORNING),
        approval.OrderExpired(**order, waiting_since=MORNING, expired_at=MORNING + timedelta(days=7)),
    ]  # fmt: skip
    everyone = {who: values for who, values in (buyer, approver, absent, substitute, main)}
    made = [mail for message in messages for mail in queued(mails, message)]
    for mail in made:
        await dispatcher(mails, RecordingSender())._deliver(mail.id)

    assert {m.kind for m in made} >= {"approval_requested", "order_approved", "order_credit_hold_figures"}
    for mail in made:
        reader = mail.to_user_id
        assert reader is not None and mails.find(mail.id).status is MailStatus.SENT
        kept = as_read_by(mails, keys, reader, mail.id)
        others = [value for who, values in everyone.items() if who != reader for value in names(values)]
        assert holds_any(kept, others) == [], mail.kind
        assert holds_any(kept, [everyone[reader]["email"]]), mail.kind  # the reader's own address opens
