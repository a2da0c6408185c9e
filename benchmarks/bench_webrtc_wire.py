"""WebRTC wire figures with both peers in this process: the wire alone, no node.

Ours: two WebRtcCoordinators connected through an in-memory relay, frames
sent with ``WebRtcConnection.send`` and handed to the frame handler on the
far side. Baseline: two bare aiortc RTCPeerConnections with one ordered
DataChannel, set up the same way (see :mod:`benchmarks._rtc`), echoing or
counting in the message callback. Rounds of ours and the baseline alternate;
the first round of each is a discarded warm-up. One process and one loop
carry both ends, so these figures show the cost per message of each stack
with no second core to hide it; the cross-process figures are in
``bench_webrtc_node``.

* ``webrtc.wire.rtt_16B``: a 16-byte frame on RPC_RELIABLE out and echoed back.
* ``webrtc.wire.oneway_1KiB``: 1 KiB frames one way on STREAM_RELIABLE until
  the far side has counted them all.
"""

from __future__ import annotations

import asyncio
import gc
import time

from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType

from ._harness import BenchContext, Record, benchmark, latency_record, throughput_record
from ._rtc import bare_local_pair, bare_send, ours_local_pair

__all__: list[str] = []

_A = ActorId(1, 1, ActrTypeName("bench", "a"))
_B = ActorId(1, 2, ActrTypeName("bench", "b"))
_SMALL = b"\x0a\x0e" + b"x" * 14  # a 16-byte protobuf-looking frame
_KIB = b"\x0a" + b"k" * 1023


class _Counter:
    """Completes a future on a reply, or when ``expected`` one-way frames arrived."""

    def __init__(self) -> None:
        self.pong: asyncio.Future[None] | None = None
        self.expected = 0
        self.received = 0
        self.done: asyncio.Future[None] | None = None

    def reply(self) -> None:
        if self.pong is not None and not self.pong.done():
            self.pong.set_result(None)

    def count(self) -> None:
        self.received += 1
        if self.received == self.expected and self.done is not None and not self.done.done():
            self.done.set_result(None)

    def arm(self, expected: int) -> asyncio.Future[None]:
        self.expected, self.received = expected, 0
        self.done = asyncio.get_running_loop().create_future()
        return self.done


async def _rtt(send: object, counter: _Counter, n: int) -> list[float]:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        counter.pong = loop.create_future()
        t0 = clock()
        result = send(_SMALL)  # type: ignore[operator]
        if result is not None:
            await result
        await counter.pong
        out.append((clock() - t0) / 1000)
    return out


@benchmark("webrtc.wire")
async def webrtc_wire(ctx: BenchContext) -> list[Record]:
    ours, bare = _Counter(), _Counter()
    conn_b_box = []

    async def on_a(peer: ActorId, pt: PayloadType, data: bytes) -> None:
        ours.reply()

    async def on_b(peer: ActorId, pt: PayloadType, data: bytes) -> None:
        if pt is PayloadType.RPC_RELIABLE:
            await conn_b_box[0].send(pt, data)  # echo
        else:
            ours.count()

    coord_a, coord_b, conn, conn_b = await ours_local_pair(_A, _B, on_a, on_b)
    conn_b_box.append(conn_b)
    pc_a, pc_b, mine, theirs = await bare_local_pair(("echo", "sink-reliable"))
    mine["echo"].on("message", lambda m: bare.reply())
    theirs["echo"].on("message", theirs["echo"].send)
    theirs["sink-reliable"].on("message", lambda m: bare.count())

    async def ours_send(data: bytes) -> None:
        await conn.send(PayloadType.RPC_RELIABLE, data)

    try:
        rounds, per_round = ctx.n(8, 2), ctx.n(500, 200)
        rtt_ours: list[float] = []
        rtt_base: list[float] = []
        gc.collect()
        for i in range(rounds + 1):
            o = await _rtt(ours_send, ours, per_round)
            b = await _rtt(mine["echo"].send, bare, per_round)
            if i:
                rtt_ours += o
                rtt_base += b

        count = ctx.n(20_000, 4_000)
        tp_rounds = ctx.n(3, 1)
        tp_ours: list[float] = []
        tp_base: list[float] = []
        for i in range(tp_rounds + 1):
            n = count if i else count // 5
            done = ours.arm(n)
            t0 = time.perf_counter()
            for _ in range(n):
                await conn.send(PayloadType.STREAM_RELIABLE, _KIB)
            await done
            o_rate = n / (time.perf_counter() - t0)
            done = bare.arm(n)
            t0 = time.perf_counter()
            await bare_send(mine["sink-reliable"], _KIB, n)
            await done
            b_rate = n / (time.perf_counter() - t0)
            if i:
                tp_ours.append(o_rate)
                tp_base.append(b_rate)
    finally:
        await coord_a.close()
        await coord_b.close()
        await pc_a.close()
        await pc_b.close()
    best_ours, best_base = max(tp_ours), max(tp_base)
    return [
        latency_record(
            "webrtc.wire.rtt_16B", rtt_ours, "bare aiortc DataChannel echo", rtt_base,
            note="RPC_RELIABLE frame out and echoed back, both peers in one process",
        ),
        throughput_record(
            "webrtc.wire.oneway_1KiB", best_ours, "bare aiortc DataChannel", best_base,
            unit="msg/s",
            note=f"{count} x 1 KiB on STREAM_RELIABLE, both peers in one process, best of "
            f"{tp_rounds}; {best_ours / 1024:.1f} vs {best_base / 1024:.1f} MiB/s",
        ),
    ]
