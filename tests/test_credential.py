"""Credential tokens: issuing and verifying, with time passed in (no sleeping)."""

from __future__ import annotations

import random

import pytest

from actr_py.credential import (
    CredentialIssuer,
    CredentialVerifier,
    UnknownKeyId,
    credential_from_query,
    credential_to_query,
    decode_token,
    generate_private_key,
    public_key_bytes,
)
from actr_py.errors import InvalidId, Unauthorized
from actr_py.ids import ActorId, ActrTypeName
from actr_py.proto import actr_pb2

NOW = 1_700_000_000.0
ECHO = ActrTypeName("acme", "echo")
AID = ActorId(101, 0x1A2B, ECHO)


@pytest.fixture
def key():
    return generate_private_key()


@pytest.fixture
def issuer(key):
    return CredentialIssuer(key, key_id=7, ttl=60.0)


@pytest.fixture
def verifier(key):
    return CredentialVerifier({7: public_key_bytes(key)})


def test_issue_then_verify_returns_the_claims(issuer, verifier):
    issued = issuer.issue(AID, NOW)
    assert issued.credential.token_key_id == 7
    claims = verifier.verify(issued.credential, AID, NOW + 1)
    assert claims.actor_id == AID
    assert claims.key_id == 7
    assert claims.issued_at == pytest.approx(NOW)
    assert claims.expires_at == pytest.approx(NOW + 60)
    assert claims == issued.claims


def test_identity_ignores_the_informational_version(issuer, verifier):
    versioned = ActorId(101, 0x1A2B, ActrTypeName("acme", "echo", "1.2.0"))
    cred = issuer.issue(versioned, NOW).credential
    assert verifier.verify(cred, AID, NOW).actor_id == AID
    assert verifier.verify(cred, versioned, NOW).actor_id == AID


def test_expiry_is_exact(issuer, verifier):
    cred = issuer.issue(AID, NOW).credential
    verifier.verify(cred, AID, NOW + 59.999)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(cred, AID, NOW + 60)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(cred, AID, NOW + 3600)


@pytest.mark.parametrize(
    "other",
    [
        ActorId(101, 0x1A2C, ECHO),  # serial
        ActorId(102, 0x1A2B, ECHO),  # realm
        ActorId(101, 0x1A2B, ActrTypeName("acme", "other")),  # type
    ],
)
def test_credential_of_another_actor_is_refused(issuer, verifier, other):
    cred = issuer.issue(AID, NOW).credential
    with pytest.raises(Unauthorized, match="belongs to"):
        verifier.verify(cred, other, NOW)


def test_claimed_id_none_skips_only_the_identity_check(issuer, verifier):
    cred = issuer.issue(AID, NOW).credential
    assert verifier.verify(cred, None, NOW).actor_id == AID
    with pytest.raises(Unauthorized):
        verifier.verify(cred, None, NOW + 61)


