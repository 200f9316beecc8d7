"""Domain events of registration → contract messages on its registrations topic (key: customer number).

The confirmation token is derived again here from the stored nonce (see :mod:`registration.application.tokens`);
this is the only place the clear token exists after the request that created it.

The applicant is named as a person (ADR 0040): ``ConfirmationRequested.person_id`` and
``RegistrationCompleted.main_contact.user_id`` are the attempt's ``person_id``, whose key the relay seals their
address and names with. An attempt whose person was erased is published no more (a replay): its address and names
open as nothing, and the messages cannot be without them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from contracts.registration.v1 import (
    CompanyMasterData,
    ConfirmationRequested,
    ErpContact,
    MainContact,
    RegistrationCompleted,
    VerificationRequested,
)
from contracts.topics import REGISTRATION_REGISTRATIONS
from kc_runtime.relay import Outgoing
from registration.application.tokens import TokenIssuer
from registration.domain.model import Registration


def make_translator(tokens: TokenIssuer, confirm_path_template: str) -> Callable[[Any], Sequence[Outgoing]]:
    def translate(event: Any) -> Sequence[Outgoing]:
        registration_id = event.originator_id
        if isinstance(event, Registration.VerificationRequested):
            message: Any = VerificationRequested(
                registration_id=registration_id,
                customer_number=event.customer_number,
                invoice_number=event.invoice_number,
                requested_at=event.at,
            )
        elif isinstance(event, Registration.ConfirmationRequested):
            if event.email is None or event.first_name is None or event.last_name is None:
                return []  # the applicant was erased
            token = tokens.token_for(registration_id, event.token_nonce)
            message = ConfirmationRequested(
                registration_id=registration_id,
                email=event.email,
                first_name=event.first_name,
                last_name=event.last_name,
                language=event.language,
                token=token,
                expires_at=event.expires_at,
                confirm_path=confirm_path_template.format(registration_id=registration_id, token=token),
                company_name=event.company_name,
                person_id=event.person_id,
            )
        elif isinstance(event, Registration.Completed):
            if any(event.main_contact.get(f) is None for f in ("email", "first_name", "last_name")):
                return []  # the main contact was erased
            message = RegistrationCompleted(
                registration_id=registration_id,
                company_id=event.company_id,
                company=CompanyMasterData.model_validate(event.company),
                main_contact=MainContact.model_validate({**event.main_contact, "user_id": event.person_id}),
                erp_contacts=[ErpContact.model_validate(c) for c in event.erp_contacts],
                completed_at=event.completed_at,
            )
        else:
            return []
        return [Outgoing(topic=REGISTRATION_REGISTRATIONS, key=event.customer_number, message=message)]

    return translate
