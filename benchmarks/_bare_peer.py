"""Bare aiortc in its own process: both ends of the WebRTC baselines.

``python -m benchmarks._bare_peer`` (line protocol in :mod:`benchmarks._procs`).
Two of these run per benchmark run, mirroring ours: the *far end* on the
child CPU (like our benchmark node) and the *sending end* on the measuring
CPU (like our client node, which then sits idle). The sending end has to be
a process of its own: stock aiortc sending small messages flat out keeps
its event loop busy for seconds at a time, which would starve every other
connection in the same process (ICE consent checks time out and aioice
closes them) and skew whatever ran next.

Far end requests:

* ``{"op": "answer", "id", "sdp", "type"}``: a new RTCPeerConnection answers
  (loopback host candidates only, no STUN, the same UDP receive buffer as our
  connections); replies with the answer. ``{"op": "close", "id"}`` closes it.
* ``{"op": "expect", "label", "count", "quiet"}``: waits until ``count``
  messages arrived on channels labelled ``label`` (:class:`~._sink.Sink`).

Channels: ``echo`` sends every message straight back; ``sink-*`` count.

Sending end requests (one peer connection at a time):

* ``{"op": "offer"}`` -> an offer with the channels of :data:`~._rtc.CHANNELS`;
  ``{"op": "accept", "sdp", "type"}`` applies the answer and waits for them.
* ``{"op": "send", "label", "size", "n"}``: ``n`` messages with the usual
  ``bufferedAmount`` back pressure; replies ``{"t0"}`` (``time.monotonic()``
  before the first) or ``{"lost": true}`` if aiortc lost the connection.
* ``{"op": "rtt", "n"}``: ``n`` 16-byte echo round trips, in microseconds.
* ``{"op": "calls", "total", "window"}``: echoes with ``window`` in flight.

Nothing here uses actr_py except the loopback gathering restriction, so this
is what an application gets from aiortc alone.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from actr_py import loop as actr_loop
from actr_py.wire.webrtc.gathering import restrict_gathering, set_receive_buffer

from ._procs import serve_lines
from ._rtc import CHANNELS, UDP_BUFFER, LinkLost, bare_send, create_channels, new_pc, wait_open
from ._sink import Sink

_SMALL = b"\x0a\x0e" + b"x" * 14


class _Sender:
    """The sending end: one peer connection with every benchmark channel."""

    def __init__(self) -> None:
        self.pc: RTCPeerConnection | None = None
        self.channels: dict[str, RTCDataChannel] = {}
        self.on_echo: Any = lambda message: None

    async def offer(self) -> dict[str, Any]:
        await self.drop()
        self.pc = pc = new_pc()
        self.channels = create_channels(pc, tuple(CHANNELS))
        self.channels["echo"].on("message", lambda m: self.on_echo(m))
        restrict_gathering(pc, ["127.0.0.1"])
        await pc.setLocalDescription(await pc.createOffer())
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}

    async def accept(self, sdp: str, kind: str) -> dict[str, Any]:
        assert self.pc is not None
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp, kind))
        set_receive_buffer(self.pc, UDP_BUFFER)
        for channel in self.channels.values():
            await wait_open(channel)
        return {}

    async def drop(self) -> None:
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    async def send(self, label: str, size: int, n: int) -> dict[str, Any]:
        payload = bytes(size)
        t0 = time.monotonic()
        try:
            await bare_send(self.channels[label], payload, n)
        except LinkLost:
            return {"lost": True}
        return {"t0": t0}

    async def rtt(self, n: int) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        send = self.channels["echo"].send
        clock = time.perf_counter_ns
        out = []
        pong: list[asyncio.Future[None]] = []
        self.on_echo = lambda m: pong[0].done() or pong[0].set_result(None)
        for _ in range(n):
            pong[:] = [loop.create_future()]
            t0 = clock()
            send(_SMALL)
            await pong[0]
            out.append((clock() - t0) / 1000)
        return {"samples": out}

    async def calls(self, total: int, window: int) -> dict[str, Any]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        send = self.channels["echo"].send
        sent = received = 0

        def on_echo(message: bytes) -> None:
            nonlocal sent, received
            received += 1
            if sent < total:
                sent += 1
                send(message)
            elif received == total and not done.done():
                done.set_result(None)

        self.on_echo = on_echo
        t0 = time.perf_counter()
        for _ in range(window):
            sent += 1
            send(_SMALL)
        await done
        return {"rate": total / (time.perf_counter() - t0)}


async def main() -> None:
    pcs: dict[str, RTCPeerConnection] = {}
    sinks: dict[str, Sink] = {}
    sender = _Sender()

    def on_channel(channel: RTCDataChannel) -> None:
        if channel.label == "echo":
            channel.on("message", channel.send)
        elif channel.label.startswith("sink"):
            add = sinks.setdefault(channel.label, Sink()).add
            channel.on("message", lambda m: add(len(m)))

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "answer":
            pc = new_pc()
            pcs[req["id"]] = pc
            pc.on("datachannel", on_channel)
            await pc.setRemoteDescription(RTCSessionDescription(req["sdp"], req["type"]))
            restrict_gathering(pc, ["127.0.0.1"])
            await pc.setLocalDescription(await pc.createAnswer())
            set_receive_buffer(pc, UDP_BUFFER)
            return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        if op == "close":
            pc = pcs.pop(req["id"], None)
            if pc is not None:
                await pc.close()
            return {}
        if op == "expect":
            sink = sinks.setdefault(req["label"], Sink())
            return await sink.expect(req["count"], req["quiet"])
        if op == "offer":
            return await sender.offer()
        if op == "accept":
            return await sender.accept(req["sdp"], req["type"])
        if op == "send":
            return await sender.send(req["label"], req["size"], req["n"])
        if op == "rtt":
            return await sender.rtt(req["n"])
        if op == "calls":
            return await sender.calls(req["total"], req["window"])
        raise ValueError(f"unknown op {op!r}")

    try:
        await serve_lines({"pid": os.getpid()}, handle)
    finally:
        await sender.drop()
        for pc in pcs.values():
            await pc.close()


if __name__ == "__main__":
    actr_loop.run(main())
