"""The users application on eventsourcing's in-memory store, with a company registered."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pytest

from contracts.registration.v1 import RegistrationCompleted
from tests.support.users import registration, signed_in, unique_email
from users.application.directory import Actor, Directory
from users.application.read_model import UserRow
from users.domain.model import ErpContact


def register(directory: Directory, msg: RegistrationCompleted) -> list:
    aggregates = directory.register_company(
        company_id=msg.company_id,
        customer_number=msg.company.customer_number,
        name=msg.company.name,
        currency=msg.company.currency,
        main_contact_email=str(msg.main_contact.email),
        main_contact_first_name=msg.main_contact.first_name,
        main_contact_last_name=msg.main_contact.last_name,
        main_contact_language=msg.main_contact.language,
        erp_contacts=[
            ErpContact(c.erp_contact_id, str(c.email) if c.email else None, c.first_name, c.last_name, c.phone)
            for c in msg.erp_contacts
        ],
        registration_id=msg.registration_id,
        registered_at=msg.completed_at,
        main_contact_id=msg.main_contact.user_id,
    )
    directory.save(*aggregates)
    return aggregates


@dataclass
class World:
    directory: Directory
    company_id: UUID
    main: Actor
    main_email: str
    registration: RegistrationCompleted

    def actor(self, user: UserRow) -> Actor:
        return self.directory.authenticate(signed_in(user.email))

    def user(self, role_ids=("buyer",), **kw) -> UserRow:
        return self.directory.create_user(
            self.main,
            email=kw.pop("email", unique_email()),
            first_name=kw.pop("first_name", "Bea"),
            last_name=kw.pop("last_name", "Buyer"),
            role_ids=role_ids,
            **kw,
        )


def make_world(directory: Directory, **kw) -> World:
    msg = registration(**kw)
    register(directory, msg)
    email = str(msg.main_contact.email)
    return World(directory, msg.company_id, directory.authenticate(signed_in(email)), email, msg)


@pytest.fixture
def directory() -> Directory:
    return Directory(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


@pytest.fixture
def world(directory: Directory) -> World:
    return make_world(directory)
