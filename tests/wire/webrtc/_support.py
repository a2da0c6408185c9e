"""Test doubles for the WebRTC wire: an in-memory signaling relay and node handles.

The relay hub stands in for the signaling server, which is the injected
interface of the wire: it keeps per-target order like a WebSocket would, and
answers RoleNegotiation the way the server is configured to (arbitrate, just
forward, or stay silent). ``intercept`` lets a test drop, rewrite or reorder
what travels.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection

from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2, webrtc_pb2
from actr_py.wire.webrtc import WebRtcConfig, WebRtcConnection, WebRtcCoordinator
from actr_py.wire.webrtc.gathering import restrict_gathering
from actr_py.wire.webrtc.lanes import LANE_BY_LABEL
from actr_py.wire.webrtc.role import offerer_by_rule
from actr_py.wire.webrtc.signaling import description_from_proto, description_to_proto

__all__ = [
    "ALICE",
    "BOB",
    "FAST",
    "Node",
    "PlainPeer",
    "RelayHub",
    "blackhole",
    "kind_of",
    "wait_until",
]

ALICE = ActorId(101, 0x10, ActrTypeName("acme", "alice"))
BOB = ActorId(101, 0x20, ActrTypeName("acme", "bob"))

#: Short timers so a dead peer or a silent server is seen quickly in tests.
FAST = WebRtcConfig(
    connect_timeout=6.0,
    role_timeout=0.3,
    hello_timeout=0.5,
    heartbeat_interval=0.2,
    heartbeat_timeout=1.5,
)

Inbound = Callable[[ActorId, Any], Awaitable[None]]
Intercept = Callable[[ActorId, ActorId, Any], list[Any] | None]


def kind_of(payload: Any) -> str:
    if isinstance(payload, webrtc_pb2.SessionDescription):
        return webrtc_pb2.SessionDescription.Type.Name(payload.type)
    if isinstance(payload, webrtc_pb2.IceCandidate):
        return "CANDIDATE" if payload.candidate else "END_OF_CANDIDATES"
    return type(payload).__name__


class _Relay:
    def __init__(self, hub: RelayHub, source: ActorId) -> None:
        self._hub = hub
        self._source = source

    async def send(self, target: ActorId, payload: Any) -> None:
        self._hub.submit(self._source, target, payload)


class RelayHub:
    """Routes relays between coordinators in one process, in order per target."""

    def __init__(
        self, roles: Literal["arbitrate", "inverted", "forward", "silent"] = "arbitrate"
    ) -> None:
        self.roles = roles
        self.intercept: Intercept | None = None
        self.log: list[tuple[ActorId, ActorId, str]] = []
        self._inbound: dict[ActorId, Inbound] = {}
        self._queues: dict[ActorId, asyncio.Queue[tuple[ActorId, Any]]] = {}
        self._workers: list[asyncio.Task[None]] = []

    def relay(self, source: ActorId) -> _Relay:
        return _Relay(self, source)

    def attach(self, actor_id: ActorId, inbound: Inbound) -> None:
        self._inbound[actor_id] = inbound
        if actor_id not in self._queues:
            queue: asyncio.Queue[tuple[ActorId, Any]] = asyncio.Queue()
            self._queues[actor_id] = queue
            self._workers.append(asyncio.get_running_loop().create_task(self._pump(actor_id)))

    def sent(self, source: ActorId | None = None, kind: str | None = None) -> list[str]:
        return [
            k
            for s, _, k in self.log
            if (source is None or s == source) and (kind is None or k == kind)
        ]

    def submit(self, source: ActorId, target: ActorId, payload: Any) -> None:
        self.log.append((source, target, kind_of(payload)))
        if isinstance(payload, actr_pb2.RoleNegotiation):
            if self.roles in ("arbitrate", "inverted"):
                # Like the server: answer both peers with the deterministic rule
                # ("inverted": the opposite, to prove the assignment is obeyed).
                flip = self.roles == "inverted"
                to_source = actr_pb2.RoleAssignment(
                    is_offerer=offerer_by_rule(source, target) != flip
                )
                to_target = actr_pb2.RoleAssignment(
                    is_offerer=offerer_by_rule(target, source) != flip
                )
                self.deliver(target, source, to_source)
                self.deliver(source, target, to_target)
            elif self.roles == "forward":
                self.deliver(source, target, payload)
            return
        outgoing = [payload]
        if self.intercept is not None:
            replaced = self.intercept(source, target, payload)
            if replaced is not None:
                outgoing = replaced
        for item in outgoing:
            self.deliver(source, target, item)

    def deliver(self, source: ActorId, target: ActorId, payload: Any) -> None:
        """Queue ``payload`` for ``target`` as if ``source`` had relayed it."""
        queue = self._queues.get(target)
        if queue is not None:
            queue.put_nowait((source, payload))

    async def _pump(self, actor_id: ActorId) -> None:
        queue = self._queues[actor_id]
        while True:
            source, payload = await queue.get()
            inbound = self._inbound.get(actor_id)
            if inbound is None:
                continue
            with contextlib.suppress(Exception):
                await inbound(source, payload)

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)


@dataclass
class Node:
    """A coordinator plus what it received; ``echo`` sends every frame back."""

    actor_id: ActorId
    hub: RelayHub
    config: WebRtcConfig = FAST
    echo: bool = False
    frames: list[tuple[PayloadType, bytes]] = field(default_factory=list)
    announced: list[WebRtcConnection] = field(default_factory=list)
    coordinator: WebRtcCoordinator = field(init=False)
    _arrived: asyncio.Event = field(init=False, default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.coordinator = WebRtcCoordinator(
            self.actor_id,
            self.hub.relay(self.actor_id),
            self._on_frame,
            config=self.config,
            on_connection=self.announced.append,
        )
        self.hub.attach(self.actor_id, self.coordinator.handle_relay)

    async def _on_frame(self, peer: ActorId, payload_type: PayloadType, data: bytes) -> None:
        self.frames.append((payload_type, data))
        self._arrived.set()
        if self.echo:
            conn = self.coordinator.connection(peer)
            if conn is not None:
                await conn.send(payload_type, data)

    async def wait_frames(
        self, count: int, timeout: float = 10.0
    ) -> list[tuple[PayloadType, bytes]]:
        async with asyncio.timeout(timeout):
            while len(self.frames) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.frames

    async def close(self) -> None:
        await self.coordinator.close()


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll ``predicate`` on the event loop until true (state, not speed, is asserted)."""
    async with asyncio.timeout(timeout):
        while True:  # aiortc exposes no event for most of these states
            if predicate():
                return
            await asyncio.sleep(0.01)


