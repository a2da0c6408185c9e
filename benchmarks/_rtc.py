"""Bare aiortc plumbing shared by the WebRTC baselines (parent side).

The baselines use aiortc the way an application would: one RTCPeerConnection,
DataChannels created before the offer, loopback host candidates only (aioice
skips 127.0.0.1 by itself, see actr_py/wire/webrtc/gathering.py), no STUN,
the same UDP receive buffer our connections ask for, and the usual
``bufferedAmount`` back pressure with our own high/low water marks.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from actr_py.ids import ActorId
from actr_py.proto import actr_pb2
from actr_py.wire.base import FrameHandler
from actr_py.wire.webrtc import WebRtcConnection, WebRtcCoordinator
from actr_py.wire.webrtc.config import WebRtcConfig
from actr_py.wire.webrtc.gathering import restrict_gathering, set_receive_buffer
from actr_py.wire.webrtc.role import offerer_by_rule

from ._procs import Child, spawn

__all__ = [
    "CHANNELS",
    "HIGH_WATER",
    "LOW_WATER",
    "BareLink",
    "BareRemote",
    "LinkLost",
    "bare_local_pair",
    "bare_remote",
    "bare_send",
    "bare_sender",
    "create_channels",
    "new_pc",
    "ours_local_pair",
    "wait_open",
]

_CONFIG = WebRtcConfig()
HIGH_WATER = _CONFIG.send_high_water
LOW_WATER = _CONFIG.send_low_water
#: The UDP receive buffer our connections ask for; the baselines get the same.
UDP_BUFFER = _CONFIG.udp_receive_buffer or 0

#: label -> (ordered, maxRetransmits): the same reliability as our lanes
#: (RPC_RELIABLE / STREAM_RELIABLE ordered and reliable; STREAM_LATENCY_FIRST
#: unordered with 3 retransmissions).
CHANNELS: dict[str, tuple[bool, int | None]] = {
    "echo": (True, None),
    "sink-reliable": (True, None),
    "sink-latency": (False, 3),
}


def new_pc() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def wait_open(channel: RTCDataChannel, timeout: float = 15.0) -> None:
    if channel.readyState == "open":
        return
    opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    channel.once("open", lambda: opened.done() or opened.set_result(None))
    await asyncio.wait_for(opened, timeout)


def create_channels(
    pc: RTCPeerConnection, labels: tuple[str, ...]
) -> dict[str, RTCDataChannel]:
    """Create the benchmark channels ``labels`` on ``pc`` (before the offer)."""
    out = {}
    for label in labels:
        ordered, retransmits = CHANNELS[label]
        channel = pc.createDataChannel(label, ordered=ordered, maxRetransmits=retransmits)
        channel.bufferedAmountLowThreshold = LOW_WATER
        out[label] = channel
    return out


class LinkLost(Exception):
    """The bare peer connection died under load (aiortc closed the channel)."""


async def bare_send(channel: RTCDataChannel, payload: bytes, n: int) -> None:
    """Send ``payload`` ``n`` times, waiting below the high-water mark like an app would.

    Raises LinkLost when the channel closes meanwhile: under sustained load
    stock aiortc can lose its own connection (ICE consent checks time out
    while its loop is busy scanning the sent queue).
    """
    loop = asyncio.get_running_loop()
    send = channel.send
    for _ in range(n):
        if channel.bufferedAmount > HIGH_WATER:
            low: asyncio.Future[None] = loop.create_future()

            def wake(*_: object, f: asyncio.Future[None] = low) -> None:
                if not f.done():
                    f.set_result(None)

            channel.once("bufferedamountlow", wake)
            channel.once("close", wake)
            await low
        if channel.readyState != "open":
            raise LinkLost(f"bare channel {channel.label} is {channel.readyState}")
        send(payload)


@dataclass
class BareLink:
    """One bare peer connection to the child, with its channels by label."""

    pc: RTCPeerConnection
    channels: dict[str, RTCDataChannel]
    id: str

    @property
    def alive(self) -> bool:
        return all(c.readyState == "open" for c in self.channels.values())


class BareRemote:
    """The parent's handle on a ``benchmarks._bare_peer`` child."""

    def __init__(self, child: Child) -> None:
        self.child = child
        self._ids = itertools.count()

    async def connect(self, labels: tuple[str, ...] = tuple(CHANNELS)) -> BareLink:
        """A new peer connection to the child with ``labels`` open."""
        pc = new_pc()
        channels = create_channels(pc, labels)
        restrict_gathering(pc, ["127.0.0.1"])
        await pc.setLocalDescription(await pc.createOffer())
        link_id = str(next(self._ids))
        answer = await self.child.request(
            op="answer", id=link_id, sdp=pc.localDescription.sdp, type=pc.localDescription.type
        )
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        set_receive_buffer(pc, UDP_BUFFER)
        for channel in channels.values():
            await wait_open(channel)
        return BareLink(pc, channels, link_id)

    async def close(self, link: BareLink) -> None:
        await link.pc.close()
        await self.child.request(op="close", id=link.id)

    async def expect(self, label: str, count: int, quiet: float) -> dict[str, float]:
        return await self.child.request(op="expect", label=label, count=count, quiet=quiet)


@contextlib.asynccontextmanager
async def bare_remote() -> AsyncIterator[BareRemote]:
    """The far end of the baselines, on the child CPU(s)."""
    async with spawn("benchmarks._bare_peer") as child:
        yield BareRemote(child)


