"""The in-process wire: nodes of one process reach each other through a hub.

There is no socket: ``send`` hands the frame straight to the receiving
node's inbound gate, whose bounded asyncio queues (mailbox, stream queues)
are the many-producer, single-consumer buffers. That keeps an in-process
call to one event-loop hop each way. The hub also plays the signaling
server's part for in-process discovery: it issues ids and answers "who
runs type X".
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Awaitable, Callable

from ..errors import Unavailable
from ..ids import ActorId, ActrTypeName
from ..payload_type import PayloadType
from ..proto import package_pb2
from .base import DONE, FrameHandler, WireConnection

#: Receives an RpcEnvelope object from an in-process peer (no serialization).
#: Takes an envelope object from an in-process peer; returns ``None`` when it was
#: handled without waiting, else an awaitable (an async function also fits).
EnvelopeHandler = Callable[
    [ActorId, PayloadType, package_pb2.RpcEnvelope], Awaitable[None] | None
]

__all__ = ["EnvelopeHandler", "InprocConnection", "InprocHub", "default_hub"]


class InprocConnection(WireConnection):
    """One direction of a link between two nodes in this process."""

    kind = "inproc"

    def __init__(
        self,
        self_id: ActorId,
        peer_id: ActorId,
        deliver: FrameHandler,
        deliver_envelope: EnvelopeHandler,
    ) -> None:
        super().__init__(peer_id)
        self._self_id = self_id
        self._deliver = deliver
        self._deliver_envelope = deliver_envelope

    async def send(self, payload_type: PayloadType, data: bytes) -> None:
        if self._closed:
            raise Unavailable(f"actor {self.peer_id} has stopped")
        # The receiver sees our id: in-process, identity needs no credential.
        await self._deliver(self._self_id, payload_type, data)

    def send_envelope(
        self, payload_type: PayloadType, envelope: package_pb2.RpcEnvelope
    ) -> Awaitable[None]:
        if self._closed:
            raise Unavailable(f"actor {self.peer_id} has stopped")
        waiting = self._deliver_envelope(self._self_id, payload_type, envelope)
        return DONE if waiting is None else waiting

    async def close(self, reason: str = "") -> None:
        self._mark_closed(Unavailable(reason or f"link to {self.peer_id} closed"))


class InprocHub:
    """Registry of the running nodes of one process."""

    def __init__(self) -> None:
        # Random start so ids from two processes rarely collide in logs.
        self._next_serial = int.from_bytes(os.urandom(3), "big") << 8
        self._handlers: dict[ActorId, tuple[FrameHandler, EnvelopeHandler]] = {}
        self._by_type: dict[tuple[int, str, str], list[ActorId]] = defaultdict(list)
        self._links: dict[ActorId, list[InprocConnection]] = defaultdict(list)

    def register(
        self,
        actr_type: ActrTypeName,
        realm: int,
        handler: FrameHandler,
        envelope_handler: EnvelopeHandler,
        serial: int | None = None,
    ) -> ActorId:
        if serial is None:
            self._next_serial += 1
            serial = self._next_serial
        actor_id = ActorId(realm, serial, actr_type)
        if actor_id in self._handlers:
            raise ValueError(f"{actor_id} is already registered in this hub")
        self._handlers[actor_id] = (handler, envelope_handler)
        self._by_type[(realm, actr_type.manufacturer, actr_type.name)].append(actor_id)
        return actor_id

    def unregister(self, actor_id: ActorId) -> None:
        """Forget the node and close every link pointing at it (callers fail fast)."""
        if self._handlers.pop(actor_id, None) is None:
            return
        key = (actor_id.realm, actor_id.type.manufacturer, actor_id.type.name)
        ids = self._by_type.get(key, [])
        if actor_id in ids:
            ids.remove(actor_id)
        for link in self._links.pop(actor_id, []):
            link._mark_closed(Unavailable(f"actor {actor_id} has stopped"))

    def is_registered(self, actor_id: ActorId) -> bool:
        return actor_id in self._handlers

    def find(self, actr_type: ActrTypeName, realm: int) -> list[ActorId]:
        return list(self._by_type.get((realm, actr_type.manufacturer, actr_type.name), ()))

    def connect(self, self_id: ActorId, peer_id: ActorId) -> InprocConnection:
        handlers = self._handlers.get(peer_id)
        if handlers is None:
            raise Unavailable(f"actor {peer_id} is not running in this process")
        link = InprocConnection(self_id, peer_id, *handlers)
        self._links[peer_id].append(link)
        return link


_default: InprocHub | None = None


def default_hub() -> InprocHub:
    """The process-wide hub that nodes join unless given their own."""
    global _default
    if _default is None:
        _default = InprocHub()
    return _default
