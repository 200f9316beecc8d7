"""Kafka handlers of the users service: contract messages in → use cases."""

from __future__ import annotations

from typing import Any

from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import REGISTRATION_REGISTRATIONS
from kc_runtime.consumer import ConsumerSpec, Inbound
from users.application.directory import Directory
from users.domain.model import ErpContact


def consumer_specs(directory: Directory) -> list[ConsumerSpec]:
    def on_registration_completed(inbound: Inbound) -> list[Any]:
        """Create the company and its main contact; nothing when the company exists (a repeated completion)."""
        msg = inbound.message
        assert isinstance(msg, RegistrationCompleted)
        return directory.register_company(
            company_id=msg.company_id,
            customer_number=msg.company.customer_number,
            name=msg.company.name,
            currency=msg.company.currency,
            main_contact_email=str(msg.main_contact.email),
            main_contact_first_name=msg.main_contact.first_name,
            main_contact_last_name=msg.main_contact.last_name,
            main_contact_language=msg.main_contact.language,
            erp_contacts=[
                ErpContact(
                    erp_contact_id=c.erp_contact_id,
                    email=str(c.email) if c.email else None,
                    first_name=c.first_name,
                    last_name=c.last_name,
                    phone=c.phone,
                )
                for c in msg.erp_contacts
            ],
            registration_id=msg.registration_id,
            registered_at=msg.completed_at,
        )

    # Not batched: a completion reads state (does the company exist? is the e-mail free?) that another
    # completion of the same batch could change.
    return [ConsumerSpec(topic=REGISTRATION_REGISTRATIONS, handlers={RegistrationCompleted: on_registration_completed})]
