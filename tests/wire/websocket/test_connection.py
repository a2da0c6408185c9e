"""WebSocketConnection over real sockets: order, size, coalescing, errors, backpressure."""

from __future__ import annotations

import asyncio
import os
import struct
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from actr_py.errors import LocalError, PayloadTooLarge, ProtocolError, Unavailable
from actr_py.ids import ActorId
from actr_py.payload_type import PayloadType
from actr_py.wire.websocket import (
    WebSocketConnection,
    WebSocketOptions,
    connect_websocket,
    decode_frames,
    decode_hello,
    encode_frame,
    encode_hello,
)

from ._support import CALLEE, CALLER, FAST, FrameSink, HmacAuthority, PairFactory

TYPES = list(PayloadType)


# ---- a hand-driven peer, to see and forge raw WebSocket messages -------------


class RawPeer:
    """A bare aiohttp server that speaks the hello by hand, then records messages."""

    def __init__(self, authority: HmacAuthority) -> None:
        self.authority = authority
        self.messages: list[bytes] = []
        self.ws: web.WebSocketResponse | None = None
        self.ready = asyncio.Event()
        self.closed: asyncio.Future[tuple[int | None, str]] = (
            asyncio.get_running_loop().create_future()
        )
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/actr/ws", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"ws://127.0.0.1:{port}/actr/ws"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024 * 1024)
        await ws.prepare(request)
        hello = decode_hello(await ws.receive_bytes())
        await self.authority.authenticate(hello)
        await ws.send_bytes(encode_hello(CALLEE, self.authority.credential(CALLEE)))
        self.ws = ws
        self.ready.set()
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.BINARY:
                self.messages.append(msg.data)
                self._changed.set()
        if not self.closed.done():
            self.closed.set_result((ws.close_code, ""))
        return ws

    async def wait_frames(self, count: int) -> list[tuple[PayloadType, bytes]]:
        async with asyncio.timeout(5):
            while True:
                frames = [f for m in self.messages for f in decode_frames(m, 2**30)]
                if len(frames) >= count:
                    return frames
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def raw_peer(authority: HmacAuthority) -> AsyncIterator[RawPeer]:
    peer = RawPeer(authority)
    await peer.start()
    yield peer
    await peer.stop()


async def _dial_raw(
    authority: HmacAuthority, peer: RawPeer, sink: FrameSink, options: WebSocketOptions = FAST
) -> WebSocketConnection:
    conn = await connect_websocket(
        peer.url,
        self_id=CALLER,
        credential=authority.credential(CALLER),
        expected_peer=CALLEE,
        authenticate=authority.authenticate,
        on_frame=sink,
        timeout=3.0,
        options=options,
    )
    await asyncio.wait_for(peer.ready.wait(), 3.0)
    return conn


def _closed_with(conn: WebSocketConnection) -> asyncio.Future[BaseException | None]:
    fut: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def done(_conn: object, exc: BaseException | None) -> None:
        assert not fut.done(), "close callback fired twice"
        fut.set_result(exc)

    conn.add_close_callback(done)
    return fut


# ---- order and size ------------------------------------------------------------


async def test_ten_thousand_frames_arrive_in_order_both_ways(lane_pair: PairFactory) -> None:
    caller, callee, caller_sink, callee_sink = await lane_pair()
    n = 10_000

    async def pump(conn: WebSocketConnection, tag: bytes) -> None:
        for i in range(n):
            await conn.send(TYPES[i % len(TYPES)], tag + i.to_bytes(4, "big"))

    await asyncio.gather(pump(caller, b"c"), pump(callee, b"s"))
    await asyncio.gather(callee_sink.wait_for(n), caller_sink.wait_for(n))
    assert callee_sink.payloads == [b"c" + i.to_bytes(4, "big") for i in range(n)]
    assert caller_sink.payloads == [b"s" + i.to_bytes(4, "big") for i in range(n)]
    assert [t for _, t, _ in callee_sink.frames[:10]] == [TYPES[i % len(TYPES)] for i in range(10)]
    assert {p for p, _, _ in callee_sink.frames} == {CALLER}
    assert {p for p, _, _ in caller_sink.frames} == {CALLEE}


