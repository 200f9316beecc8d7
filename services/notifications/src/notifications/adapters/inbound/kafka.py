"""Which events cause which mails: contract messages in → rendered mails queued (once per event and recipient)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from contracts.base import Message
from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import REGISTRATION_REGISTRATIONS, Topic
from kc_runtime.consumer import ConsumerSpec, Inbound
from notifications.adapters.outbound.templates import Templates
from notifications.application.mails import Mails, RenderedMail


@dataclass(frozen=True)
class MailRule:
    topic: Topic
    message: type[Message]
    build: Callable[[Any, Templates, str], list[RenderedMail]]
    """(message, templates, shop base url) → the mails it causes."""


def _welcome(msg: RegistrationCompleted, templates: Templates, base_url: str) -> list[RenderedMail]:
    c = msg.main_contact
    return [
        templates.render(
            "registration_completed",
            c.language,
            str(c.email),
            first_name=c.first_name,
            last_name=c.last_name,
            company_name=msg.company.name,
            customer_number=msg.company.customer_number,
            shop_url=base_url,
        )
    ]


RULES: tuple[MailRule, ...] = (MailRule(REGISTRATION_REGISTRATIONS, RegistrationCompleted, _welcome),)


def consumer_specs(mails: Mails, templates: Templates, base_url: str) -> list[ConsumerSpec]:
    specs: dict[str, ConsumerSpec] = {}
    for rule in RULES:

        def handle(inbound: Inbound, rule: MailRule = rule) -> list[Any]:
            rendered = rule.build(inbound.message, templates, base_url)
            return mails.queue(str(inbound.envelope.event_id), rendered)

        spec = specs.setdefault(rule.topic.name, ConsumerSpec(topic=rule.topic, handlers={}, batch=True))
        spec.handlers[rule.message] = handle
    return list(specs.values())
