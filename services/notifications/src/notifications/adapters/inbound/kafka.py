"""Which events cause which mails, and the users the mails go to.

Mails: the registration's double opt-in and welcome mails; the confirmation of an e-mail change (to the new address); an order waiting for approval (to its approvers, and to the substitute of an absent one);
approved and sent on (to the buyer, with any modifications); released on a re-evaluation of the budget (to the
buyer); rejected (to the buyer, with the comment); the deadlines of waiting orders (ADR 0033): a reminder (the
approval request again, to the approvers reminded), an escalation (the approval request, to the approvers it adds)
and the expiry (to the buyer).
Each is queued once per event and recipient, however often the event is delivered.

A user erased (``UserErased``, ADR 0035) is forgotten as a recipient: no address, names or language are kept, no
later event of users brings them back, and no mail goes to them or about them any more (what still waits — to their
user id, or to an address on their behalf, like their e-mail change's confirmation — is dropped when its turn comes,
see the dispatcher and the digests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.approval import v1 as approval
from contracts.base import Message
from contracts.registration import v1 as registration
from contracts.topics import APPROVAL_ORDERS, REGISTRATION_REGISTRATIONS, USERS_USERS
from contracts.users import v1 as users
from kc_runtime.consumer import ConsumerSpec, Handler, Inbound
from notifications.application.mails import MailRequest, Mails

Rule = Callable[[Any], list[MailRequest]]


def _order_facts(m: Any) -> dict[str, Any]:
    return {
        "order_id": str(m.order_id),
        "order_path": f"/orders/{m.order_id}",
        "total": m.total.model_dump(mode="json"),
    }


def confirmation(m: registration.ConfirmationRequested) -> list[MailRequest]:
    """The double opt-in mail, to the applicant's address. It concerns the person the applicant will be as main contact
    (``person_id``, ADR 0040): their address and names are stored sealed with that person's key, and the mail is
    dropped, if still waiting, once the key is gone. Without ``person_id`` (attempts submitted before): plain."""
    return [
        MailRequest(
            "registration_confirmation",
            {
                "first_name": m.first_name,
                "last_name": m.last_name,
                "company_name": m.company_name or "",
                "confirm_path": m.confirm_path,
                "expires_at": m.expires_at.isoformat(),  # formatted per language when the mail is rendered
            },
            to_email=str(m.email),
            language=m.language,
            about_user_id=m.person_id,
        )
    ]


def email_change_confirmation(m: users.UserEmailChangeRequested) -> list[MailRequest]:
    """To the *new* address (it is not the user's address yet): the single-use link that makes the change. It
    concerns the user: dropped, if still waiting, when they are erased."""
    return [
        MailRequest(
            "email_change_confirmation",
            {
                "first_name": m.first_name,
                "last_name": m.last_name,
                "confirm_path": m.confirm_path,
                "expires_at": m.expires_at.isoformat(),  # formatted per language when the mail is rendered
            },
            to_email=m.email,
            language=m.language,
            about_user_id=m.user_id,
        )
    ]


def welcome(m: registration.RegistrationCompleted) -> list[MailRequest]:
    """To the new main contact's address: it concerns them (``main_contact.user_id``, ADR 0040), sealed with their key
    and dropped, if still waiting, once they are erased. Without the id (attempts submitted before): plain."""
    c = m.main_contact
    data = {
        "first_name": c.first_name,
        "last_name": c.last_name,
        "company_name": m.company.name,
        "customer_number": m.company.customer_number,
    }
    return [
        MailRequest("registration_completed", data, to_email=str(c.email), language=c.language, about_user_id=c.user_id)
    ]


def approval_requested(m: approval.OrderApprovalRequested) -> list[MailRequest]:
    data = {
        **_order_facts(m),
        "buyer_id": str(m.buyer_id),
        "reference": m.reference or "",
        "exceeded": [x.model_dump(mode="json") for x in m.exceeded_limits],
        "round": m.round,
        **({"version": m.version} if m.version is not None else {}),  # the mail's decision links (ADR 0031)
    }
    return [MailRequest("approval_requested", data, to_user_id=a) for a in m.approver_ids]


def offered_to_substitute(m: approval.OrderOfferedToSubstitute) -> list[MailRequest]:
    """The approval request, to the substitute of an absent approver: who they stand in for, until when. The absent
    approver is kept by id only: their name is the one known when the mail is sent (none once they are erased), and
    the subject kept of the sent mail leaves it out (ADR 0035)."""
    data = {
        **_order_facts(m),
        "buyer_id": str(m.buyer_id),
        "reference": m.reference or "",
        "exceeded": [x.model_dump(mode="json") for x in m.exceeded_limits],
        "round": m.round,
        "on_behalf_of": str(m.on_behalf_of),
        "until": m.until.isoformat(),  # formatted per language when the mail is rendered
        **({"version": m.version} if m.version is not None else {}),  # the mail's decision links (ADR 0031)
    }
    return [MailRequest("approval_requested", data, to_user_id=m.substitute_id)]


def reassigned(m: approval.OrderApproversReassigned) -> list[MailRequest]:
    data = {"order_id": str(m.order_id), "order_path": f"/orders/{m.order_id}", "buyer_id": str(m.buyer_id)}
    return [MailRequest("approval_reassigned", data, to_user_id=a) for a in m.approver_ids]


def approved(m: approval.OrderApproved) -> list[MailRequest]:
    data = {
        **_order_facts(m),
        "comment": m.comment or "",
        "approver_id": str(m.approver_id),  # the comment's author: sealed with their key (ADR 0035)
        "modifications": [x.model_dump(mode="json") for x in m.modifications],
        "bundled": m.bundle_id is not None,
    }
    return [MailRequest("order_approved", data, to_user_id=m.buyer_id)]


def re_evaluated(m: approval.OrderReEvaluated) -> list[MailRequest]:
    """Released because the main contact had it judged again on today's budget (ADR 0024): the buyer is told, as
    after an approval. An order still pending after it needs no mail (new approvers get the reassignment's)."""
    if m.outcome != "released":
        return []
    return [MailRequest("order_released_on_re_evaluation", _order_facts(m), to_user_id=m.buyer_id)]


def credit_held(m: approval.OrderCreditHeld) -> list[MailRequest]:
    """Released, but waiting for the company's credit (ADR 0026): the buyer is told why (never the company's
    figures); the main contact gets the figures and may cancel it."""
    facts = {**_order_facts(m), "reason": m.reason}
    out = [] if m.main_contact_id == m.buyer_id else [MailRequest("order_credit_hold", facts, to_user_id=m.buyer_id)]
    if m.main_contact_id is not None:
        figures = m.figures.model_dump(mode="json")
        out.append(
            MailRequest("order_credit_hold_figures", {**facts, "figures": figures}, to_user_id=m.main_contact_id)
        )
    return out


def reminded(m: approval.OrderApprovalReminded) -> list[MailRequest]:
    """The company's reminder deadline passed (ADR 0033): the approval request again, marked as a reminder, with the
    time the order has waited since and the one-click links of the order's version now."""
    data = {
        **_order_facts(m),
        "buyer_id": str(m.buyer_id),
        "reference": m.reference or "",
        "exceeded": [x.model_dump(mode="json") for x in m.exceeded_limits],
        "round": m.round,
        "reminder": True,
        "waiting_since": m.waiting_since.isoformat(),  # formatted per language when the mail is rendered
        "version": m.version,
    }
    return [MailRequest("approval_requested", data, to_user_id=a) for a in m.approver_ids]


def expired(m: approval.OrderExpired) -> list[MailRequest]:
    """Nobody decided before the company's expiry deadline (ADR 0033): the buyer may send it again."""
    facts = {**_order_facts(m), "waiting_since": m.waiting_since.isoformat()}
    return [MailRequest("order_expired", facts, to_user_id=m.buyer_id)]


def rejected(m: approval.OrderRejected) -> list[MailRequest]:
    data = {**_order_facts(m), "comment": m.comment, "approver_id": str(m.approver_id)}  # the comment's author
    return [MailRequest("order_rejected", data, to_user_id=m.buyer_id)]


MAIL_RULES: dict[str, dict[type[Message], Rule]] = {
    REGISTRATION_REGISTRATIONS.name: {
        registration.ConfirmationRequested: confirmation,
        registration.RegistrationCompleted: welcome,
    },
    APPROVAL_ORDERS.name: {
        approval.OrderApprovalRequested: approval_requested,
        approval.OrderApproversReassigned: reassigned,
        approval.OrderOfferedToSubstitute: offered_to_substitute,
        approval.OrderApproved: approved,
        approval.OrderReEvaluated: re_evaluated,
        approval.OrderRejected: rejected,
        approval.OrderCreditHeld: credit_held,
        approval.OrderApprovalReminded: reminded,
        approval.OrderExpired: expired,
    },
}


def consumer_specs(mails: Mails) -> list[ConsumerSpec]:
    topics = {t.name: t for t in (REGISTRATION_REGISTRATIONS, APPROVAL_ORDERS)}
    specs = []
    for topic_name, rules in MAIL_RULES.items():
        handlers: dict[type[Message], Handler] = {}
        for message_type, rule in rules.items():

            def handle(inbound: Inbound, rule: Rule = rule) -> list[Any]:
                return mails.queue(str(inbound.envelope.event_id), rule(inbound.message))

            handlers[message_type] = handle
        # Each event makes mails of its own: a partition's batch can be saved in one transaction.
        specs.append(ConsumerSpec(topic=topics[topic_name], handlers=handlers, batch=True))
    # notifications' read fence waits on it (ADR 0012): its offsets are committed after every batch
    specs.append(ConsumerSpec(topic=USERS_USERS, handlers=_recipient_handlers(mails), commit_at_once=True))
    return specs


def _recipient_handlers(mails: Mails) -> dict[type[Message], Handler]:
    def keep(extract: Callable[[Any], dict[str, Any]]) -> Handler:
        def handle(i: Inbound) -> list[Any]:
            return mails.recipient_changed(i.message.user_id, **extract(i.message))

        return handle

    def signed_in(m: users.UserSignInBound) -> list[Any]:
        return mails.recipient_signed_in(m.user_id, m.issuer, m.subject)

    return {
        users.UserCreated: keep(
            lambda m: {
                "email": m.email,
                "first_name": m.first_name,
                "last_name": m.last_name,
                "language": m.language,
                "active": m.status == "active",
            }
        ),
        users.UserRenamed: keep(lambda m: {"first_name": m.first_name, "last_name": m.last_name}),
        users.UserEmailChanged: keep(lambda m: {"email": m.email}),
        users.UserActivated: keep(lambda m: {"active": True}),
        users.UserDeactivated: keep(lambda m: {"active": False}),
        # who the preferences API's caller is (ADR 0014's binding, as approval keeps it)
        users.UserSignInBound: lambda i: signed_in(i.message),
        users.UserEmailChangeRequested: lambda i: (
            []  # a replayed request of an erased person: no mail, no names kept
            if mails.is_erased(i.message.user_id)
            else mails.queue(str(i.envelope.event_id), email_change_confirmation(i.message))
        ),
        # ADR 0035: forget the person's address, names and language, in this consumer's transaction
        users.UserErased: lambda i: mails.recipient_erased(i.message.user_id, i.message.erased_at),
    }
