"""WebRtcConnection over real aiortc peer connections on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
import struct
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from actr_py.errors import Unavailable
from actr_py.ids import ActorId
from actr_py.payload_type import PayloadType
from actr_py.wire.webrtc import (
    CONTROL_LABEL,
    LANES,
    PROTOCOL,
    UnsupportedPayloadType,
    WebRtcConnection,
)
from actr_py.wire.webrtc.framing import KIND_BATCH, split_batch

from ._support import ALICE, BOB, FAST, Node, RelayHub, wait_until

DATA_LANES = list(LANES)


@pytest.fixture
async def hub() -> AsyncIterator[RelayHub]:
    hub = RelayHub()
    yield hub
    await hub.close()


@pytest.fixture
async def alice(hub: RelayHub) -> AsyncIterator[Node]:
    node = Node(ALICE, hub)
    yield node
    await node.close()


@pytest.fixture
async def bob(hub: RelayHub) -> AsyncIterator[Node]:
    node = Node(BOB, hub, echo=True)
    yield node
    await node.close()


async def test_every_lane_has_its_own_channel_and_round_trips(alice: Node, bob: Node) -> None:
    conn = await alice.coordinator.connect(BOB)
    assert isinstance(conn, WebRtcConnection) and conn.kind == "webrtc"
    assert conn.mode == "actr-py" and conn.offerer
    for pt in DATA_LANES:
        await conn.send(pt, b"\x0a\x05hello" + pt.name.encode())
    frames = await alice.wait_frames(4)
    assert sorted(frames) == sorted((pt, b"\x0a\x05hello" + pt.name.encode()) for pt in DATA_LANES)

    # Bob never opened a channel: he sees what DCEP carried, label and options included.
    await wait_until(lambda: bob.announced)  # the answerer may be ready a turn later
    (remote,) = bob.announced
    assert remote.peer_id == ALICE and not remote.offerer and remote.mode == "actr-py"
    for side in (conn, remote):
        for pt, spec in LANES.items():
            channel = side._lanes[pt].channel
            assert channel.label == pt.name
            assert channel.protocol == PROTOCOL
            assert channel.ordered is spec.ordered
            assert channel.maxRetransmits == spec.max_retransmits
        assert side._control is not None and side._control.label == CONTROL_LABEL
    assert {c.ip for c in conn.peer_connection.sctp.transport.transport.getRemoteCandidates()} == {
        "127.0.0.1"
    }


async def test_media_rtp_is_refused_with_a_clear_error(alice: Node, bob: Node) -> None:
    conn = await alice.coordinator.connect(BOB)
    with pytest.raises(UnsupportedPayloadType, match="RTP track"):
        await conn.send(PayloadType.MEDIA_RTP, b"\x80\x60")


async def test_ten_thousand_frames_keep_order_on_stream_reliable(hub: RelayHub) -> None:
    sender, receiver = Node(ALICE, hub), Node(BOB, hub)
    try:
        conn = await sender.coordinator.connect(BOB)
        count = 10_000
        for i in range(count):
            await conn.send(PayloadType.STREAM_RELIABLE, b"\x08" + struct.pack("!I", i))
        frames = await receiver.wait_frames(count, timeout=30)
        assert [pt for pt, _ in frames] == [PayloadType.STREAM_RELIABLE] * count
        assert [struct.unpack("!I", data[1:])[0] for _, data in frames] == list(range(count))
    finally:
        await sender.close()
        await receiver.close()


async def test_latency_first_lane_is_unordered_partial_and_delivers(alice: Node, bob: Node) -> None:
    conn = await alice.coordinator.connect(BOB)
    await wait_until(lambda: bob.announced)  # the answerer may be ready a turn later
    (remote,) = bob.announced
    channel = remote._lanes[PayloadType.STREAM_LATENCY_FIRST].channel
    assert (channel.ordered, channel.maxRetransmits) == (False, 3)
    sent = {b"\x0a" + struct.pack("!H", i) * 8 for i in range(300)}
    big = b"\x0a" + random.Random(3).randbytes(200_000)  # fragmented on this lane too
    for frame in sorted(sent):
        await conn.send(PayloadType.STREAM_LATENCY_FIRST, frame)
    await conn.send(PayloadType.STREAM_LATENCY_FIRST, big)
    frames = await alice.wait_frames(len(sent) + 1)
    assert all(pt is PayloadType.STREAM_LATENCY_FIRST for pt, _ in frames)
    assert {data for _, data in frames} == sent | {big}  # loopback loses nothing


async def test_five_mib_message_is_fragmented_and_reassembled(alice: Node, bob: Node) -> None:
    conn = await alice.coordinator.connect(BOB)
    data = random.Random(5).randbytes(5 * 1024 * 1024)
    assert len(data) > conn.max_unfragmented
    await conn.send(PayloadType.RPC_RELIABLE, data)
    await conn.send(PayloadType.RPC_RELIABLE, b"\x0aafter")
    frames = await alice.wait_frames(2, timeout=30)
    assert frames[0] == (PayloadType.RPC_RELIABLE, data)  # echoed back intact
    assert frames[1] == (PayloadType.RPC_RELIABLE, b"\x0aafter")


async def test_frames_with_reserved_lead_bytes_arrive_unchanged(alice: Node, bob: Node) -> None:
    conn = await alice.coordinator.connect(BOB)
    frames = [bytes([lead]) + b"body" for lead in range(8)] + [b""]
    for frame in frames:
        await conn.send(PayloadType.RPC_SIGNAL, frame)
    got = await alice.wait_frames(len(frames))
    assert [data for _, data in got] == frames


async def test_slow_consumer_holds_the_sender_back(hub: RelayHub) -> None:
    window = 64 * 1024
    frame_size = 16 * 1024
    sender = Node(ALICE, hub)
    receiver = Node(BOB, hub, config=replace(FAST, receive_window=window))
    gate = asyncio.Event()
    handled: list[bytes] = []

    async def slow(peer: ActorId, pt: PayloadType, data: bytes) -> None:
        await gate.wait()
        handled.append(data)

    receiver.coordinator._frame_handler = slow
    try:
        conn = await sender.coordinator.connect(BOB)
        await wait_until(lambda: receiver.announced)  # the answerer may be ready a turn later
        (remote,) = receiver.announced
        frames = [b"\x0a" + struct.pack("!I", i) + b"x" * (frame_size - 5) for i in range(40)]

        async def produce() -> None:
            for frame in frames:
                await conn.send(PayloadType.RPC_RELIABLE, frame)

        producer = asyncio.create_task(produce())
        lane = conn._lanes[PayloadType.RPC_RELIABLE]
        await wait_until(lambda: lane.waiters)  # the sender is parked for credit
        inbox = next(i for i in remote._inboxes if i.spec.payload_type is PayloadType.RPC_RELIABLE)
        await asyncio.sleep(0.2)  # let anything in flight land before counting
        assert not producer.done()
        # Unconsumed bytes at the receiver stay within its window (+ one frame).
        assert len(inbox.items) * frame_size <= window + frame_size
        assert lane.outstanding <= window + frame_size
        gate.set()
        await asyncio.wait_for(producer, 20)
        await wait_until(lambda: len(handled) == len(frames))
        assert handled == frames
    finally:
        gate.set()
        await sender.close()
        await receiver.close()


async def test_waiting_handler_holds_back_the_rest_of_its_batch_and_later_messages(
    hub: RelayHub,
) -> None:
    sender, receiver = Node(ALICE, hub), Node(BOB, hub)
    release = asyncio.Event()
    handled: list[int] = []

    async def handler(peer: ActorId, pt: PayloadType, data: bytes) -> None:
        n = struct.unpack("!I", data[1:5])[0]
        if n == 5:
            await release.wait()  # back pressure in the middle of a batch
        if n == 7:
            raise RuntimeError("a failing handler does not stop the lane")
        handled.append(n)

    receiver.coordinator._frame_handler = handler
    try:
        conn = await sender.coordinator.connect(BOB)
        await wait_until(lambda: receiver.announced)
        frames = [b"\x0a" + struct.pack("!I", i) for i in range(20)]
        for frame in frames[:10]:  # one loop turn: the first alone, the rest one batch
            await conn.send(PayloadType.RPC_RELIABLE, frame)
        await wait_until(lambda: handled == [0, 1, 2, 3, 4])
        for frame in frames[10:]:  # later messages queue behind the waiting handler
            await conn.send(PayloadType.RPC_RELIABLE, frame)
        await asyncio.sleep(0.2)
        assert handled == [0, 1, 2, 3, 4]
        release.set()
        await wait_until(lambda: len(handled) == 19)
        assert handled == [n for n in range(20) if n != 7]
        # Caught up: the next frame takes the fast path again, in order.
        await conn.send(PayloadType.RPC_RELIABLE, b"\x0a" + struct.pack("!I", 20))
        await wait_until(lambda: handled[-1] == 20)
    finally:
        release.set()
        await sender.close()
        await receiver.close()


def _record_messages(conn: WebRtcConnection, pt: PayloadType) -> list[bytes]:
    """Every DataChannel message ``conn`` writes on the lane of ``pt``, in order."""
    channel = conn._lanes[pt].channel
    send = channel.send
    written: list[bytes] = []

    def recording(data: bytes) -> None:
        written.append(data)
        send(data)

    channel.send = recording  # type: ignore[method-assign]
    return written


async def test_an_idle_frame_leaves_at_once_and_a_burst_is_packed_by_the_next_turn(
    alice: Node, bob: Node
) -> None:
    conn = await alice.coordinator.connect(BOB)
    await wait_until(lambda: bob.announced)
    written = _record_messages(conn, PayloadType.RPC_RELIABLE)

    # Idle: the frame is on the channel before send() returns, unchanged.
    await conn.send(PayloadType.RPC_RELIABLE, b"\x0a\x01a")
    assert written == [b"\x0a\x01a"]

    # Under load: frames after the first of a loop turn wait for the turn's
    # end (call_soon, never a timer) and leave as one batch message.
    await asyncio.sleep(0.05)  # a fresh loop turn
    written.clear()
    frames = [b"\x0a" + struct.pack("!I", i) for i in range(200)]
    for frame in frames:
        await conn.send(PayloadType.RPC_RELIABLE, frame)
    assert written == [frames[0]]  # nothing else yet: same turn
    await asyncio.sleep(0)  # one turn later the batch is out
    assert len(written) == 2 and written[1][0] == KIND_BATCH
    assert split_batch(written[1]) == frames[1:]
    got = await bob.wait_frames(1 + len(frames))
    assert [data for _, data in got] == [b"\x0a\x01a", *frames]


async def test_a_burst_larger_than_a_message_is_cut_into_several_batches(
    alice: Node, bob: Node
) -> None:
    conn = await alice.coordinator.connect(BOB)
    await wait_until(lambda: bob.announced)
    written = _record_messages(conn, PayloadType.STREAM_RELIABLE)
    frames = [b"\x0a" + struct.pack("!I", i) + b"p" * 1000 for i in range(300)]  # ~300 KB
    for frame in frames:
        await conn.send(PayloadType.STREAM_RELIABLE, frame)
    got = await bob.wait_frames(len(frames))
    assert [data for _, data in got] == frames
    assert 4 <= len(written) < 20  # a few batches, none above the lane's message limit
    assert all(len(m) <= conn._lanes[PayloadType.STREAM_RELIABLE].limit for m in written)


async def test_graceful_close_reaches_the_peer(alice: Node, bob: Node) -> None:
    conn = await alice.coordinator.connect(BOB)
    await wait_until(lambda: bob.announced)  # the answerer may be ready a turn later
    (remote,) = bob.announced
    outcomes: dict[str, BaseException | None] = {}
    remote_closed = asyncio.Event()
    conn.add_close_callback(lambda c, exc: outcomes.setdefault("local", exc))

    def on_remote(c: object, exc: BaseException | None) -> None:
        outcomes["remote"] = exc
        remote_closed.set()

    remote.add_close_callback(on_remote)
    await conn.close("done for today")
    await asyncio.wait_for(remote_closed.wait(), 10)
    assert outcomes["local"] is None
    remote_exc = outcomes["remote"]
    assert isinstance(remote_exc, Unavailable) and remote_exc.code == 503
    assert alice.coordinator.connection(BOB) is None
    await wait_until(lambda: bob.coordinator.connection(ALICE) is None)
    with pytest.raises(Unavailable):
        await conn.send(PayloadType.RPC_RELIABLE, b"\x0alate")
    await conn.close()  # idempotent
