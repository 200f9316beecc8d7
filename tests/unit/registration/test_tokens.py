"""Confirmation tokens are derived from a secret: stored are only a nonce and the token's hash."""

from uuid import uuid4

import pytest

from registration.application.tokens import TokenIssuer, hash_token


def test_an_issued_token_is_derived_again_from_its_nonce_and_matches_its_hash():
    issuer = TokenIssuer(b"0123456789abcdef0123")
    rid = uuid4()
    issued = issuer.issue(rid)
    assert issuer.token_for(rid, issued.nonce) == issued.token
    assert hash_token(issued.token) == issued.token_hash
    assert len(issued.token) >= 43


def test_another_secret_derives_another_token():
    rid = uuid4()
    issued = TokenIssuer(b"0123456789abcdef0123").issue(rid)
    assert TokenIssuer(b"another-secret-of-16-bytes").token_for(rid, issued.nonce) != issued.token


def test_tokens_of_two_registrations_differ():
    issuer = TokenIssuer(b"0123456789abcdef0123")
    assert issuer.issue(uuid4()).token != issuer.issue(uuid4()).token


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        TokenIssuer(b"short")
