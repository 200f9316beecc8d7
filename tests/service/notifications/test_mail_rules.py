"""Which mails an event causes, in which language, and only once per event and recipient."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import uuid4

import pytest

from contracts import Envelope, Money
from contracts.approval import v1 as approval
from contracts.registration import v1 as registration
from contracts.topics import APPROVAL_ORDERS, REGISTRATION_REGISTRATIONS, USERS_USERS
from contracts.users import v1 as users
from kc_runtime.consumer import Inbound
from notifications.adapters.inbound.kafka import consumer_specs
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails
from notifications.domain.model import Mail
from tests.support.messages import registration_completed

TOTAL = Money(amount=Decimal("1234.50"), currency="EUR")


def inbound(message, topic, event_id=None) -> Inbound:
    envelope = Envelope(
        event_id=event_id or uuid4(), event_type=message.event_type, schema_version=1,
        occurred_at=datetime.now(UTC), correlation_id="c", causation_id="c", producer="x", source_notification_id=1,
    )  # fmt: skip
    return Inbound(message, envelope, topic.name, 0, 0)


@pytest.fixture
def mails() -> Mails:
    return Mails(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def handle(mails: Mails, message, topic, event_id=None):
    spec = next(s for s in consumer_specs(mails) if s.topic.name == topic.name)
    return spec.handlers[type(message)](inbound(message, topic, event_id))


def test_a_completed_registration_welcomes_the_main_contact_at_their_address(mails):
    (mail,) = handle(
        mails, registration_completed(email="erika@example.com", language="en"), REGISTRATION_REGISTRATIONS
    )
    assert (mail.kind, mail.to_email, mail.language) == ("registration_completed", "erika@example.com", "en")


def test_an_order_waiting_for_approval_mails_each_approver(mails):
    a, b = uuid4(), uuid4()
    message = approval.OrderApprovalRequested(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), approver_ids=[a, b],
        exceeded_limits=[approval.ExceededLimit(limit="max_quantity", allowed=Decimal(10), actual=Decimal(12))],
        total=TOTAL, total_quantity=12, requested_at=datetime.now(UTC),
    )  # fmt: skip
    queued = handle(mails, message, APPROVAL_ORDERS)
    assert {m.to_user_id for m in queued} == {a, b}
    assert {m.kind for m in queued} == {"approval_requested"}


def test_a_rejection_mails_the_buyer_with_the_comment(mails):
    buyer = uuid4()
    message = approval.OrderRejected(
        order_id=uuid4(), company_id=uuid4(), buyer_id=buyer, approver_id=uuid4(), comment="Zu teuer",
        total=TOTAL, rejected_at=datetime.now(UTC),
    )  # fmt: skip
    (mail,) = handle(mails, message, APPROVAL_ORDERS)
    assert mail.to_user_id == buyer and mail.data["comment"] == "Zu teuer"


def test_the_same_event_queues_its_mail_once(mails):
    event_id = uuid4()
    message = registration_completed()
    mails.save(*handle(mails, message, REGISTRATION_REGISTRATIONS, event_id))
    assert handle(mails, message, REGISTRATION_REGISTRATIONS, event_id) == []


def test_users_are_kept_as_recipients_with_their_language(mails):
    user_id = uuid4()
    created = users.UserCreated(
        user_id=user_id, company_id=uuid4(), email="max@example.com", first_name="Max", last_name="Muster",
        language="en", role_ids=["buyer"], permissions=["place_orders"], budget=users.Budget(),
        is_main_contact=False, created_at=datetime.now(UTC),
    )  # fmt: skip
    mails.save(*handle(mails, created, USERS_USERS))
    mails.save(*handle(mails, users.UserEmailChanged(user_id=user_id, company_id=uuid4(), email="m@example.com",
                                                     previous_email="max@example.com"), USERS_USERS))  # fmt: skip
    recipient = mails.recipient(user_id)
    assert (recipient.email, recipient.language, recipient.name) == ("m@example.com", "en", "Max Muster")


def test_mail_ids_derive_from_event_and_recipient_case_insensitively():
    assert Mail.create_id("e1", "A@Example.com") == Mail.create_id("e1", "a@example.com")
    assert Mail.create_id("e1", "a@example.com") != Mail.create_id("e2", "a@example.com")


SAMPLES = {
    "registration_confirmation": {"first_name": "Erika", "last_name": "Muster", "company_name": "Muster GmbH",
                                  "confirm_path": "/registrierung/bestaetigen?id=1&token=abc", "expires_at": "2026-11-27T10:00:00+00:00"},
    "email_change_confirmation": {"first_name": "Erika", "last_name": "Muster",
                                  "confirm_path": "/account/email/confirm?change=1&token=abc", "expires_at": "2026-11-27T10:00:00+00:00"},
    "registration_completed": {"first_name": "Erika", "last_name": "Muster", "company_name": "Muster GmbH", "customer_number": "10001"},
    "approval_requested": {"order_path": "/orders/1", "total": {"amount": "1234.5", "currency": "EUR"}, "reference": "PO-1",
                           "exceeded": [{"limit": "max_value", "allowed": "1000", "actual": "1234.5", "currency": "EUR"}],
                           "recipient_name": "Anna Approver"},
    "approval_reassigned": {"order_path": "/orders/1", "recipient_name": "Anna Approver"},
    "order_approved": {"order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"}, "comment": "ok",
                       "modifications": [{"field": "line:A:quantity", "before": "12", "after": "9"}], "recipient_name": "Bob"},
    "order_rejected": {"order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"}, "comment": "<b>nein</b>",
                       "recipient_name": "Bob"},
    "order_released_on_re_evaluation": {"order_path": "/orders/1", "total": {"amount": "10", "currency": "EUR"},
                                        "recipient_name": "Bob"},
}  # fmt: skip


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_mail_renders_in_both_languages(kind, language):
    rendered = Templates().render(kind, language, shop_url="https://shop.example", **SAMPLES[kind])
    assert rendered.subject and "\n" not in rendered.subject
    assert rendered.text.strip() and rendered.html.strip()
    assert ("Guten Tag" in rendered.text) == (language == "de")


def test_html_mails_escape_what_people_typed():
    rendered = Templates().render("order_rejected", "de", shop_url="https://x", **SAMPLES["order_rejected"])
    assert "<b>nein</b>" not in rendered.html and "&lt;b&gt;nein&lt;/b&gt;" in rendered.html
    assert "<b>nein</b>" in rendered.text


MONEY = {"de": "1.234,50\xa0€", "en": "€1,234.50"}
MONEY_KINDS = ("approval_requested", "order_approved", "order_rejected", "order_released_on_re_evaluation")


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize("kind", MONEY_KINDS)
def test_the_orders_total_reads_as_money_of_the_mails_language_in_subject_text_and_html(kind, language):
    data = {**SAMPLES[kind], "total": {"amount": "1234.5", "currency": "EUR"}}
    rendered = Templates().render(kind, language, shop_url="https://x", **data)
    # The subject is one line of plain spaces; text and html keep the no-break space between amount and currency.
    assert MONEY[language].replace("\xa0", " ") in rendered.subject
    assert MONEY[language] in rendered.text and MONEY[language] in rendered.html
    assert "EUR" not in rendered.subject + rendered.text + rendered.html


PERIODS = [
    {"limit": "period_value", "allowed": "200", "actual": "1234.5", "currency": "EUR", "period": "month:2026-12"},
    {"limit": "period_quantity", "allowed": "5", "actual": "1200", "currency": None, "period": "quarter:2026-Q4"},
]
# (what the lines are about, the mail, what differs from its sample, the lines it shows in German and in English)
LINES = [
    ("an exceeded value limit reads as money", "approval_requested", {},
     {"de": ["Höchstwert pro Bestellung: 1.000,00\xa0€, bestellt: 1.234,50\xa0€"],
      "en": ["maximum value per order: €1,000.00, ordered: €1,234.50"]}),
    ("an exceeded quantity limit reads as a number", "approval_requested",
     {"exceeded": [{"limit": "max_quantity", "allowed": "1000", "actual": "1200"}]},
     {"de": ["Höchstmenge pro Bestellung: 1.000, bestellt: 1.200"],
      "en": ["maximum quantity per order: 1,000, ordered: 1,200"]}),
    ("an exceeded period budget reads with its period and what was left", "approval_requested", {"exceeded": PERIODS},
     {"de": ["Budget für Dezember 2026: noch verfügbar 200,00\xa0€, bestellt: 1.234,50\xa0€",
             "Mengenbudget für 4. Quartal 2026: noch verfügbar 5, bestellt: 1.200"],
      "en": ["budget for December 2026: still available €200.00, ordered: €1,234.50",
             "quantity budget for 4th quarter 2026: still available 5, ordered: 1,200"]}),
    ("an approver's price change reads as money", "order_approved",
     {"modifications": [{"field": "line:A:unit_price", "before": "1249.5", "after": "1100"}]},
     {"de": ["Stückpreis A: 1.249,50\xa0€ → 1.100,00\xa0€"], "en": ["unit price A: €1,249.50 → €1,100.00"]}),
]  # fmt: skip


@pytest.mark.parametrize("language", ["de", "en"])
@pytest.mark.parametrize(("about", "kind", "changed", "expected"), LINES, ids=[line[0] for line in LINES])
def test_the_figures_of_a_mail_read_in_its_language_in_text_and_html(about, kind, changed, expected, language):
    rendered = Templates().render(kind, language, shop_url="https://x", **{**SAMPLES[kind], **changed})
    for line in expected[language]:
        assert line in rendered.text and line in rendered.html, about


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "Der Link gilt bis 27. November 2026, 11:00 MEZ"), ("en", "The link is valid until 27 November 2026, 11:00 CET")],
)  # fmt: skip
def test_a_links_expiry_reads_as_a_date_of_the_mails_language(mails, language, expected):
    message = registration.ConfirmationRequested(
        registration_id=uuid4(), email="erika@example.com", first_name="Erika", last_name="Muster",
        language=language, token="abc", company_name="Muster GmbH", confirm_path="/registrierung/bestaetigen?id=1&token=abc",
        expires_at=datetime(2026, 11, 27, 10, 0, tzinfo=UTC),
    )  # fmt: skip
    (mail,) = handle(mails, message, REGISTRATION_REGISTRATIONS)
    rendered = Templates().render(mail.kind, mail.language, shop_url="https://x", **mail.data)
    assert expected in rendered.text and expected in rendered.html


def test_an_email_change_is_confirmed_from_the_new_address_only_once(mails):
    user_id = uuid4()
    requested = users.UserEmailChangeRequested(
        change_id=uuid4(), user_id=user_id, company_id=uuid4(), email="new@example.com", previous_email="old@example.com",
        first_name="Max", last_name="Muster", language="en", token="tok", expires_at=datetime.now(UTC),
        confirm_path="/account/email/confirm?change=1&token=tok",
    )  # fmt: skip
    event_id = uuid4()
    queued = handle(mails, requested, USERS_USERS, event_id=event_id)
    assert [(m.kind, m.to_email, m.language) for m in queued] == [
        ("email_change_confirmation", "new@example.com", "en")
    ]
    assert queued[0].data["confirm_path"] == requested.confirm_path
    mails.save(*queued)
    assert handle(mails, requested, USERS_USERS, event_id=event_id) == []


def test_an_order_offered_to_a_substitute_mails_the_substitute_whom_they_stand_in_for_until_when(mails):
    substitute, absent = uuid4(), uuid4()
    until = datetime(2026, 12, 24, 17, 0, tzinfo=UTC)
    message = approval.OrderOfferedToSubstitute(
        order_id=uuid4(), company_id=uuid4(), buyer_id=uuid4(), substitute_id=substitute, on_behalf_of=absent,
        until=until, exceeded_limits=[approval.ExceededLimit(limit="max_quantity", allowed=Decimal(10), actual=Decimal(12))],
        total=TOTAL, total_quantity=12, reference="PO-1", offered_at=datetime.now(UTC),
    )  # fmt: skip
    (mail,) = handle(mails, message, APPROVAL_ORDERS)
    assert (mail.kind, mail.to_user_id) == ("approval_requested", substitute)
    assert (mail.data["on_behalf_of"], mail.data["until"]) == (str(absent), until.isoformat())


@pytest.mark.parametrize(
    ("language", "subject", "line"),
    [
        ("de", "Freigabe erbeten (Vertretung für Anna Approver): Bestellung über 1.234,50 € (PO-1)",
         "wartet auf Ihre Freigabe als Vertretung für Anna Approver, abwesend bis 24. Dezember 2026, 18:00 MEZ:"),
        ("en", "Approval requested (substitute for Anna Approver): order of €1,234.50 (PO-1)",
         "waits for your approval as the substitute for Anna Approver, who is away until 24 December 2026, 18:00 CET:"),
    ],
)  # fmt: skip
def test_a_substitutes_approval_request_says_for_whom_and_until_when(language, subject, line):
    data = {**SAMPLES["approval_requested"], "recipient_name": "Sam Substitute", "on_behalf_of": str(uuid4()),
            "until": "2026-12-24T17:00:00+00:00", "on_behalf_of_name": "Anna Approver"}  # fmt: skip
    rendered = Templates().render("approval_requested", language, shop_url="https://x", **data)
    assert rendered.subject == subject
    assert line in rendered.text and line in rendered.html