async def test_five_mib_frame_round_trips_intact(lane_pair: PairFactory) -> None:
    caller, callee, caller_sink, callee_sink = await lane_pair()
    blob = os.urandom(5 * 1024 * 1024)
    await caller.send(PayloadType.STREAM_RELIABLE, blob)
    await callee_sink.wait_for(1)
    assert callee_sink.frames[0][1] is PayloadType.STREAM_RELIABLE
    assert callee_sink.payloads[0] == blob
    await callee.send(PayloadType.STREAM_RELIABLE, callee_sink.payloads[0][::-1])
    await caller_sink.wait_for(1)
    assert caller_sink.payloads[0] == blob[::-1]


# ---- coalescing -----------------------------------------------------------------


async def test_sends_queued_in_one_loop_turn_travel_as_one_message(
    authority: HmacAuthority, raw_peer: RawPeer
) -> None:
    conn = await _dial_raw(authority, raw_peer, FrameSink())
    try:
        sent = [(TYPES[i % len(TYPES)], b"m%03d" % i) for i in range(100)]
        for payload_type, data in sent:
            await conn.send(payload_type, data)  # never yields below the bound
        frames = await raw_peer.wait_frames(100)
        assert frames == sent
        # The idle lane writes the first frame at once (request latency); the
        # 99 queued behind it in the same turn share one message.
        assert [len(decode_frames(m, 2**20)) for m in raw_peer.messages] == [1, 99]
        # Once idle again, the next lone frame goes straight out too.
        await conn.send(PayloadType.RPC_RELIABLE, b"later")
        assert (await raw_peer.wait_frames(101))[-1] == (PayloadType.RPC_RELIABLE, b"later")
        assert len(raw_peer.messages) == 3
    finally:
        await conn.close()


async def test_coalescing_respects_the_message_limit(
    authority: HmacAuthority, raw_peer: RawPeer
) -> None:
    opts = WebSocketOptions(coalesce_limit=1000, heartbeat_interval=0.2, dead_peer_timeout=1.0)
    conn = await _dial_raw(authority, raw_peer, FrameSink(), opts)
    try:
        for i in range(40):
            await conn.send(PayloadType.RPC_RELIABLE, bytes([i]) * 95)  # 100 B each
        frames = await raw_peer.wait_frames(40)
        assert [d for _, d in frames] == [bytes([i]) * 95 for i in range(40)]
        # One direct frame, then the rest packed up to the limit.
        assert [len(m) for m in raw_peer.messages] == [100, 1000, 1000, 1000, 900]
    finally:
        await conn.close()


async def test_one_message_carrying_several_frames_is_split_in_order(
    authority: HmacAuthority, raw_peer: RawPeer
) -> None:
    sink = FrameSink()
    conn = await _dial_raw(authority, raw_peer, sink)
    try:
        assert raw_peer.ws is not None
        parts = [
            (PayloadType.RPC_SIGNAL, b"first"),
            (PayloadType.RPC_RELIABLE, b""),
            (PayloadType.STREAM_LATENCY_FIRST, b"third" * 100),
        ]
        await raw_peer.ws.send_bytes(b"".join(encode_frame(t, d) for t, d in parts))
        await sink.wait_for(3)
        assert sink.frames == [(CALLEE, t, d) for t, d in parts]
    finally:
        await conn.close()


# ---- malformed input from an authenticated peer -------------------------------------


async def test_malformed_message_ends_the_lane_with_a_typed_cause(
    authority: HmacAuthority, raw_peer: RawPeer
) -> None:
    sink = FrameSink()
    conn = await _dial_raw(authority, raw_peer, sink)
    gone = _closed_with(conn)
    assert raw_peer.ws is not None
    await raw_peer.ws.send_bytes(encode_frame(PayloadType.RPC_RELIABLE, b"fine"))
    # A valid frame followed by one of unknown type, in the same message.
    await raw_peer.ws.send_bytes(
        encode_frame(PayloadType.RPC_RELIABLE, b"never") + struct.pack(">BI", 9, 0)
    )
    exc = await asyncio.wait_for(gone, 3.0)
    assert isinstance(exc, Unavailable) and exc.code == 503
    assert isinstance(exc.__cause__, ProtocolError) and exc.__cause__.code == 400
    assert sink.payloads == [b"fine"]
    code, _ = await asyncio.wait_for(raw_peer.closed, 3.0)
    assert code == 4400


