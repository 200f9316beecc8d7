"""Where erp-sync's events hold personal data (ADR 0035): a kept message's values two dicts deep are sealed in a copy
under the place the runtime's Personal gives the whole path, and opened again; users' unavailability is an outage
the consumer waits out, never a reason to dead-letter."""

from __future__ import annotations

from uuid import uuid4

import pytest

from erp_sync.application.personal import Deep
from kc_runtime.consumer import TRANSIENT_ERRORS
from kc_runtime.parking import is_infrastructure
from kc_runtime.person_keys import PersonKeysRefused, PersonKeysUnavailable
from kc_runtime.sealing import UNKNOWN, KeyRing, is_sealed, new_key, unseal

SPEC = Deep("test/order", ("request.buyer_comment", "request.buyer.email"), owner="request.buyer_id")


def test_a_value_two_dicts_deep_is_sealed_in_a_copy_and_opened_again():
    buyer, key = uuid4(), new_key()
    ring = KeyRing(lambda person: key if person == buyer else None)
    request = {"buyer_id": str(buyer), "buyer_comment": "Rampe 3", "buyer": {"email": "b@example.com", "id": 1}}
    state = {"request": request}

    SPEC.seal(ring, state)

    sealed = state["request"]["buyer"]["email"]
    assert is_sealed(sealed) and is_sealed(state["request"]["buyer_comment"])
    assert unseal(key, "test/order/request.buyer.email", sealed) == "b@example.com"  # the whole path's place
    assert request == {"buyer_id": str(buyer), "buyer_comment": "Rampe 3", "buyer": {"email": "b@example.com", "id": 1}}
    assert state["request"]["buyer"]["id"] == 1
    SPEC.open(ring, state)
    assert state == {"request": request}


def test_an_absent_inner_dict_or_owner_changes_nothing():
    ring = KeyRing(lambda person: new_key())
    for state in ({"request": {"buyer_id": str(uuid4()), "buyer": None}}, {"request": {"buyer": {"email": "x@y.z"}}}):
        before = repr(state)
        SPEC.seal(ring, state)
        assert repr(state) == before


def test_a_person_users_does_not_know_stays_plain_an_erased_one_keeps_nothing():
    stranger, erased = uuid4(), uuid4()
    ring = KeyRing(lambda person: UNKNOWN if person == stranger else None)
    of_stranger = {"request": {"buyer_id": str(stranger), "buyer_comment": "c", "buyer": {"email": "s@e.com"}}}
    SPEC.seal(ring, of_stranger)
    assert of_stranger["request"]["buyer"]["email"] == "s@e.com"
    of_erased = {"request": {"buyer_id": str(erased), "buyer_comment": "c", "buyer": {"email": "e@e.com"}}}
    SPEC.seal(ring, of_erased)
    assert (of_erased["request"]["buyer"]["email"], of_erased["request"]["buyer_comment"]) == (None, None)


@pytest.mark.parametrize("error", [PersonKeysUnavailable("users unreachable"), PersonKeysRefused("401")])
def test_users_unavailable_is_an_outage_waited_out_not_a_poison_message(error):
    assert isinstance(error, TRANSIENT_ERRORS) and is_infrastructure(error)