class BareSender:
    """The sending end of the baselines: a ``benchmarks._bare_peer`` on the
    measuring CPU, connected to a :class:`BareRemote` (see that module for why
    it is a process of its own)."""

    def __init__(self, child: Child) -> None:
        self.child = child
        #: How many times aiortc lost the connection under load and it was rebuilt.
        self.lost = 0

    async def connect(self, remote: BareRemote) -> None:
        offer = await self.child.request(op="offer")
        answer = await remote.child.request(
            op="answer", id=f"sender-{self.lost}", sdp=offer["sdp"], type=offer["type"]
        )
        await self.child.request(op="accept", sdp=answer["sdp"], type=answer["type"])

    async def send(self, remote: BareRemote, label: str, size: int, n: int) -> float:
        """Send ``n`` messages of ``size`` bytes; the monotonic time before the first.

        If aiortc loses the connection meanwhile, it is rebuilt and the
        transfer repeated once.
        """
        for attempt in (1, 2):
            reply = await self.child.request(op="send", label=label, size=size, n=n, timeout=600)
            if not reply.get("lost"):
                return float(reply["t0"])
            self.lost += 1
            await remote.expect(label, 0, 0.01)  # forget what the dead link delivered
            await self.connect(remote)
            if attempt == 2:
                raise LinkLost(f"bare link lost twice sending {n} x {size} B on {label}")
        raise AssertionError("unreachable")

    async def rtt(self, n: int) -> list[float]:
        return list((await self.child.request(op="rtt", n=n, timeout=600))["samples"])

    async def calls(self, total: int, window: int) -> float:
        reply = await self.child.request(op="calls", total=total, window=window, timeout=600)
        return float(reply["rate"])


@contextlib.asynccontextmanager
async def bare_sender(remote: BareRemote) -> AsyncIterator[BareSender]:
    """A sending end on the measuring CPU(s), connected to ``remote``."""
    async with spawn("benchmarks._bare_peer", cpus="parent") as child:
        sender = BareSender(child)
        await sender.connect(remote)
        yield sender


async def bare_local_pair(
    labels: tuple[str, ...] = ("echo",),
) -> tuple[RTCPeerConnection, RTCPeerConnection, dict[str, RTCDataChannel],
           dict[str, RTCDataChannel]]:
    """Two connected peer connections in this process: (a, b, a's channels, b's channels)."""
    pc_a, pc_b = new_pc(), new_pc()
    theirs: dict[str, RTCDataChannel] = {}
    all_in = asyncio.get_running_loop().create_future()

    @pc_b.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        theirs[channel.label] = channel
        if len(theirs) == len(labels) and not all_in.done():
            all_in.set_result(None)

    ours = create_channels(pc_a, labels)
    restrict_gathering(pc_a, ["127.0.0.1"])
    await pc_a.setLocalDescription(await pc_a.createOffer())
    await pc_b.setRemoteDescription(pc_a.localDescription)
    restrict_gathering(pc_b, ["127.0.0.1"])
    await pc_b.setLocalDescription(await pc_b.createAnswer())
    await pc_a.setRemoteDescription(pc_b.localDescription)
    for pc in (pc_a, pc_b):
        set_receive_buffer(pc, UDP_BUFFER)
    for channel in ours.values():
        await wait_open(channel)
    await asyncio.wait_for(all_in, 15)
    return pc_a, pc_b, ours, theirs


class _Relay:
    """In-memory signaling between coordinators of this process; arbitrates roles
    the way the signaling server does."""

    def __init__(self, source: ActorId, nodes: dict[ActorId, WebRtcCoordinator]) -> None:
        self._source = source
        self._nodes = nodes
        self._tasks: set[asyncio.Task[None]] = set()

    def _deliver(self, source: ActorId, target: ActorId, payload: Any) -> None:
        task = asyncio.get_running_loop().create_task(
            self._nodes[target].handle_relay(source, payload)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send(self, target: ActorId, payload: Any) -> None:
        if isinstance(payload, actr_pb2.RoleNegotiation):
            mine = offerer_by_rule(self._source, target)
            self._deliver(target, self._source, actr_pb2.RoleAssignment(is_offerer=mine))
            self._deliver(self._source, target, actr_pb2.RoleAssignment(is_offerer=not mine))
        else:
            self._deliver(self._source, target, payload)


async def ours_local_pair(
    a: ActorId, b: ActorId, on_a: FrameHandler, on_b: FrameHandler,
    nodes: dict[ActorId, WebRtcCoordinator] | None = None,
) -> tuple[WebRtcCoordinator, WebRtcCoordinator, WebRtcConnection, WebRtcConnection]:
    """Two coordinators of this process connected through an in-memory relay.

    Returns (a's coordinator, b's, a's connection to b, b's connection to a),
    both connections ready. ``nodes`` lets several pairs share coordinators.
    """
    nodes = {} if nodes is None else nodes
    coord_a = nodes.get(a) or WebRtcCoordinator(a, _Relay(a, nodes), on_a, config=_CONFIG)
    coord_b = nodes.get(b) or WebRtcCoordinator(b, _Relay(b, nodes), on_b, config=_CONFIG)
    nodes.update({a: coord_a, b: coord_b})
    conn_a = await coord_a.connect(b)
    for _ in range(1000):  # the answering side is announced a loop turn or two later
        conn_b = coord_b.connection(a)
        if conn_b is not None and conn_b.ready:
            return coord_a, coord_b, conn_a, conn_b
        await asyncio.sleep(0.005)
    raise TimeoutError(f"{b} never saw the connection from {a}")
