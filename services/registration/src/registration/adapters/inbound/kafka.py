"""Kafka handlers of registration: the ERP's answers (through erp-sync) and the users' addresses → use cases."""

from __future__ import annotations

from typing import Any

from contracts.erp_sync.v1 import CustomerVerificationFailed, CustomerVerified
from contracts.topics import ERP_SYNC_VERIFICATIONS, USERS_COMPANIES, USERS_USERS
from contracts.users.v1 import CompanyRegistrationRefused, UserCreated, UserEmailChanged, UserErased
from kc_runtime.consumer import ConsumerSpec, Inbound
from registration.application.registrations import Registrations


def consumer_specs(registrations: Registrations) -> list[ConsumerSpec]:
    def on_verified(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, CustomerVerified)
        return registrations.on_verified(
            msg.registration_id,
            company=msg.company.model_dump(mode="json"),
            erp_contacts=[c.model_dump(mode="json") for c in msg.erp_contacts],
        )

    def on_failed(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, CustomerVerificationFailed)
        return registrations.on_verification_failed(msg.registration_id, msg.reason)

    def on_user_created(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, UserCreated)
        return registrations.on_address_taken(msg.email, msg.user_id)

    def on_email_changed(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, UserEmailChanged)
        return registrations.on_address_changed(msg.user_id, msg.email, msg.previous_email)

    def on_erased(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, UserErased)
        if registrations.key_ring is not None:
            registrations.key_ring.forget(msg.user_id)  # this process opens nothing of theirs any more
        return registrations.on_user_erased(msg.user_id, msg.erased_at)

    def on_refused(inbound: Inbound) -> list[Any]:
        msg = inbound.message
        assert isinstance(msg, CompanyRegistrationRefused)
        return registrations.on_completion_refused(msg.registration_id, msg.reason)

    # Not batched: answers for one customer number or client address touch the same lockout counters.
    return [
        ConsumerSpec(
            topic=ERP_SYNC_VERIFICATIONS,
            handlers={CustomerVerified: on_verified, CustomerVerificationFailed: on_failed},
        ),
        # The addresses taken by users: a registration with one of them is refused before anything is created;
        # an erased user's address is free again, in this consumer's transaction (ADR 0035).
        ConsumerSpec(
            topic=USERS_USERS,
            handlers={UserCreated: on_user_created, UserEmailChanged: on_email_changed, UserErased: on_erased},
        ),
        # A completion users refused (the address was taken meanwhile): the applicant is told.
        ConsumerSpec(topic=USERS_COMPANIES, handlers={CompanyRegistrationRefused: on_refused}),
    ]
