"""Identity through the gateway (issue 13): a user is their identity provider account (issuer, subject), bound at
the first sign-in; an e-mail address is changed only from the new mailbox; malformed tokens are 401.

Attack 2 of the issue (taking over the main contact by changing their e-mail) and attack 5's token cases, each
refused with a clear code, and the legitimate paths next to them."""

from __future__ import annotations

import os
import time
from uuid import uuid4

import httpx
import pytest

from tests.conftest import eventually
from tests.support.security import token_parts
from tests.support.users import UsersApi, journey_fixtures, mailed_confirmation, subject_of, unique_email

pytestmark = pytest.mark.journey

registrar, users_api = journey_fixtures()


def code(r) -> str | None:
    body = r.json()
    return body.get("error", {}).get("code") if isinstance(body, dict) else None


async def user_manager(users_api: UsersApi, company) -> tuple[dict, dict]:
    """A user of ``company`` who holds manage_users (and is not the main contact)."""
    gw = users_api.gateway
    role = await gw.post(
        "/api/roles", json={"name": f"Verwaltung {uuid4().hex[:6]}", "permissions": ["manage_users"]},
        headers=company.main,
    )  # fmt: skip
    assert role.status_code == 201, role.text
    return await users_api.user(company, [role.json()["id"]])


# ---- attack 2: taking over the main contact through an e-mail change ---------------------------------------


async def test_a_user_manager_cannot_change_the_main_contacts_email(users_api: UsersApi):
    company = await users_api.company()
    _, manager = await user_manager(users_api, company)
    mine = unique_email("mallory")
    r = await users_api.gateway.put(f"/api/users/{company.main_id}/email", json={"email": mine}, headers=manager)
    assert r.status_code == 403 and code(r) == "email_change_not_allowed", r.text
    me = await users_api.gateway.get("/api/me", headers=company.main)
    assert me.status_code == 200 and me.json()["user"]["email"] == company.main_email


async def test_a_user_manager_cannot_change_another_users_email(users_api: UsersApi):
    company = await users_api.company()
    _, manager = await user_manager(users_api, company)
    buyer, _ = await users_api.user(company)
    r = await users_api.gateway.put(
        f"/api/users/{buyer['id']}/email", json={"email": unique_email("mallory")}, headers=manager
    )
    assert r.status_code == 403 and code(r) == "email_change_not_allowed", r.text


async def test_a_token_with_the_main_contacts_email_but_another_account_is_refused(users_api: UsersApi, token):
    company = await users_api.company()  # the main contact has signed in: bound to their account
    impostor = {"Authorization": f"Bearer {await token(sub=f'idp|{uuid4()}', email=company.main_email)}"}
    r = await users_api.gateway.get("/api/me", headers=impostor)
    assert r.status_code == 401 and code(r) == "identity_mismatch", r.text

    async def refused_at_approval() -> bool:
        r = await users_api.gateway.get("/api/orders", headers=impostor)
        return r.status_code == 401 and code(r) == "identity_mismatch"

    await eventually(refused_at_approval, what="approval to refuse the main contact's e-mail on another account")
    assert (await users_api.gateway.get("/api/orders", headers=company.main)).status_code == 200


async def test_an_address_changed_meanwhile_does_not_hand_over_the_account(users_api: UsersApi, token):
    """Even where an address is legitimately changed to one that somebody else's account carries, that account
    is not the user: the binding, not the e-mail, identifies them."""
    company = await users_api.company()
    buyer, buyer_h = await users_api.user(company)
    assert (await users_api.gateway.get("/api/me", headers=buyer_h)).status_code == 200  # bound
    new = unique_email("neu")
    await users_api.change_email(buyer["id"], new, by=company.main)
    other_account = {"Authorization": f"Bearer {await token(email=new)}"}  # the new address's own account
    r = await users_api.gateway.get("/api/me", headers=other_account)
    assert r.status_code == 401 and code(r) == "identity_mismatch", r.text
    moved = await users_api.gateway.get("/api/me", headers=await users_api.auth(new, sub=subject_of(buyer_h)))
    assert moved.status_code == 200 and moved.json()["user"]["id"] == buyer["id"]


# ---- the legitimate paths ------------------------------------------------------------------------------------


async def test_the_main_contact_changes_a_users_email_and_the_user_confirms_from_the_new_mailbox(
    users_api: UsersApi,
):
    company = await users_api.company()
    gw = users_api.gateway
    buyer, buyer_h = await users_api.user(company)
    assert (await gw.get("/api/me", headers=buyer_h)).status_code == 200
    new = unique_email("neu")
    started = await gw.put(f"/api/users/{buyer['id']}/email", json={"email": new}, headers=company.main)
    assert started.status_code == 202, started.text
    change = started.json()
    assert (change["status"], change["email"], change["current_email"]) == ("pending", new, buyer["email"])
    # until confirmed, the old address stays
    assert (await gw.get(f"/api/users/{buyer['id']}", headers=company.main)).json()["email"] == buyer["email"]

    token = await mailed_confirmation(new, change["id"])
    wrong = await gw.post(f"/api/email-changes/{change['id']}/confirm", json={"token": token[::-1]})
    assert wrong.status_code == 422 and code(wrong) == "invalid_confirmation_token"
    confirmed = await gw.post(f"/api/email-changes/{change['id']}/confirm", json={"token": token})
    assert confirmed.status_code == 200 and confirmed.json()["email"] == new, confirmed.text
    again = await gw.post(f"/api/email-changes/{change['id']}/confirm", json={"token": token})
    assert again.status_code == 409 and code(again) == "confirmation_token_used"
    assert (await gw.get(f"/api/users/{buyer['id']}", headers=company.main)).json()["email"] == new
    me = await gw.get("/api/me", headers=await users_api.auth(new, sub=subject_of(buyer_h)))
    assert me.status_code == 200 and me.json()["user"]["email"] == new