async def test_declared_frame_over_the_limit_ends_the_lane_with_413(
    authority: HmacAuthority, raw_peer: RawPeer
) -> None:
    opts = WebSocketOptions(max_frame_size=1024, coalesce_limit=1024)
    sink = FrameSink()
    conn = await _dial_raw(authority, raw_peer, sink, opts)
    gone = _closed_with(conn)
    assert raw_peer.ws is not None
    # Fits the WebSocket message limit, but the header claims 2000 bytes.
    await raw_peer.ws.send_bytes(struct.pack(">BI", 0, 2000) + b"x" * 100)
    exc = await asyncio.wait_for(gone, 3.0)
    assert isinstance(exc, Unavailable)
    assert isinstance(exc.__cause__, PayloadTooLarge) and exc.__cause__.code == 413
    code, _ = await asyncio.wait_for(raw_peer.closed, 3.0)
    assert code == 4413
    assert sink.frames == []


async def test_sending_over_the_frame_limit_fails_locally_and_the_lane_lives(
    lane_pair: PairFactory,
) -> None:
    opts = WebSocketOptions(max_frame_size=1024, coalesce_limit=1024)
    caller, _, _, callee_sink = await lane_pair(options=opts)
    with pytest.raises(PayloadTooLarge) as info:
        await caller.send(PayloadType.RPC_RELIABLE, b"x" * 1025)
    assert info.value.code == 413
    with pytest.raises(LocalError):
        await caller.send(17, b"x")  # type: ignore[arg-type]
    await caller.send(PayloadType.RPC_RELIABLE, b"x" * 1024)
    await callee_sink.wait_for(1)
    assert callee_sink.payloads == [b"x" * 1024]


