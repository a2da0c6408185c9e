"""Test helpers for the WebSocket lane: a real HMAC verifier, ids, frame sinks.

The authenticator is a genuine check (HMAC-SHA256 over the actor id with a
test key), so a stranger without the key really is refused; the Ed25519
credential module plugs into the same seam in the node tests.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable

from actr_py.errors import Forbidden, InvalidId, Unauthorized
from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2, package_pb2
from actr_py.wire.websocket import WebSocketConnection, WebSocketListener, WebSocketOptions

__all__ = [
    "CALLEE",
    "CALLER",
    "FAST",
    "KEY",
    "FrameSink",
    "HmacAuthority",
    "LanePair",
    "ListenerFactory",
    "PairFactory",
    "actor",
]

KEY = b"actr-py websocket lane test key"

#: Short timers so liveness and timeouts are observable in a fast test run.
FAST = WebSocketOptions(
    heartbeat_interval=0.2,
    dead_peer_timeout=1.0,
    hello_timeout=1.0,
    close_timeout=0.5,
)


def actor(serial: int, name: str = "peer", realm: int = 7) -> ActorId:
    return ActorId(realm, serial, ActrTypeName("acme", name))


CALLER = actor(0x10, "caller")
CALLEE = actor(0x20, "callee")


class HmacAuthority:
    """Issues and checks credentials: token = HMAC(key, str(actor id))."""

    KEY_ID = 1

    def __init__(self, key: bytes = KEY) -> None:
        self._key = key
        self.denied: set[ActorId] = set()
        self.checked: list[ActorId] = []

    def credential(self, actor_id: ActorId) -> actr_pb2.AIdCredential:
        token = hmac.new(self._key, str(actor_id).encode(), hashlib.sha256).digest()
        return actr_pb2.AIdCredential(encrypted_token=token, token_key_id=self.KEY_ID)

    async def authenticate(self, hello: package_pb2.LaneHello) -> ActorId:
        try:
            claimed = ActorId.from_proto(hello.actr_id)
        except InvalidId as exc:
            raise Unauthorized(f"hello carries a malformed actor id: {exc.message}") from None
        if hello.credential.token_key_id != self.KEY_ID:
            raise Unauthorized(f"unknown token key {hello.credential.token_key_id}")
        expected = self.credential(claimed).encrypted_token
        if not hmac.compare_digest(expected, hello.credential.encrypted_token):
            raise Unauthorized(f"bad credential for {claimed}")
        if claimed in self.denied:
            raise Forbidden(f"{claimed} may not open lanes here")
        self.checked.append(claimed)
        return claimed


class FrameSink:
    """A FrameHandler that records frames and lets a test wait for a count."""

    def __init__(self) -> None:
        self.frames: list[tuple[ActorId, PayloadType, bytes]] = []
        self._changed = asyncio.Event()

    async def __call__(self, peer: ActorId, payload_type: PayloadType, data: bytes) -> None:
        self.frames.append((peer, payload_type, data))
        self._changed.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.frames) < count:
                self._changed.clear()
                await self._changed.wait()

    @property
    def payloads(self) -> list[bytes]:
        return [data for _, _, data in self.frames]


#: conftest ``start_listener``: (actor id, **listener kwargs) -> (listener, sink).
ListenerFactory = Callable[..., Awaitable[tuple[WebSocketListener, FrameSink]]]
#: conftest ``lane_pair``: (dialed, accepted, caller sink, callee sink).
LanePair = tuple[WebSocketConnection, WebSocketConnection, FrameSink, FrameSink]
PairFactory = Callable[..., Awaitable[LanePair]]