async def test_the_main_contact_changes_their_own_email_from_the_new_mailbox(users_api: UsersApi):
    company = await users_api.company()
    new = unique_email("chefin")
    changed = await users_api.change_email(company.main_id, new, by=company.main)
    assert changed["email"] == new and changed["is_main_contact"] is True
    me = await users_api.gateway.get("/api/me", headers=await users_api.auth(new, sub=subject_of(company.main)))
    assert me.status_code == 200 and me.json()["is_main_contact"] is True


async def test_the_main_contact_transfers_the_role(users_api: UsersApi):
    company = await users_api.company()
    gw = users_api.gateway
    heir, heir_h = await users_api.user(company)
    r = await gw.post("/api/company/main-contact", json={"user_id": heir["id"]}, headers=company.main)
    assert r.status_code == 200 and r.json()["main_contact_id"] == heir["id"], r.text
    me = await gw.get("/api/me", headers=heir_h)
    assert me.status_code == 200 and me.json()["is_main_contact"] is True


# ---- attack 5: tokens ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim", [["a@example.com", "b@example.com"], 42, {"address": "a@example.com"}])
@pytest.mark.parametrize("path", ["/api/me", "/api/orders"])
async def test_a_token_whose_email_is_not_a_string_is_invalid_token(users_api: UsersApi, token, claim, path):
    bad = {"Authorization": f"Bearer {await token(email=None, extra_claims={'email': claim})}"}
    r = await users_api.gateway.get(path, headers=bad)
    assert r.status_code == 401 and code(r) == "invalid_token", r.text


@pytest.mark.parametrize("path", ["/api/me", "/api/orders"])
async def test_an_unverified_email_never_signs_anybody_in(users_api: UsersApi, token, path):
    company = await users_api.company()
    invited, _ = await users_api.user(company)  # not signed in yet
    unverified = {"Authorization": f"Bearer {await token(email=invited['email'], email_verified=False)}"}
    r = await users_api.gateway.get(path, headers=unverified)
    assert r.status_code == 401 and code(r) == "email_not_verified", r.text
    # the user's own first sign-in, verified, still works (nothing was bound)
    verified = await users_api.auth(invited["email"])
    assert (await users_api.gateway.get("/api/me", headers=verified)).status_code == 200


async def test_a_token_with_a_malformed_email_verified_claim_is_invalid_token(users_api: UsersApi, token):
    company = await users_api.company()
    bad = {"Authorization": f"Bearer {await token(email=company.main_email, extra_claims={'email_verified': 'yes'})}"}
    for path in ("/api/me", "/api/orders"):
        r = await users_api.gateway.get(path, headers=bad)
        assert r.status_code == 401 and code(r) == "invalid_token", r.text


async def test_the_dev_issuer_gives_an_address_one_account(token):
    first, again = await token(email="same@example.test"), await token(email="SAME@example.test")
    assert token_parts(first)[1]["sub"] == token_parts(again)[1]["sub"]


DEV_ISSUER = os.environ.get("KC_TEST_DEV_ISSUER", "http://127.0.0.1:8112")
KEY_REMOVAL_DEADLINE_S = 60  # the local stack caches the JWKS for <PREFIX>JWKS_MAX_AGE_S = 10 s


async def test_a_key_removed_from_the_jwks_stops_being_trusted_within_the_configured_time(users_api: UsersApi, token):
    company = await users_api.company()
    async with httpx.AsyncClient(base_url=DEV_ISSUER, timeout=10) as issuer:
        added = await issuer.post("/admin/keys")
        assert added.status_code == 201, added.text
        kid = added.json()["kid"]
        signed = {"Authorization": f"Bearer {await token(email=company.main_email, kid=kid)}"}

        async def trusted_everywhere() -> bool:
            # a new key is trusted once the key set is fetched again: at once for an unknown kid, unless another
            # unknown kid used the refresh of this interval, else when the cached set expires
            answers = [await users_api.gateway.get(p, headers=signed) for p in ("/api/me", "/api/orders")]
            return all(r.status_code == 200 for r in answers)

        await eventually(trusted_everywhere, timeout=KEY_REMOVAL_DEADLINE_S, interval=0.5, what="the new key")
        removed = await issuer.delete(f"/admin/keys/{kid}")
        assert removed.status_code == 204
    started = time.monotonic()

    async def refused_everywhere() -> bool:
        answers = [await users_api.gateway.get(p, headers=signed) for p in ("/api/me", "/api/orders")]
        return all(r.status_code == 401 and code(r) == "invalid_token" for r in answers)

    await eventually(
        refused_everywhere, timeout=KEY_REMOVAL_DEADLINE_S, interval=0.5, what="the removed key to stop being trusted"
    )
    assert time.monotonic() - started < KEY_REMOVAL_DEADLINE_S
    still = await users_api.gateway.get("/api/me", headers=company.main)  # the main key is still trusted
    assert still.status_code == 200