async def test_a_failing_handler_drops_its_frame_but_not_the_lane(
    lane_pair: PairFactory, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[bytes] = []
    got_last = asyncio.Event()

    async def picky(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        if data == b"bad":
            raise RuntimeError("handler bug")
        seen.append(data)
        if data == b"b":
            got_last.set()

    caller, _, _, _ = await lane_pair(callee_frames=picky)
    for data in (b"a", b"bad", b"b"):
        await caller.send(PayloadType.RPC_RELIABLE, data)
    await asyncio.wait_for(got_last.wait(), 3)
    assert seen == [b"a", b"b"]
    assert caller.usable
    assert "handler bug" in caplog.text


# ---- closing --------------------------------------------------------------------------


async def test_close_flushes_queued_frames_and_callbacks_fire_once(
    lane_pair: PairFactory,
) -> None:
    caller, callee, _, callee_sink = await lane_pair()
    caller_gone, callee_gone = _closed_with(caller), _closed_with(callee)
    for i in range(1000):
        await caller.send(PayloadType.RPC_RELIABLE, i.to_bytes(4, "big"))
    await caller.close("done")
    assert caller.closed
    await callee_sink.wait_for(1000)
    assert callee_sink.payloads == [i.to_bytes(4, "big") for i in range(1000)]
    mine, theirs = await asyncio.wait_for(asyncio.gather(caller_gone, callee_gone), 3.0)
    assert isinstance(mine, Unavailable) and "done" in mine.message
    assert isinstance(theirs, Unavailable) and "closed" in theirs.message
    with pytest.raises(Unavailable):
        await caller.send(PayloadType.RPC_RELIABLE, b"late")
    with pytest.raises(Unavailable):
        await callee.send(PayloadType.RPC_RELIABLE, b"late")
    await caller.close()  # idempotent
    late: list[object] = []
    caller.add_close_callback(lambda c, e: late.append(c))
    assert late == [caller]


async def test_a_handler_may_close_its_own_lane(lane_pair: PairFactory) -> None:
    holder: list[WebSocketConnection] = []
    seen: list[bytes] = []

    async def closer(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        seen.append(data)
        await holder[0].close("handler said so")

    caller, callee, _, _ = await lane_pair(callee_frames=closer)
    holder.append(callee)
    gone = _closed_with(caller)
    await caller.send(PayloadType.RPC_RELIABLE, b"last words")
    exc = await asyncio.wait_for(gone, 3.0)
    assert isinstance(exc, Unavailable) and "handler said so" in exc.message
    await asyncio.wait_for(callee.wait_closed(), 3.0)
    assert seen == [b"last words"]


# ---- backpressure and liveness ---------------------------------------------------------


async def test_blocked_handler_stops_the_reader_and_senders_wait_at_the_bound(
    lane_pair: PairFactory,
) -> None:
    """The bound: ``send`` waits while max_pending_bytes are queued or in flight.

    Beyond that only the kernel socket buffers hold data (the blocked side
    pauses reading), so a sender facing a stopped reader ends up waiting.
    """
    opts = WebSocketOptions(
        max_pending_bytes=256 * 1024,
        heartbeat_interval=0.1,
        dead_peer_timeout=0.5,  # the stall below lasts longer: busy is not dead
    )
    release = asyncio.Event()
    all_in = asyncio.Event()
    received: list[bytes] = []
    frame = 32 * 1024
    total = 1024  # 32 MiB: far more than the socket buffers can absorb

    async def blocking(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        received.append(data)
        if len(received) == 1:
            await release.wait()
        elif len(received) == total:
            all_in.set()

    caller, _, _, _ = await lane_pair(options=opts, callee_frames=blocking)
    sent = 0
    peak_pending = 0

    async def sender() -> None:
        nonlocal sent, peak_pending
        for i in range(total):
            await caller.send(PayloadType.STREAM_RELIABLE, i.to_bytes(4, "big") * (frame // 4))
            sent += 1
            peak_pending = max(peak_pending, caller.pending_bytes)

    task = asyncio.create_task(sender())
    # Wait until the sender has stalled: no progress over several polls.
    last, still = -1, 0
    async with asyncio.timeout(10):
        while still < 8:
            await asyncio.sleep(0.05)
            still = still + 1 if sent == last else 0
            last = sent
    # Hold the stall well past the dead-peer timeout: busy is not dead.
    await asyncio.sleep(opts.dead_peer_timeout * 2)
    assert not task.done(), "the sender never had to wait"
    assert len(received) == 1, "the reader kept reading past a blocked handler"
    assert 0 < sent < total
    assert peak_pending <= opts.max_pending_bytes + frame + 5
    assert caller.usable, "a busy peer was mistaken for a dead one"
    release.set()
    await asyncio.wait_for(task, 15)
    await asyncio.wait_for(all_in.wait(), 15)
    assert [r[:4] for r in received] == [i.to_bytes(4, "big") for i in range(total)]


async def test_slow_consumer_is_not_a_dead_peer(lane_pair: PairFactory) -> None:
    opts = WebSocketOptions(heartbeat_interval=0.1, dead_peer_timeout=0.3)
    count = 0
    all_in = asyncio.Event()

    async def slow(_peer: ActorId, _t: PayloadType, _data: bytes) -> None:
        nonlocal count
        count += 1
        await asyncio.sleep(0.004)
        if count == 300:
            all_in.set()

    caller, _, _, _ = await lane_pair(options=opts, callee_frames=slow)
    gone = _closed_with(caller)
    for _ in range(300):  # ~1.2 s of consumer time, four dead-peer timeouts
        await caller.send(PayloadType.STREAM_RELIABLE, b"y" * 16 * 1024)
    await asyncio.wait_for(all_in.wait(), 10)
    assert not gone.done() and caller.usable


async def test_sender_queued_behind_a_large_direct_write_is_released(
    lane_pair: PairFactory,
) -> None:
    # A frame bigger than max_pending_bytes is written directly on an idle
    # lane; a second sender waiting for room must be woken when it is done.
    opts = WebSocketOptions(max_pending_bytes=64 * 1024, heartbeat_interval=0.2)
    caller, _, _, callee_sink = await lane_pair(options=opts)
    big = os.urandom(8 * 1024 * 1024)
    await asyncio.wait_for(
        asyncio.gather(
            caller.send(PayloadType.STREAM_RELIABLE, big),
            caller.send(PayloadType.RPC_RELIABLE, b"after"),
        ),
        10,
    )
    await callee_sink.wait_for(2)
    assert callee_sink.payloads == [big, b"after"]
