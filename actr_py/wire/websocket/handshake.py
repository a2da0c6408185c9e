"""The LaneHello exchange that opens every WebSocket lane, and its close codes.

The first WebSocket message each way is a serialized ``actr.LaneHello``: our
ActorId plus the AIdCredential the signaling server issued us. The receiving
side hands it to an injected :data:`Authenticator`, which returns the
authenticated ActorId or raises Unauthorized/Forbidden. The dialer speaks
first; the listener answers only after the dialer passed, so a stranger never
learns the listener's credential and nothing it sends reaches a FrameHandler.

Refusals travel as WebSocket close codes ``4000 + actr code`` (4401, 4403,
4409, ...), so the refused side raises the same typed error the refusing side
raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from google.protobuf.message import DecodeError

from ...errors import ActrError, ProtocolError, Unavailable, error_for_code
from ...ids import ActorId
from ...proto import actr_pb2, package_pb2
from .rfc6455 import CLOSE_GOING_AWAY, CLOSE_NORMAL

__all__ = [
    "CLOSE_GOING_AWAY",
    "CLOSE_NORMAL",
    "Authenticator",
    "CredentialSource",
    "IdSource",
    "MessageSource",
    "close_code_for",
    "close_reason",
    "decode_hello",
    "encode_hello",
    "error_for_close",
    "receive_hello",
    "resolve",
]

#: Authenticates a peer's hello: returns who it is, or raises Unauthorized /
#: Forbidden (any ActrError refuses the socket with that error's code).
Authenticator = Callable[[package_pb2.LaneHello], Awaitable[ActorId]]
#: Our id, or a callable returning it (None while signaling has not issued one).
IdSource = ActorId | Callable[[], ActorId | None]
#: Our credential, or a callable returning the current one (renewals).
CredentialSource = actr_pb2.AIdCredential | Callable[[], actr_pb2.AIdCredential | None]

_APP_BASE = 4000
# RFC 6455: a close frame carries at most 125 bytes, two of them the code.
_MAX_REASON = 123

_T = TypeVar("_T")


class MessageSource(Protocol):
    """What :func:`receive_hello` reads from (the lane's protocol before attach)."""

    async def receive_message(self) -> bytes: ...


def resolve(source: _T | Callable[[], _T | None]) -> _T | None:
    """The value of an id/credential source that may be a callable."""
    if callable(source):
        return source()
    return source


def encode_hello(actor_id: ActorId, credential: actr_pb2.AIdCredential) -> bytes:
    hello = package_pb2.LaneHello(actr_id=actor_id.to_proto())
    hello.credential.CopyFrom(credential)
    return hello.SerializeToString()


def decode_hello(data: bytes) -> package_pb2.LaneHello:
    """Parse a LaneHello; a malformed or incomplete one is a ProtocolError."""
    hello = package_pb2.LaneHello()
    try:
        hello.ParseFromString(data)
    except DecodeError as exc:
        raise ProtocolError(f"first message is not a valid LaneHello: {exc}") from None
    if not hello.IsInitialized():
        missing = ", ".join(hello.FindInitializationErrors())
        raise ProtocolError(f"LaneHello lacks required fields: {missing}")
    return hello


def close_code_for(error: ActrError) -> int:
    """The WebSocket close code that carries ``error`` to the peer."""
    code = error.code if 400 <= error.code <= 599 else 500
    return _APP_BASE + code


def close_reason(error: BaseException | str) -> bytes:
    """A close reason that fits in a close frame (UTF-8, cut at a character)."""
    text = error if isinstance(error, str) else (getattr(error, "message", "") or str(error))
    raw = text.encode("utf-8")
    if len(raw) <= _MAX_REASON:
        return raw
    return raw[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")


def error_for_close(code: int | None, reason: str) -> ActrError:
    """The typed error for a close the peer sent during the handshake."""
    if code is not None and _APP_BASE + 400 <= code < _APP_BASE + 600:
        return error_for_code(code - _APP_BASE, reason or f"peer refused the lane ({code})")
    return Unavailable(f"peer closed the lane during the handshake (code {code}) {reason}".strip())


async def receive_hello(source: MessageSource) -> package_pb2.LaneHello:
    """Wait for the peer's LaneHello (the caller bounds the wait).

    A close from the peer becomes the error its close code names, a text
    message or bad bytes a ProtocolError, a dropped socket Unavailable.
    Pings before the hello are answered by the protocol and never seen here.
    """
    return decode_hello(await source.receive_message())
