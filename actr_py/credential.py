"""Actor credentials: Ed25519-signed tokens issued by the signaling server.

The server signs a small binary token that names the actor (realm, serial,
type) and its expiry, and puts it in ``AIdCredential.encrypted_token``. It is
signed rather than MACed so that any node holding the server's public keys
(``GET /credential-keys``) can check a peer's credential locally, without a
round trip and without being able to mint credentials itself.

Token layout, version 1 (all integers big-endian)::

    u8  version (1)
    u32 key_id            same value as AIdCredential.token_key_id
    u32 realm
    u64 serial
    u64 issued_at_ms      unix time
    u64 expires_at_ms     unix time
    u8  len + manufacturer (utf-8)
    u8  len + name (utf-8)
    64  Ed25519 signature over _CONTEXT + everything above

Everything here is pure: the current time is always passed in, so expiry is
testable without sleeping.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from .errors import InvalidId, Unauthorized
from .ids import ActorId, ActrTypeName
from .proto import actr_pb2

__all__ = [
    "TOKEN_VERSION",
    "CredentialIssuer",
    "CredentialVerifier",
    "IssuedCredential",
    "TokenClaims",
    "UnknownKeyId",
    "credential_from_query",
    "credential_to_query",
    "decode_token",
    "generate_private_key",
    "private_key_bytes",
    "private_key_from_bytes",
    "public_key_bytes",
    "same_actor",
]

TOKEN_VERSION = 1
# Domain separation: a signature over a token can never be replayed as a
# signature over some other structure signed with the same key.
_CONTEXT = b"actr-py/aid-token/v1\x00"
_HEAD = struct.Struct(">BIIQQQ")
_SIG_LEN = 64
_MAX_PART = 255


class UnknownKeyId(Unauthorized):
    """The token names a key id the verifier does not hold (maybe rotated: refresh keys)."""

    def __init__(self, key_id: int) -> None:
        super().__init__(f"credential signed with unknown key id {key_id}")
        self.key_id = key_id


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token asserts. Times are unix seconds."""

    actor_id: ActorId
    key_id: int
    issued_at: float
    expires_at: float

    @property
    def lifetime(self) -> float:
        return self.expires_at - self.issued_at


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    credential: actr_pb2.AIdCredential
    claims: TokenClaims


def same_actor(a: ActorId, b: ActorId) -> bool:
    """Identity equality: realm, serial and type, ignoring the informational version."""
    return a.realm == b.realm and a.serial == b.serial and a.type.same_type(b.type)


def _encode_part(what: str, value: str) -> bytes:
    raw = value.encode()
    if len(raw) > _MAX_PART:
        raise InvalidId(f"{what} {value[:20]!r}... is longer than {_MAX_PART} bytes")
    return bytes([len(raw)]) + raw


def _body(claims: TokenClaims) -> bytes:
    aid = claims.actor_id
    return (
        _HEAD.pack(
            TOKEN_VERSION,
            claims.key_id,
            aid.realm,
            aid.serial,
            round(claims.issued_at * 1000),
            round(claims.expires_at * 1000),
        )
        + _encode_part("manufacturer", aid.type.manufacturer)
        + _encode_part("name", aid.type.name)
    )


def decode_token(token: bytes) -> tuple[TokenClaims, bytes, bytes]:
    """Parse without verifying: ``(claims, signed_body, signature)``; 401 if malformed."""
    if len(token) < _HEAD.size + 2 + _SIG_LEN:
        raise Unauthorized("credential token is truncated")
    body, signature = token[:-_SIG_LEN], token[-_SIG_LEN:]
    version, key_id, realm, serial, issued_ms, expires_ms = _HEAD.unpack_from(body)
    if version != TOKEN_VERSION:
        raise Unauthorized(f"credential token version {version} is not supported")
    pos = _HEAD.size
    parts = []
    for _ in range(2):
        if pos >= len(body):
            raise Unauthorized("credential token is truncated")
        n = body[pos]
        raw = body[pos + 1 : pos + 1 + n]
        if len(raw) != n:
            raise Unauthorized("credential token is truncated")
        try:
            parts.append(raw.decode())
        except UnicodeDecodeError:
            raise Unauthorized("credential token holds invalid utf-8") from None
        pos += 1 + n
    if pos != len(body):
        raise Unauthorized("credential token has trailing bytes")
    try:
        actor = ActorId(realm, serial, ActrTypeName(parts[0], parts[1]))
    except InvalidId as exc:
        raise Unauthorized(f"credential token names an invalid actor: {exc}") from None
    claims = TokenClaims(actor, key_id, issued_ms / 1000, expires_ms / 1000)
    return claims, body, signature


def generate_private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())