def test_any_flipped_bit_is_refused(issuer, verifier):
    token = bytes(issuer.issue(AID, NOW).credential.encrypted_token)
    for bit in range(len(token) * 8):
        raw = bytearray(token)
        raw[bit // 8] ^= 1 << (bit % 8)
        cred = actr_pb2.AIdCredential(encrypted_token=bytes(raw), token_key_id=7)
        with pytest.raises(Unauthorized):
            verifier.verify(cred, None, NOW)


def test_same_key_id_from_another_key_is_refused(verifier):
    forger = CredentialIssuer(generate_private_key(), key_id=7, ttl=60)
    cred = forger.issue(AID, NOW).credential
    with pytest.raises(Unauthorized, match="signature"):
        verifier.verify(cred, AID, NOW)


def test_unknown_key_id_is_its_own_401(key, verifier):
    cred = CredentialIssuer(key, key_id=8, ttl=60).issue(AID, NOW).credential
    with pytest.raises(UnknownKeyId) as info:
        verifier.verify(cred, AID, NOW)
    assert info.value.key_id == 8
    assert info.value.code == 401


def test_key_id_outside_the_token_must_match_inside(issuer, verifier):
    cred = issuer.issue(AID, NOW).credential
    cred.token_key_id = 8
    with pytest.raises(Unauthorized, match="does not match"):
        verifier.verify(cred, AID, NOW)


def test_garbage_tokens_only_ever_raise_unauthorized(verifier):
    rng = random.Random(1234)
    for _ in range(2000):
        raw = rng.randbytes(rng.randrange(0, 160))
        cred = actr_pb2.AIdCredential(encrypted_token=raw, token_key_id=rng.randrange(0, 10))
        with pytest.raises(Unauthorized):
            verifier.verify(cred, None, NOW)


def test_decode_reads_claims_without_verifying(issuer):
    token = bytes(issuer.issue(AID, NOW).credential.encrypted_token)
    claims, body, signature = decode_token(token)
    assert claims.actor_id == AID and len(signature) == 64 and body + signature == token
    with pytest.raises(Unauthorized, match=r"trailing|truncated"):
        decode_token(body[:-1] + signature)


def test_overlong_type_names_cannot_be_issued(issuer):
    long_type = ActrTypeName("a" * 256, "echo")
    with pytest.raises(InvalidId):
        issuer.issue(ActorId(1, 1, long_type), NOW)


def test_key_set_json_round_trip(key, issuer):
    other = generate_private_key()
    verifier = CredentialVerifier({7: public_key_bytes(key), 9: public_key_bytes(other)})
    again = CredentialVerifier.from_json(verifier.to_json())
    assert again.key_ids == {7, 9}
    again.verify(issuer.issue(AID, NOW).credential, AID, NOW)
    with pytest.raises(ValueError, match="malformed"):
        CredentialVerifier.from_json({"x": "AAAA"})
    with pytest.raises(ValueError, match="malformed"):
        CredentialVerifier.from_json({"1": "not base64!"})


def test_query_parameters_round_trip(issuer, verifier):
    cred = issuer.issue(AID, NOW).credential
    query = credential_to_query(cred)
    assert "=" not in query["token"] and "+" not in query["token"]
    again = credential_from_query(query["token"], query["token_key_id"])
    assert again == cred
    verifier.verify(again, AID, NOW)
    for token, key_id in [("abc", "x"), ("abc", "-1"), ("abc", str(2**32)), ("a", "1")]:
        with pytest.raises(Unauthorized):
            credential_from_query(token, key_id)


def test_issuer_rejects_nonsense_settings(key):
    with pytest.raises(ValueError):
        CredentialIssuer(key, key_id=1, ttl=0)
    with pytest.raises(ValueError):
        CredentialIssuer(key, key_id=2**32, ttl=1)


def test_remembered_signatures_still_get_every_other_check(issuer, key):
    verifier = CredentialVerifier({7: public_key_bytes(key)}, cache_size=2)
    cred = issuer.issue(AID, NOW).credential
    for _ in range(2):  # first call verifies the signature, second hits the cache
        assert verifier.verify(cred, AID, NOW).actor_id == AID
        with pytest.raises(Unauthorized, match="expired"):
            verifier.verify(cred, AID, NOW + 60)
        with pytest.raises(Unauthorized, match="belongs to"):
            verifier.verify(cred, ActorId(101, 1, ECHO), NOW)
        relabelled = actr_pb2.AIdCredential(encrypted_token=cred.encrypted_token, token_key_id=8)
        with pytest.raises(Unauthorized, match="does not match"):
            verifier.verify(relabelled, AID, NOW)
    # The cache stays bounded and evicted tokens still verify.
    others = [issuer.issue(ActorId(101, n, ECHO), NOW).credential for n in range(5)]
    for n, other in enumerate(others):
        verifier.verify(other, ActorId(101, n, ECHO), NOW)
    assert len(verifier._signed) == 2
    assert verifier.verify(cred, AID, NOW).actor_id == AID