def blackhole(conn: WebRtcConnection) -> None:
    """Make ``conn``'s network path silently drop everything, both ways.

    The peer sees no goodbye, no SCTP abort, no DTLS alert: exactly a host
    that vanished. Reaches into aioice's sockets; test-only.
    """
    ice = conn.peer_connection.sctp.transport.transport
    for protocol in ice._connection._protocols:
        protocol.transport.sendto = lambda *args, **kwargs: None
        protocol.datagram_received = lambda *args, **kwargs: None


class PlainPeer:
    """A bare aiortc peer that speaks plain actr, like upstream or a simple browser.

    It opens lane channels with an empty protocol, ignores channels whose label
    is not a PayloadType name (so it never sees our control channel), puts one
    message per DataChannel message and echoes every message it receives.
    """

    def __init__(self, actor_id: ActorId, hub: RelayHub) -> None:
        self.actor_id = actor_id
        self.hub = hub
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.received: list[tuple[str, bytes]] = []
        self.labels_seen: list[str] = []
        self.pc.on("datachannel", self._adopt)
        hub.attach(actor_id, self._inbound)

    def _adopt(self, channel: RTCDataChannel) -> None:
        self.labels_seen.append(channel.label)
        if channel.label not in LANE_BY_LABEL:
            return

        def on_message(message: bytes) -> None:
            self.received.append((channel.label, message))
            channel.send(message)

        channel.on("message", on_message)

    async def offer(self, target: ActorId) -> None:
        self._adopt(self.pc.createDataChannel("RPC_RELIABLE"))
        restrict_gathering(self.pc, ["127.0.0.1"])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.hub.submit(self.actor_id, target, description_to_proto(self.pc.localDescription))

    async def _inbound(self, source: ActorId, payload: Any) -> None:
        if not isinstance(payload, webrtc_pb2.SessionDescription):
            return  # candidates are in the SDP; roles are not its business
        description = description_from_proto(payload)
        await self.pc.setRemoteDescription(description)
        if description.type == "offer":
            restrict_gathering(self.pc, ["127.0.0.1"])
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            self.hub.submit(self.actor_id, source, description_to_proto(self.pc.localDescription))

    async def close(self) -> None:
        await self.pc.close()