def private_key_from_bytes(raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


class CredentialIssuer:
    """Signs credentials with one key (the server's active key)."""

    def __init__(self, private_key: Ed25519PrivateKey, key_id: int, ttl: float) -> None:
        if ttl <= 0:
            raise ValueError("credential ttl must be positive")
        if not 0 <= key_id < 2**32:
            raise ValueError(f"key id {key_id} is outside 0..2^32-1")
        self._key = private_key
        self.key_id = key_id
        self.ttl = ttl

    def issue(self, actor_id: ActorId, now: float) -> IssuedCredential:
        claims = TokenClaims(
            ActorId(actor_id.realm, actor_id.serial, ActrTypeName(
                actor_id.type.manufacturer, actor_id.type.name)),
            self.key_id,
            now,
            now + self.ttl,
        )
        body = _body(claims)
        token = body + self._key.sign(_CONTEXT + body)
        # Round-trip through the wire form so claims carry millisecond precision,
        # exactly what a verifier will later read.
        claims, _, _ = decode_token(token)
        cred = actr_pb2.AIdCredential(encrypted_token=token, token_key_id=self.key_id)
        return IssuedCredential(cred, claims)


class CredentialVerifier:
    """Checks credentials against a set of public keys (key id -> Ed25519 key).

    Tokens whose signature checked out are remembered (up to ``cache_size``),
    because a node presents the same token on every message until it renews:
    the signature is verified once, expiry and identity on every call.
    """

    def __init__(
        self, public_keys: Mapping[int, Ed25519PublicKey | bytes], *, cache_size: int = 16384
    ) -> None:
        self._keys: dict[int, Ed25519PublicKey] = {}
        for key_id, key in public_keys.items():
            if isinstance(key, bytes):
                key = Ed25519PublicKey.from_public_bytes(key)
            self._keys[int(key_id)] = key
        self._cache_size = cache_size
        self._signed: dict[bytes, TokenClaims] = {}

    @classmethod
    def from_json(cls, data: Mapping[str, str]) -> CredentialVerifier:
        """Build from the ``GET /credential-keys`` body: ``{"<key id>": "<base64 raw key>"}``."""
        keys: dict[int, bytes] = {}
        try:
            for key_id, b64 in data.items():
                keys[int(key_id)] = base64.b64decode(b64, validate=True)
            return cls(keys)
        except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
            raise ValueError(f"malformed credential key set: {exc}") from None

    def to_json(self) -> dict[str, str]:
        return {
            str(key_id): base64.b64encode(public_key_bytes(key)).decode()
            for key_id, key in sorted(self._keys.items())
        }

    @property
    def key_ids(self) -> frozenset[int]:
        return frozenset(self._keys)

    def _signed_claims(self, token: bytes) -> TokenClaims:
        """Claims of a token whose signature is valid under one of our keys."""
        claims = self._signed.get(token)
        if claims is not None:
            return claims
        claims, body, signature = decode_token(token)
        key = self._keys.get(claims.key_id)
        if key is None:
            raise UnknownKeyId(claims.key_id)
        try:
            key.verify(signature, _CONTEXT + body)
        except InvalidSignature:
            raise Unauthorized("credential signature is invalid") from None
        if len(self._signed) >= self._cache_size:
            del self._signed[next(iter(self._signed))]
        self._signed[token] = claims
        return claims

    def verify(
        self,
        credential: actr_pb2.AIdCredential,
        claimed_actor_id: ActorId | None,
        now: float,
    ) -> TokenClaims:
        """Return the claims of a valid, unexpired credential for ``claimed_actor_id``.

        Raises :class:`~actr_py.errors.Unauthorized` (401) for a malformed token,
        bad signature, unknown key id (:class:`UnknownKeyId`), expiry, or when the
        token names another actor. ``claimed_actor_id=None`` skips the identity
        check, for callers that want to tell a realm mismatch apart.
        """
        claims = self._signed_claims(bytes(credential.encrypted_token))
        if claims.key_id != credential.token_key_id:
            raise Unauthorized(
                f"credential key id {credential.token_key_id} does not match its token"
            )
        if now >= claims.expires_at:
            raise Unauthorized(f"credential expired {now - claims.expires_at:.1f}s ago")
        if claimed_actor_id is not None and not same_actor(claims.actor_id, claimed_actor_id):
            raise Unauthorized(
                f"credential belongs to {claims.actor_id}, not {claimed_actor_id}"
            )
        return claims


def credential_to_query(credential: actr_pb2.AIdCredential) -> dict[str, str]:
    """The ``token``/``token_key_id`` query parameters for a reconnect URL."""
    token = base64.urlsafe_b64encode(bytes(credential.encrypted_token)).rstrip(b"=")
    return {"token": token.decode(), "token_key_id": str(credential.token_key_id)}


def credential_from_query(token: str, token_key_id: str) -> actr_pb2.AIdCredential:
    """Inverse of :func:`credential_to_query`; 401 when the parameters are malformed."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        key_id = int(token_key_id)
        if not 0 <= key_id < 2**32:
            raise ValueError("key id out of range")
    except (ValueError, binascii.Error):
        raise Unauthorized("malformed token or token_key_id query parameter") from None
    return actr_pb2.AIdCredential(encrypted_token=raw, token_key_id=key_id)
