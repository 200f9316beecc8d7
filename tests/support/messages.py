"""Builders of contract messages for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from contracts.registration.v1 import CompanyMasterData, MainContact, RegistrationCompleted


def registration_completed(email: str | None = None, language: str = "de", customer_number: str | None = None):
    return RegistrationCompleted(
        registration_id=uuid4(),
        company_id=uuid4(),
        company=CompanyMasterData(customer_number=customer_number or str(uuid4().int)[:8], name="Muster GmbH"),
        main_contact=MainContact(
            email=email or f"main-{uuid4().hex[:8]}@example.com",
            first_name="Erika",
            last_name="Muster",
            language=language,
        ),
        completed_at=datetime.now(UTC),
    )
