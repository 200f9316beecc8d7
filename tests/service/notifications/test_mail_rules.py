"""Which mails an event causes, in which language, and only once per event and recipient."""

from datetime import UTC, datetime
from uuid import uuid4

from contracts import Envelope
from contracts.topics import REGISTRATION_REGISTRATIONS
from kc_runtime.consumer import Inbound
from notifications.adapters.inbound.kafka import consumer_specs
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.domain.model import Mail
from tests.support.messages import registration_completed


def inbound(message, event_id=None) -> Inbound:
    envelope = Envelope(
        event_id=event_id or uuid4(),
        event_type=message.event_type,
        schema_version=1,
        occurred_at=datetime.now(UTC),
        correlation_id="c",
        causation_id="c",
        producer="registration",
        source_notification_id=1,
    )
    return Inbound(message, envelope, REGISTRATION_REGISTRATIONS.name, 0, 0)


def handler(mails: Mails):
    (spec,) = consumer_specs(mails, Templates(), "https://shop.example")
    return next(iter(spec.handlers.values()))


def test_a_completed_registration_welcomes_the_main_contact_in_german():
    mails = Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    (mail,) = handler(mails)(inbound(registration_completed(email="erika@example.com", language="de")))
    assert mail.recipient == "erika@example.com"
    assert "ist aktiv" in mail.subject
    assert "Hauptkontakt" in mail.text and "https://shop.example" in mail.html


def test_an_english_main_contact_gets_english_mail():
    mails = Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    (mail,) = handler(mails)(inbound(registration_completed(language="en")))
    assert mail.subject.startswith("Your customer center")
    assert mail.language == "en"


def test_the_same_event_queues_its_mail_once():
    mails = Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    h = handler(mails)
    event_id = uuid4()
    message = registration_completed()
    first = h(inbound(message, event_id))
    mails.save(*first)
    assert h(inbound(message, event_id)) == []


def test_html_templates_escape_what_customers_typed():
    mails = Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
    message = registration_completed()
    message = message.model_copy(update={"company": message.company.model_copy(update={"name": "<script>x</script>"})})
    (mail,) = handler(mails)(inbound(message))
    assert "<script>" not in mail.html and "&lt;script&gt;" in mail.html


def test_mail_ids_derive_from_event_and_recipient_case_insensitively():
    assert Mail.create_id("e1", "A@Example.com") == Mail.create_id("e1", "a@example.com")
    assert Mail.create_id("e1", "a@example.com") != Mail.create_id("e2", "a@example.com")
