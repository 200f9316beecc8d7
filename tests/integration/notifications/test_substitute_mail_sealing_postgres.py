"""The substitute's mail on PostgreSQL (ADR 0035): the approval request goes to the substitute naming the absent
approver, and once the absent approver's key is gone no table of notifications' database — the event store and the
mail log included — holds their name or address in any form (plain, URL-encoded, base64), nor does the substitute's
kept mail as the substitute's key still opens it; the substitute's own erasure leaves nothing of them either.

notifications' event store over a fresh database, the real consumer handlers, dispatcher and mail log projection;
a key ring over a dict stands in for users' key endpoint (this test's persons are no users of the running stack)."""

from __future__ import annotations

import pytest

from tests.integration.notifications.test_erasure_postgres import found_in_tables
from tests.integration.notifications.test_registration_mail_sealing_postgres import (  # noqa: F401 (a fixture)
    NotificationsOnPostgres,
    notifications,
)
from tests.service.notifications.test_erasure import RecordingSender
from tests.service.notifications.test_sealed_events import dispatcher
from tests.service.notifications.test_substitute_mail_sealing import (
    KEPT_SUBJECT,
    as_read_by,
    erase,
    names,
    offered,
    person,
    queued,
)
from tests.support.erasure import holds_any

pytestmark = pytest.mark.integration


async def test_once_the_absent_approvers_key_is_gone_no_table_holds_them_and_the_kept_mail_names_them_not(
    notifications: NotificationsOnPostgres,  # noqa: F811
):
    n = notifications
    absent, absent_values = person(n.mails, n.keys)
    substitute, substitute_values = person(n.mails, n.keys)
    (mail,) = queued(n.mails, offered(substitute, absent))
    sender = RecordingSender()
    await dispatcher(n.mails, sender)._deliver(mail.id)
    ((to, rendered),) = sender.sent
    assert to == substitute_values["email"] and absent_values["last_name"] in rendered.subject

    erase(n.mails, n.keys, n.ring, absent)
    await n.project()

    assert await found_in_tables(n.dsn, [*names(absent_values), rendered.subject], skip=set()) == []
    kept = as_read_by(n.mails, n.keys, substitute, mail.id)
    assert holds_any(kept, names(absent_values)) == []
    assert n.mails.find(mail.id).subject == KEPT_SUBJECT["en"]


async def test_the_substitutes_erasure_leaves_no_table_holding_them(
    notifications: NotificationsOnPostgres,  # noqa: F811
):
    n = notifications
    absent, _ = person(n.mails, n.keys)
    substitute, substitute_values = person(n.mails, n.keys)
    (mail,) = queued(n.mails, offered(substitute, absent))
    await dispatcher(n.mails, RecordingSender())._deliver(mail.id)

    erase(n.mails, n.keys, n.ring, substitute)
    await n.project()

    assert await found_in_tables(n.dsn, names(substitute_values), skip=set()) == []
    kept = n.mails.find(mail.id)
    assert (kept.sent_to, kept.subject) == (None, None)
