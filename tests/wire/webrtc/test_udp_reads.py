"""Burst reads on asyncio's datagram transport: same datagrams, fewer loop trips."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from actr_py.wire.webrtc import udp_reads

from ._pairs import Pair
from ._support import wait_until


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []
        self.errors: list[Exception] = []
        self.turns: list[int] = []  # the loop turn each datagram arrived in
        self.turn = 0

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append(data)
        self.turns.append(self.turn)

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)


async def _endpoint() -> tuple[asyncio.DatagramTransport, _Collector]:
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_datagram_endpoint(
        _Collector, local_addr=("127.0.0.1", 0)
    )
    return transport, protocol


async def _ticker(protocol: _Collector) -> None:
    while True:
        protocol.turn += 1
        await asyncio.sleep(0)


@pytest.mark.parametrize(("version", "ok"), [((3, 10), False), ((3, 11), True), ((3, 14), False)])
def test_only_known_python_readers_are_replaced(version: tuple[int, int], ok: bool) -> None:
    assert udp_reads.supported(version) is ok


async def test_a_burst_arrives_in_fewer_loop_turns_and_intact() -> None:
    transport, protocol = await _endpoint()
    ticker = asyncio.get_running_loop().create_task(_ticker(protocol))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert udp_reads.install(transport) is True
        assert udp_reads.install(transport) is True  # idempotent
        sent = [i.to_bytes(4, "big") * 10 for i in range(200)]
        for data in sent:  # all queued in the kernel before the loop looks
            sender.sendto(data, transport.get_extra_info("sockname"))
        await wait_until(lambda: len(protocol.datagrams) == len(sent))
        assert protocol.datagrams == sent
        per_turn = max(protocol.turns.count(t) for t in set(protocol.turns))
        assert 1 < per_turn <= udp_reads.BURST  # the stock reader takes one per turn
    finally:
        ticker.cancel()
        sender.close()
        transport.close()


async def test_read_errors_are_reported_like_the_stock_reader() -> None:
    transport, protocol = await _endpoint()
    try:
        udp_reads.install(transport)
        sock = transport.get_extra_info("socket")
        # Provoke an ICMP port-unreachable error on the socket: connect to a closed port.
        dead = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        dead.close()
        raw = socket.socket(fileno=sock.fileno())
        try:
            raw.connect(("127.0.0.1", port))
            raw.send(b"x")
        finally:
            raw.detach()
        await wait_until(lambda: protocol.errors)
        assert isinstance(protocol.errors[0], OSError)
    finally:
        transport.close()


async def test_peer_connection_sockets_get_burst_reads_unless_switched_off(
    pairs: Callable[..., Awaitable[Pair]], monkeypatch: pytest.MonkeyPatch
) -> None:
    pair = await pairs(False, False, {"x": (True, None)})
    monkeypatch.setenv(udp_reads.ENV_SWITCH, "0")
    assert udp_reads.apply(pair.a) == 0
    monkeypatch.delenv(udp_reads.ENV_SWITCH)
    assert udp_reads.apply(pair.a) >= 1
