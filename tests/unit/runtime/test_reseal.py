"""Re-sealing one stored event's state (``kc_runtime.reseal.reseal_state``, ADR 0035 "Upcasting"): plain personal
values sealed the way the event store seals them, everything else left exactly as it was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import JSONTranscoder, UUIDAsHex
from eventsourcing.utils import Environment

from kc_runtime.eventstore import MetadataMapper
from kc_runtime.reseal import decode_state, encode_state, owners_to_seal, reseal_state
from kc_runtime.sealing import UNKNOWN, KeyRing, Personal, is_sealed, new_key, seal
from kc_runtime.transcoding import dataclass_transcoding

USER = Personal("test/user", ("email", "name"))


@dataclass(frozen=True)
class Request:
    buyer_id: UUID
    comment: str | None


COMMENT = Personal("test/order", ("request.comment",), owner="request.buyer_id")


class Keys:
    def __init__(self) -> None:
        self.keys: dict[UUID, bytes | None] = {}

    def fetch(self, person: UUID) -> bytes | None:
        return self.keys.get(person, UNKNOWN)

    def known(self) -> UUID:
        person = uuid4()
        self.keys[person] = new_key()
        return person


@pytest.fixture
def keys() -> Keys:
    return Keys()


def test_plain_values_are_sealed_for_their_owner_and_place(keys):
    person = keys.known()
    ring = KeyRing(keys.fetch)
    state: dict[str, Any] = {"originator_id": person, "email": "a@example.com", "name": "Ada", "team": "blue"}

    outcome = reseal_state(ring, USER, state)

    assert (outcome.sealed, outcome.erased, outcome.kept_plain, outcome.changed) == (2, 0, 0, True)
    assert is_sealed(state["email"]) and is_sealed(state["name"]) and state["team"] == "blue"
    assert ring.reveal("test/user/email", state["email"]) == "a@example.com"


def test_a_sealed_value_keeps_its_nonce_while_its_plain_neighbour_is_sealed(keys):
    person = keys.known()
    sealed = seal(keys.keys[person] or b"", person, "test/user/email", "a@example.com")
    state: dict[str, Any] = {"originator_id": person, "email": sealed, "name": "Ada"}

    outcome = reseal_state(KeyRing(keys.fetch), USER, state)

    assert outcome.sealed == 1
    assert state["email"] == sealed and is_sealed(state["name"])


def test_a_state_with_nothing_plain_is_unchanged(keys):
    person = keys.known()
    state: dict[str, Any] = {"originator_id": person, "email": "", "name": None}

    outcome = reseal_state(KeyRing(keys.fetch), USER, state)

    assert not outcome.changed and state == {"originator_id": person, "email": "", "name": None}
    assert owners_to_seal(state, USER) == set()


def test_an_erased_persons_plain_values_become_none(keys):
    person = uuid4()
    keys.keys[person] = None
    state: dict[str, Any] = {"originator_id": person, "email": "a@example.com", "name": "Ada"}

    outcome = reseal_state(KeyRing(keys.fetch), USER, state)

    assert (outcome.sealed, outcome.erased, outcome.changed) == (0, 2, True)
    assert (state["email"], state["name"]) == (None, None)


def test_values_of_a_person_users_does_not_know_stay_plain(keys):
    state: dict[str, Any] = {"originator_id": uuid4(), "email": "contact@example.com", "name": "ERP"}

    outcome = reseal_state(KeyRing(keys.fetch), USER, state)

    assert (outcome.kept_plain, outcome.changed) == (2, False)
    assert state["email"] == "contact@example.com"


def test_a_field_inside_a_value_object_is_sealed_with_the_owner_it_names(keys):
    buyer = keys.known()
    state: dict[str, Any] = {"originator_id": uuid4(), "request": Request(buyer, "bitte bis Freitag")}

    assert owners_to_seal(state, COMMENT) == {buyer}
    outcome = reseal_state(KeyRing(keys.fetch), COMMENT, state)

    assert outcome.sealed == 1
    assert state["request"].buyer_id == buyer
    assert KeyRing(keys.fetch).reveal("test/order/request.comment", state["request"].comment) == "bitte bis Freitag"


def test_the_state_encodes_back_through_the_mappers_compressor_and_cipher(keys):
    transcoder = JSONTranscoder()
    transcoder.register(UUIDAsHex())
    transcoder.register(dataclass_transcoding(Request))
    cipher = AESCipher(Environment(env={AESCipher.CIPHER_KEY: AESCipher.create_key(32)}))
    mapper = MetadataMapper(transcoder=transcoder, compressor=ZlibCompressor(), cipher=cipher)
    state = {"request": Request(keys.known(), "text"), "at": "2026-12-07"}

    stored = encode_state(mapper, state)

    assert b"text" not in stored
    assert decode_state(mapper, stored) == state
