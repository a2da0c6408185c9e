"""WebRTC wire figures: small-frame round trip and 1 KiB one-way throughput.

Both peers live in this process and on this event loop, over 127.0.0.1.
Baseline: two bare aiortc RTCPeerConnections with one ordered DataChannel,
set up the same way (loopback-only host candidates, same UDP buffers, no
STUN), echoing in a message callback. Ours: two WebRtcCoordinators with an
in-memory relay, frames on RPC_RELIABLE (round trip) and STREAM_RELIABLE
(throughput) through WebRtcConnection and the frame handler. Rounds of ours
and the baseline alternate so both see the same machine noise; the first
round of each is a discarded warm-up.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection

from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2
from actr_py.wire.webrtc import WebRtcConfig, WebRtcConnection, WebRtcCoordinator
from actr_py.wire.webrtc.gathering import restrict_gathering, set_receive_buffer
from actr_py.wire.webrtc.role import offerer_by_rule

from ._harness import BenchContext, Record, benchmark, latency_record, throughput_record

_A = ActorId(1, 1, ActrTypeName("bench", "a"))
_B = ActorId(1, 2, ActrTypeName("bench", "b"))
_CONFIG = WebRtcConfig()
_SMALL = b"\x0a\x0e" + b"x" * 14  # a 16-byte protobuf-looking frame
_KIB = b"\x0a" + b"k" * 1023
_HIGH_WATER = _CONFIG.send_high_water


class _Relay:
    """In-memory signaling that also arbitrates roles like the server."""

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


class _Ours:
    def __init__(self) -> None:
        self.nodes: dict[ActorId, WebRtcCoordinator] = {}
        self.pong: asyncio.Future[None] | None = None
        self.expected = 0
        self.received = 0
        self.done: asyncio.Future[None] | None = None

        async def on_a(peer: ActorId, pt: PayloadType, data: bytes) -> None:
            if self.pong is not None and not self.pong.done():
                self.pong.set_result(None)

        async def on_b(peer: ActorId, pt: PayloadType, data: bytes) -> None:
            if pt is PayloadType.RPC_RELIABLE:
                await self.b_conn.send(pt, data)  # echo
            else:
                self.received += 1
                if self.received == self.expected and self.done is not None:
                    self.done.set_result(None)

        self.a = WebRtcCoordinator(_A, _Relay(_A, self.nodes), on_a, config=_CONFIG)
        self.b = WebRtcCoordinator(_B, _Relay(_B, self.nodes), on_b, config=_CONFIG)
        self.nodes.update({_A: self.a, _B: self.b})

    async def start(self) -> None:
        self.conn: WebRtcConnection = await self.a.connect(_B)
        b_conn = self.b.connection(_A)
        assert b_conn is not None
        self.b_conn = b_conn

    async def rtt(self, n: int) -> list[float]:
        loop = asyncio.get_running_loop()
        clock = time.perf_counter_ns
        send = self.conn.send
        out = []
        for _ in range(n):
            self.pong = loop.create_future()
            t0 = clock()
            await send(PayloadType.RPC_RELIABLE, _SMALL)
            await self.pong
            out.append((clock() - t0) / 1000)
        return out

    async def throughput(self, n: int) -> float:
        self.expected, self.received = n, 0
        self.done = asyncio.get_running_loop().create_future()
        send = self.conn.send
        t0 = time.perf_counter()
        for _ in range(n):
            await send(PayloadType.STREAM_RELIABLE, _KIB)
        await self.done
        return n / (time.perf_counter() - t0)

    async def close(self) -> None:
        await self.a.close()
        await self.b.close()


class _Bare:
    def __init__(self) -> None:
        self.pc_a = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc_b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pong: asyncio.Future[None] | None = None
        self.expected = 0
        self.received = 0
        self.done: asyncio.Future[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[RTCDataChannel] = loop.create_future()
        self.channel = self.pc_a.createDataChannel("bench")
        self.channel.bufferedAmountLowThreshold = _CONFIG.send_low_water

        def on_a(message: bytes) -> None:
            if self.pong is not None and not self.pong.done():
                self.pong.set_result(None)

        self.channel.on("message", on_a)

        @self.pc_b.on("datachannel")
        def on_channel(channel: RTCDataChannel) -> None:
            def on_b(message: bytes) -> None:
                if len(message) == len(_SMALL):
                    channel.send(message)  # echo
                else:
                    self.received += 1
                    if self.received == self.expected and self.done is not None:
                        self.done.set_result(None)

            channel.on("message", on_b)
            opened.set_result(channel)

        restrict_gathering(self.pc_a, ["127.0.0.1"])
        await self.pc_a.setLocalDescription(await self.pc_a.createOffer())
        await self.pc_b.setRemoteDescription(self.pc_a.localDescription)
        restrict_gathering(self.pc_b, ["127.0.0.1"])
        await self.pc_b.setLocalDescription(await self.pc_b.createAnswer())
        await self.pc_a.setRemoteDescription(self.pc_b.localDescription)
        for pc in (self.pc_a, self.pc_b):
            set_receive_buffer(pc, _CONFIG.udp_receive_buffer or 0)
        await asyncio.wait_for(opened, 10)
        if self.channel.readyState != "open":
            ready: asyncio.Future[None] = loop.create_future()
            self.channel.once("open", lambda: ready.set_result(None))
            await asyncio.wait_for(ready, 10)

    async def rtt(self, n: int) -> list[float]:
        loop = asyncio.get_running_loop()
        clock = time.perf_counter_ns
        send = self.channel.send
        out = []
        for _ in range(n):
            self.pong = loop.create_future()
            t0 = clock()
            send(_SMALL)
            await self.pong
            out.append((clock() - t0) / 1000)
        return out

    async def throughput(self, n: int) -> float:
        loop = asyncio.get_running_loop()
        self.expected, self.received = n, 0
        self.done = loop.create_future()
        channel = self.channel
        t0 = time.perf_counter()
        for _ in range(n):
            if channel.bufferedAmount > _HIGH_WATER:  # the usual bare back pressure
                low: asyncio.Future[None] = loop.create_future()
                channel.once("bufferedamountlow", lambda f=low: f.done() or f.set_result(None))
                await low
            channel.send(_KIB)
        await self.done
        return n / (time.perf_counter() - t0)

    async def close(self) -> None:
        await self.pc_a.close()
        await self.pc_b.close()


@benchmark("webrtc.wire")
async def webrtc_wire(ctx: BenchContext) -> list[Record]:
    ours, bare = _Ours(), _Bare()
    await ours.start()
    await bare.start()
    try:
        rounds, per_round = ctx.n(8, 3), ctx.n(500, 200)
        rtt_ours: list[float] = []
        rtt_base: list[float] = []
        gc.collect()
        for i in range(rounds + 1):
            o = await ours.rtt(per_round)
            b = await bare.rtt(per_round)
            if i:
                rtt_ours += o
                rtt_base += b

        count = ctx.n(20_000, 5_000)
        tp_rounds = ctx.n(3, 1)
        tp_ours: list[float] = []
        tp_base: list[float] = []
        for i in range(tp_rounds + 1):
            o_rate = await ours.throughput(count)
            b_rate = await bare.throughput(count)
            if i:
                tp_ours.append(o_rate)
                tp_base.append(b_rate)
    finally:
        await ours.close()
        await bare.close()
    best_ours, best_base = max(tp_ours), max(tp_base)
    return [
        latency_record(
            "webrtc.wire.rtt_16B",
            rtt_ours,
            "bare aiortc DataChannel echo",
            rtt_base,
            note="RPC_RELIABLE frame out and echoed back, both peers in one process",
        ),
        throughput_record(
            "webrtc.wire.oneway_1KiB",
            best_ours,
            "bare aiortc DataChannel",
            best_base,
            unit="msg/s",
            note=(
                f"{count} x 1 KiB on STREAM_RELIABLE, best of {tp_rounds}; "
                f"{best_ours / 1024:.1f} vs {best_base / 1024:.1f} MiB/s"
            ),
        ),
    ]
