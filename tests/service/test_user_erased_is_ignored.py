"""Every consumer of users.users.v1 handles ``UserErased`` (ADR 0035): each scrubs what it keeps of the person in
plain form, in its consumer's transaction. Until a service's scrubbing step was built its consumer read the message,
counted it as ignored and committed its offset; since erp-sync's step none is left that ignores it.

``SCRUBBING`` names every consumer with the test of its handler: a new consumer of the topic must be added there."""

from __future__ import annotations

from approval.adapters.inbound.kafka import consumer_specs as approval_specs
from approval.application.orders import Orders
from contracts.topics import USERS_USERS
from contracts.users.v1 import UserErased
from erp_sync.adapters.inbound.kafka import exchange_consumer_specs as erp_sync_specs
from erp_sync.application.exchanges import Exchanges
from notifications.adapters.inbound.kafka import consumer_specs as notifications_specs
from notifications.application.mails import Mails
from registration.adapters.inbound.kafka import consumer_specs as registration_specs
from registration.application.registrations import Registrations

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}

SCRUBBING: dict[str, str] = {
    "approval": "tests/service/approval/test_erasure.py",
    "erp-sync": "tests/service/erp_sync/test_erasure.py",
    "notifications": "tests/service/notifications/test_erasure.py",
    "registration": "tests/service/registration/test_erasure.py",
}
"""Services whose consumer handles ``UserErased`` (their scrubbing step is built), and where that is tested."""


def test_every_consumer_of_the_users_topic_scrubs():
    assert set(USERS_USERS.consumers) == set(SCRUBBING)


def test_the_services_that_scrub_handle_user_erased():
    (spec,) = [s for s in notifications_specs(Mails(env=MEMORY)) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers
    (spec,) = [s for s in approval_specs(Orders(env=MEMORY), lambda _company: []) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers
    (spec,) = [s for s in registration_specs(Registrations(env=MEMORY)) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers
    (spec,) = [s for s in erp_sync_specs(Exchanges(env=MEMORY)) if s.topic is USERS_USERS]
    assert UserErased in spec.handlers
