"""Sealing personal data with the person's key (ADR 0035): a sealed value opens only with its person's key, at its
place, unaltered; once the key is gone it opens to nothing."""

from __future__ import annotations

import base64
from uuid import uuid4

import pytest

from kc_runtime.sealing import KeyRing, Unreadable, is_sealed, new_key, person_of, seal, unseal

PLACE = "users/user/email"


def test_a_sealed_value_opens_with_its_persons_key_at_its_place_and_shows_nothing_of_the_text():
    person, key = uuid4(), new_key()
    sealed = seal(key, person, PLACE, "anna.schmidt@example.com")
    assert is_sealed(sealed) and person_of(sealed) == person
    assert "anna" not in sealed.lower() and "example" not in sealed
    assert b"anna" not in base64.urlsafe_b64decode(sealed.split(":")[3] + "==")
    assert unseal(key, PLACE, sealed) == "anna.schmidt@example.com"


def test_the_same_text_sealed_twice_gives_two_different_values():
    person, key = uuid4(), new_key()
    assert seal(key, person, PLACE, "Anna") != seal(key, person, PLACE, "Anna")


def test_another_key_another_place_or_another_person_does_not_open_it():
    person, key = uuid4(), new_key()
    sealed = seal(key, person, PLACE, "Anna")
    with pytest.raises(Unreadable):
        unseal(new_key(), PLACE, sealed)
    with pytest.raises(Unreadable):
        unseal(key, "users/user/last_name", sealed)  # copied into another field
    as_other = sealed.replace(str(person), str(uuid4()))  # presented as someone else's
    with pytest.raises(Unreadable):
        unseal(key, PLACE, as_other)


def test_an_altered_value_does_not_open():
    person, key = uuid4(), new_key()
    version, who, nonce, data = seal(key, person, PLACE, "Anna").split(":")
    flipped = data[:-2] + ("A" if data[-2] != "A" else "B") + data[-1]
    with pytest.raises(Unreadable):
        unseal(key, PLACE, ":".join([version, who, nonce, flipped]))
    for broken in ("kc1:not-a-uuid:x:y", "kc2:" + str(person) + ":AAAA:AAAA", "plain text", f"kc1:{person}:AA:AA"):
        assert not is_sealed(broken)
        with pytest.raises(Unreadable):
            unseal(key, PLACE, broken)


def test_the_key_ring_opens_values_keeps_keys_for_a_while_and_opens_to_nothing_once_the_key_is_gone():
    person = uuid4()
    keys = {person: new_key()}
    fetched: list = []
    now = [0.0]

    def fetch(p):
        fetched.append(p)
        return keys.get(p)

    ring = KeyRing(fetch, ttl_s=600, clock=lambda: now[0])
    sealed = ring.seal(person, PLACE, "Anna")
    assert ring.reveal(PLACE, sealed) == "Anna"
    assert ring.reveal(PLACE, "plain, stored before sealing") == "plain, stored before sealing"
    assert ring.reveal(PLACE, None) is None
    assert fetched == [person]  # one fetch, then kept

    del keys[person]  # erased where keys are kept
    assert ring.reveal(PLACE, sealed) == "Anna"  # this process still holds it, for at most the ttl
    now[0] = 601.0
    assert ring.reveal(PLACE, sealed) is None
    with pytest.raises(Unreadable):
        ring.seal(person, PLACE, "Anna again")


def test_forgetting_a_person_drops_their_key_at_once():
    person = uuid4()
    keys = {person: new_key()}
    ring = KeyRing(keys.get)
    sealed = ring.seal(person, PLACE, "Anna")
    del keys[person]
    ring.forget(person)  # UserErased arrived
    assert ring.reveal(PLACE, sealed) is None
