"""The fast SCTP association: refuses unknown aiortc, keeps SCTP semantics, interoperates.

Real aiortc peer connections over loopback, in this process. What is checked
is behaviour (delivery, order, refusal, packets and SACKs counted), never speed.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

import aiortc
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtcsctptransport import (
    SCTP_DATA_FIRST_FRAG,
    SCTP_DATA_LAST_FRAG,
    DataChunk,
    RTCSctpTransport,
)

from actr_py.errors import ConfigError
from actr_py.wire.webrtc import sctp_fast, udp_reads
from actr_py.wire.webrtc.sctp_fast import FastSctpTransport, _FastInboundStream

from ._pairs import DATA, Pair, chunk_types
from ._support import wait_until

Pairs = Callable[..., Awaitable[Pair]]


# ---- version checks -----------------------------------------------------------------------


def test_installed_aiortc_is_supported() -> None:
    sctp_fast.check_supported()


@pytest.mark.parametrize("version", ["1.15.0", "1.17.0", "2.0.0", "garbage", ""])
def test_unknown_aiortc_version_is_refused(version: str) -> None:
    with pytest.raises(ConfigError, match="untested"):
        sctp_fast.check_supported(version)


def test_unknown_aioice_version_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"aioice 0\.99\.0 is untested"):
        sctp_fast.check_supported(aioice_version="0.99.0")


async def test_apply_refuses_an_unknown_version_and_leaves_stock_sctp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aiortc, "__version__", "1.99.0")
    monkeypatch.setattr(sctp_fast, "_refusal_logged", False)
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.createDataChannel("x")
        assert sctp_fast.apply(pc) is False
        assert type(pc.sctp) is RTCSctpTransport
    finally:
        await pc.close()


async def test_apply_switches_once_and_obeys_the_environment_switch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    off = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        assert sctp_fast.apply(pc) is False  # no SCTP transport yet
        pc.createDataChannel("x")
        assert sctp_fast.apply(pc) is True
        assert type(pc.sctp) is FastSctpTransport
        assert sctp_fast.apply(pc) is True  # idempotent
        monkeypatch.setenv(sctp_fast.ENV_SWITCH, "0")
        off.createDataChannel("x")
        assert sctp_fast.apply(off) is False
        assert type(off.sctp) is RTCSctpTransport
    finally:
        await pc.close()
        await off.close()


_RELIABLE = {"ordered": (True, None)}


@pytest.mark.parametrize(
    ("fast_a", "fast_b"), [(True, True), (True, False), (False, True)], ids=["both", "a", "b"]
)
async def test_mixed_sizes_arrive_whole_and_in_order_with_a_stock_peer(
    pairs: Pairs, fast_a: bool, fast_b: bool
) -> None:
    pair = await pairs(fast_a, fast_b, _RELIABLE)
    rng = random.Random(7)
    messages = [
        rng.randbytes(rng.choice([1, 7, 64, 1000, 1160, 1161, 5000, 70_000])) for _ in range(300)
    ]
    for message in messages:
        pair.a_channels["ordered"].send(message)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == len(messages))
    assert pair.received["ordered"] == messages
    # And back the other way, over the answerer's side of the same channel.
    back: list[bytes] = []
    pair.a_channels["ordered"].on("message", back.append)
    for message in messages[:50]:
        pair.b_channels["ordered"].send(message)
    await wait_until(lambda: len(back) == 50)
    assert back == messages[:50]


async def test_small_messages_of_one_turn_share_packets(pairs: Pairs) -> None:
    pair = await pairs(True, True, _RELIABLE)
    pair.watch("a")
    messages = [i.to_bytes(4, "big") * 4 for i in range(200)]
    for message in messages:  # one loop turn: one flush
        pair.a_channels["ordered"].send(message)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == len(messages))
    assert pair.received["ordered"] == messages
    data_packets = [p for p in pair.sent["a"] if DATA in chunk_types(p)]
    data_chunks = sum(chunk_types(p).count(DATA) for p in data_packets)
    assert data_chunks == len(messages)
    assert len(data_packets) <= len(messages) // 10, "small chunks were not bundled"
    assert all(len(p) <= 1189 for p in pair.sent["a"])


async def test_receiver_acknowledges_at_most_every_second_packet_in_bulk(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, True, _RELIABLE)
    pair.watch("a")
    pair.watch("b")
    payload = bytes(200_000)
    for _ in range(10):
        pair.a_channels["ordered"].send(payload)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == 10)
    data_packets = pair.data_packets("a")
    sacks = pair.sacks("b")
    assert data_packets >= 1700  # 2 MB in 1160-byte chunks
    # Stock aiortc answers each packet; RFC 9260 asks for at least every second one.
    assert sacks <= data_packets * 0.6


async def test_data_in_flight_stays_within_the_peers_advertised_window(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, False, _RELIABLE)
    receiver = pair.b.sctp
    sender = pair.a.sctp
    assert receiver is not None and isinstance(sender, FastSctpTransport)
    window = 20 * 1160
    receiver._advertised_rwnd = window  # a stock peer with a small buffer
    flights: list[int] = []
    write = sender._actr_write

    def watching(packet: bytes) -> None:
        write(packet)
        flights.append(sender._flight_size)

    sender._actr_write = watching  # type: ignore[method-assign]
    messages = [bytes([i % 256]) * 50_000 for i in range(40)]  # 2 MB
    for message in messages:
        pair.a_channels["ordered"].send(message)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == len(messages))
    assert pair.received["ordered"] == messages
    assert max(flights) <= window + 1160  # aiortc alone lets its window run to ~1 MB
    assert sender._actr_peer_rwnd <= window


async def test_lost_packets_are_retransmitted_and_delivery_completes(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, True, _RELIABLE)
    seen = 0
    dropped: set[int] = set()

    def drop(packet: bytes) -> bool:
        nonlocal seen
        if packet[12] != DATA:
            return False
        tsn = int.from_bytes(packet[16:20], "big")
        seen += 1
        if seen % 37 == 0 and tsn not in dropped:  # each dropped once, retransmission passes
            dropped.add(tsn)
            return True
        return False

    pair.watch("a", drop)
    messages = [bytes([i]) * 3000 for i in range(200)]
    for message in messages:
        pair.a_channels["ordered"].send(message)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == len(messages), timeout=20)
    assert dropped and pair.received["ordered"] == messages


async def test_partially_reliable_unordered_channel_delivers_on_a_healthy_path(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, True, {"lossy": (False, 3)})
    messages = {i.to_bytes(2, "big") * (1 + i % 700) for i in range(300)}
    for message in sorted(messages):
        pair.a_channels["lossy"].send(message)
    await wait_until(lambda: len(pair.received.get("lossy", [])) == len(messages))
    assert set(pair.received["lossy"]) == messages


# ---- reassembly -------------------------------------------------------------------------------


def _fragments(first_tsn: int, seq: int, parts: list[bytes]) -> list[DataChunk]:
    out = []
    for index, part in enumerate(parts):
        chunk = DataChunk()
        chunk.tsn = first_tsn + index
        chunk.stream_id = 1
        chunk.stream_seq = seq
        chunk.protocol = 53
        chunk.user_data = part
        chunk.flags = (SCTP_DATA_FIRST_FRAG if index == 0 else 0) | (
            SCTP_DATA_LAST_FRAG if index == len(parts) - 1 else 0
        )
        out.append(chunk)
    return out


def test_reassembly_pops_only_complete_messages_in_any_arrival_order() -> None:
    stream = _FastInboundStream()
    first = _fragments(10, 0, [b"a", b"b", b"c"])
    second = _fragments(13, 1, [b"d", b"e"])
    popped: list[bytes] = []
    for chunk in [second[1], first[2], first[0], second[0]]:
        stream.add_chunk(chunk)
        popped += [data for _, _, data in stream.pop_messages()]
    assert popped == []  # first[1] missing: nothing may complete, in order
    assert stream.lasts == 2
    stream.add_chunk(first[1])
    popped += [data for _, _, data in stream.pop_messages()]
    assert popped == [b"abc", b"de"]
    assert stream.lasts == 0 and stream.reassembly == []


def test_reassembly_recounts_after_pruning() -> None:
    stream = _FastInboundStream()
    for chunk in _fragments(20, 0, [b"x", b"y"])[1:] + _fragments(22, 1, [b"z"]):
        stream.add_chunk(chunk)
    assert stream.lasts == 2
    stream.prune_chunks(21)  # FORWARD TSN abandoned the first message
    assert stream.lasts == 1
    stream.sequence_number = 1
    assert [data for _, _, data in stream.pop_messages()] == [b"z"]


# ---- one SACK per burst, for an ack-clocked peer ---------------------------------------------


async def _bulk(pair: Pair, count: int = 10, size: int = 200_000) -> None:
    payload = bytes(size)
    for _ in range(count):
        pair.a_channels["ordered"].send(payload)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == count)


@pytest.mark.parametrize("inline", [False, True], ids=["reader-task", "inline"])
async def test_an_ack_clocked_peer_gets_one_sack_per_burst(pairs: Pairs, inline: bool) -> None:
    pair = await pairs(True, True, _RELIABLE, inline=inline)
    udp_reads.apply(pair.b)  # as WebRtcConnection does: a wake-up reads a burst
    pair.watch("a")
    pair.watch("b")
    assert pair.b.sctp is not None and not pair.b.sctp._actr_sack_per_burst
    assert sctp_fast.sack_per_burst(pair.b) is True
    await _bulk(pair)
    data, sacks = pair.data_packets("a"), pair.sacks("b")
    assert data >= 1700
    # A sender bound by Max.Burst alone sends at most four packets per SACK,
    # so one SACK per burst would mean at least data / 4 SACKs; the
    # ack-clocked sender refills what each SACK acknowledged, so bursts grow.
    assert sacks < data / 6


async def test_sack_per_burst_needs_the_fast_association(pairs: Pairs) -> None:
    pair = await pairs(True, False, _RELIABLE)
    assert sctp_fast.sack_per_burst(pair.b) is False
    assert type(pair.b.sctp) is RTCSctpTransport
