"""The inline receive path: DTLS application records go to SCTP in the socket callback.

Real aiortc peer connections over loopback, in this process. What is checked
is behaviour: which datagrams take the inline path, order, and that what it
leaves to aiortc (alerts, garbage, a queued backlog) still ends up where
aiortc would put it.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from actr_py.wire.webrtc import inline_receive
from actr_py.wire.webrtc.gathering import ice_gatherers

from ._pairs import Pair
from ._support import wait_until

Pairs = Callable[..., Awaitable[Pair]]
_RELIABLE = {"ordered": (True, None)}


def _rx_packets(pair: Pair, side: str) -> int:
    pc = pair.a if side == "a" else pair.b
    assert pc.sctp is not None
    return int(pc.sctp.transport._RTCDtlsTransport__rx_packets)


def _stun_protocols(pair: Pair, side: str) -> list[Any]:
    pc = pair.a if side == "a" else pair.b
    return [p for g in ice_gatherers(pc) for p in g._connection._protocols]


async def test_messages_arrive_whole_and_in_order_and_take_the_inline_path(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, True, _RELIABLE, inline=True)
    receiver = pair.inline["b"]
    before_inline, before_rx = receiver.packets, _rx_packets(pair, "b")
    rng = random.Random(11)
    messages = [rng.randbytes(rng.choice([1, 64, 1000, 1161, 5000, 70_000])) for _ in range(300)]
    for message in messages:
        pair.a_channels["ordered"].send(message)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == len(messages))
    assert pair.received["ordered"] == messages
    inline = receiver.packets - before_inline
    arrived = _rx_packets(pair, "b") - before_rx
    assert inline >= 100
    # Everything after the handshake is application data: all of it went inline
    # (the DTLS packet counter, which aiortc's stats report, still counts it).
    assert inline == arrived


async def test_apply_obeys_the_switch_and_needs_the_fast_association(
    pairs: Pairs, monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = await pairs(True, False, _RELIABLE)
    assert inline_receive.apply(pair.b) is None  # stock SCTP: its handler may wait
    monkeypatch.setenv(inline_receive.ENV_SWITCH, "0")
    assert inline_receive.apply(pair.a) is None
    monkeypatch.delenv(inline_receive.ENV_SWITCH)
    receiver = inline_receive.apply(pair.a)
    assert receiver is not None
    assert inline_receive.apply(pair.a) is receiver  # idempotent


def _divert(pair: Pair, side: str) -> list[tuple[Any, bytes, Any]]:
    """Hold back the application records ``side`` receives (instead of handling them)."""
    held: list[tuple[Any, bytes, Any]] = []
    for protocol in _stun_protocols(pair, side):
        inline = protocol.datagram_received

        def hold(data: bytes, addr: Any, protocol: Any = protocol, inline: Any = inline) -> None:
            if data and data[0] == 23:
                held.append((protocol, data, addr))
            else:
                inline(data, addr)

        protocol.datagram_received = hold
        protocol._actr_test_inline = inline
    return held


def _undivert(pair: Pair, side: str) -> None:
    for protocol in _stun_protocols(pair, side):
        protocol.datagram_received = protocol._actr_test_inline


async def test_records_queued_for_aiortcs_reader_are_not_overtaken(pairs: Pairs) -> None:
    pair = await pairs(True, True, _RELIABLE, inline=True)
    receiver = pair.inline["b"]
    held = _divert(pair, "b")
    channel = pair.a_channels["ordered"]
    channel.send(b"first")
    await wait_until(lambda: len(held) >= 1)
    await asyncio.sleep(0.05)  # b's delayed SACK leaves; a sends the next one alone
    channel.send(b"second")
    await wait_until(lambda: len(held) >= 2)
    _undivert(pair, "b")
    (proto1, record1, _), (proto2, record2, addr2) = held[:2]
    before = receiver.packets
    # The first record waits in aioice's queue for aiortc's reader task, as
    # it would after arriving before the inline path was installed...
    proto1.receiver.data_received(record1, 1)
    # ...so the second, arriving now, must queue behind it, not overtake it.
    proto2.datagram_received(record2, addr2)
    await wait_until(lambda: len(pair.received.get("ordered", [])) == 2)
    assert pair.received["ordered"] == [b"first", b"second"]
    assert receiver.packets == before
    # With the backlog gone, the next record goes inline again.
    channel.send(b"third")
    await wait_until(lambda: len(pair.received["ordered"]) == 3)
    assert receiver.packets > before


async def test_packets_decrypted_while_the_handler_waits_keep_their_order(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, True, _RELIABLE, inline=True)
    sctp = pair.b.sctp
    assert sctp is not None
    handle = sctp._handle_data
    gate = asyncio.Event()
    waited: list[int] = []

    async def slow_once(data: bytes) -> None:
        if not waited:  # the first packet's handler waits (none of today's does)
            waited.append(1)
            await gate.wait()
        await handle(data)

    sctp._handle_data = slow_once  # type: ignore[method-assign]
    messages = [bytes([i]) * 3000 for i in range(20)]
    for message in messages:
        pair.a_channels["ordered"].send(message)
    await wait_until(lambda: pair.inline["b"]._held)
    await asyncio.sleep(0.05)
    assert pair.received.get("ordered", []) == []  # nothing overtook the waiting packet
    gate.set()
    await wait_until(lambda: len(pair.received.get("ordered", [])) == len(messages))
    assert pair.received["ordered"] == messages


async def test_undecryptable_records_are_dropped_and_the_association_carries_on(
    pairs: Pairs,
) -> None:
    pair = await pairs(True, True, _RELIABLE, inline=True)
    receiver = pair.inline["b"]
    before = receiver.packets
    local = [p.transport.get_extra_info("sockname") for p in _stun_protocols(pair, "b")]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
        for address in local:
            for size in (1, 13, 100, 1200):  # record type 23, then garbage
                stranger.sendto(bytes([23]) + random.randbytes(size), address[:2])
    pair.a_channels["ordered"].send(b"still here")
    await wait_until(lambda: pair.received.get("ordered") == [b"still here"])
    assert receiver.packets == before + 1  # only the real one was handed to SCTP
    assert pair.b.connectionState == "connected"


async def test_a_peer_closing_dtls_still_closes_ours(pairs: Pairs) -> None:
    pair = await pairs(True, True, _RELIABLE, inline=True)
    assert pair.b.sctp is not None
    dtls = pair.b.sctp.transport
    await pair.a.close()  # sends a close_notify alert: not application data
    await wait_until(lambda: dtls.state == "closed", timeout=5)


async def test_a_dtls_transport_missing_what_we_read_is_left_alone(pairs: Pairs) -> None:
    pair = await pairs(True, True, _RELIABLE)
    assert pair.b.sctp is not None
    dtls = pair.b.sctp.transport
    del dtls._RTCDtlsTransport__rx_packets  # as if a future aiortc renamed it
    try:
        assert inline_receive.apply(pair.b) is None
    finally:
        dtls._RTCDtlsTransport__rx_packets = 0
    pair.a_channels["ordered"].send(b"stock path")
    await wait_until(lambda: pair.received.get("ordered") == [b"stock path"])
