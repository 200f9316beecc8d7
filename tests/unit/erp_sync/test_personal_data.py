"""Where erp-sync's events hold personal data (ADR 0035): a kept message's values two dicts deep are sealed in a copy
under the place the runtime's Personal gives the whole path, and opened again; users' unavailability is an outage
the consumer waits out, never a reason to dead-letter; a customer-center activation's main contact is sealed with the
key of the user id the completed registration names (ADR 0040), and stays plain without one."""

from __future__ import annotations

import copy
from uuid import UUID, uuid4

import pytest

from erp_sync.application.personal import PERSONAL_DATA, Deep
from erp_sync.domain.verification import CustomerCenterActivation
from kc_runtime.consumer import TRANSIENT_ERRORS
from kc_runtime.parking import is_infrastructure
from kc_runtime.person_keys import PersonKeysRefused, PersonKeysUnavailable
from kc_runtime.sealing import UNKNOWN, KeyRing, Personal, is_sealed, new_key, unseal

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


# ---- the main contact of a completed registration (ADR 0040) ----------------------------------------------------


def activation_state(user_id: object) -> dict:
    contact = {"email": "m@example.com", "first_name": "Martha", "last_name": "Main", "language": "en"}
    return {"company_id": uuid4(), "customer_number": "10001", "main_contact": {**contact, "user_id": user_id}}


def test_an_activations_main_contact_is_sealed_with_the_key_of_the_user_id_it_names():
    (spec,) = [PERSONAL_DATA[CustomerCenterActivation.Requested]]
    assert isinstance(spec, Personal)
    main, key = uuid4(), new_key()
    ring = KeyRing(lambda person: key if person == main else None)
    state = activation_state(str(main))  # the completion's main contact as the consumer dumps it: ids as text
    before = copy.deepcopy(state)

    spec.seal(ring, state)

    contact = state["main_contact"]
    assert all(is_sealed(contact[n]) for n in ("email", "first_name", "last_name"))
    assert unseal(key, "erp-sync/customer-center-activation/main_contact.email", contact["email"]) == "m@example.com"
    assert (contact["language"], contact["user_id"], state["customer_number"]) == ("en", str(main), "10001")
    spec.open(ring, state)
    assert state == before


def test_an_activations_main_contact_without_a_user_id_stays_plain():
    spec = PERSONAL_DATA[CustomerCenterActivation.Requested]
    assert isinstance(spec, Personal)
    asked: list[UUID] = []

    def fetch(person: UUID) -> bytes:
        asked.append(person)
        return new_key()

    state = activation_state(None)
    before = copy.deepcopy(state)

    spec.seal(KeyRing(fetch), state)

    assert state == before and asked == []
