"""registration's sealing is wired (ADR 0040): the composition root gives Registrations a key ring and users'
reservation of a new applicant's key, and every field it declares personal is a field of its event class (a typo
would leave a value plain without a word)."""

from __future__ import annotations

import dataclasses

from kc_runtime.person_keys import PersonKeyClient
from registration.application.registrations import PERSONAL_DATA, Registrations
from registration.main import create_app
from registration.settings import RegistrationSettings


def test_the_service_seals_with_a_key_ring_and_reserves_applicants_keys_from_users():
    app = create_app(RegistrationSettings(database_url="memory://", profile="development"))  # type: ignore[arg-type]
    registrations = app.state.runtime.app
    assert isinstance(registrations, Registrations) and registrations.key_ring is not None
    assert registrations.mapper.keys is registrations.key_ring
    reserve = registrations.reserve_key
    assert getattr(reserve, "__func__", None) is PersonKeyClient.reserve


def test_every_personal_field_and_owner_is_a_field_of_its_event():
    for event_class, spec in PERSONAL_DATA.items():
        fields = {f.name for f in dataclasses.fields(event_class)}
        for name in (*spec.fields, spec.owner):
            assert name.partition(".")[0] in fields, (event_class.__qualname__, name)
