"""Kafka handlers of the users service: contract messages in → use cases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from contracts.erp_sync.v1 import CompanyMasterDataChanged, ErpContactPersonChanged
from contracts.registration.v1 import RegistrationCompleted
from contracts.topics import ERP_SYNC_CUSTOMERS, REGISTRATION_REGISTRATIONS
from kc_runtime.consumer import ConsumerSpec, Inbound
from users.application.directory import Directory
from users.domain.errors import EmailTaken
from users.domain.model import ErpContact
from users.domain.refusal import RegistrationRefusal


def consumer_specs(directory: Directory) -> list[ConsumerSpec]:
    def on_registration_completed(inbound: Inbound) -> list[Any]:
        """Create the company and its main contact — with the id registration minted and reserved a key for
        (``main_contact.user_id``, ADR 0040) unless that id is taken; nothing when the company exists (a repeated
        completion). The main contact's address taken meanwhile: refused (recorded and published), never
        dead-lettered."""
        msg = inbound.message
        assert isinstance(msg, RegistrationCompleted)
        try:
            return register(msg)
        except EmailTaken:
            if directory.find(RegistrationRefusal.create_id(msg.registration_id), RegistrationRefusal) is not None:
                return []
            refusal = RegistrationRefusal(
                registration_id=msg.registration_id,
                company_id=msg.company_id,
                customer_number=msg.company.customer_number,
                reason="email_taken",
                refused_at=datetime.now(UTC),
            )
            return [refusal]

    def register(msg: RegistrationCompleted) -> list[Any]:
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
            main_contact_id=msg.main_contact.user_id,
        )

    def on_erp_master_data(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, CompanyMasterDataChanged)
        return directory.erp_master_data_changed(msg.company_id, msg.name, msg.currency, msg.changed_at)

    def on_erp_contact(inbound: Inbound) -> list[Any]:
        """A contact person the ERP added, changed or deactivated: the company's take-over list follows; a
        contact that is a user is never changed in the user account (the shop is the master of its users)."""
        msg = inbound.message
        assert isinstance(msg, ErpContactPersonChanged)
        contact = ErpContact(
            erp_contact_id=msg.contact_id,
            email=msg.email,
            first_name=msg.first_name,
            last_name=msg.last_name,
            phone=msg.phone,
            active=msg.active,
            user_id=msg.user_id,
            changed_at=msg.changed_at,
        )
        return directory.erp_contact_changed(msg.company_id, contact)

    # Not batched: a completion reads state (does the company exist? is the e-mail free?) that another
    # completion of the same batch could change; the ERP's messages of one company change the same company.
    return [
        ConsumerSpec(topic=REGISTRATION_REGISTRATIONS, handlers={RegistrationCompleted: on_registration_completed}),
        ConsumerSpec(
            topic=ERP_SYNC_CUSTOMERS,
            handlers={CompanyMasterDataChanged: on_erp_master_data, ErpContactPersonChanged: on_erp_contact},
        ),
    ]
