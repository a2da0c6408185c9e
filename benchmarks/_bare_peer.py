"""The bare aiortc far end of the WebRTC baselines, in its own process.

``python -m benchmarks._bare_peer`` (see :mod:`benchmarks._procs` for the line
protocol). Requests:

* ``{"op": "answer", "id", "sdp", "type"}``: a new RTCPeerConnection answers the
  offer (loopback host candidates only, no STUN, the same UDP receive buffer
  as our connections); replies with the answer.
* ``{"op": "close", "id"}``: closes that peer connection.
* ``{"op": "expect", "label", "count", "quiet"}``: waits until ``count``
  messages arrived on channels labelled ``label`` (see :class:`~._sink.Sink`).

Channels: ``echo`` sends every message straight back; ``sink-*`` count.
Nothing here uses actr_py except the loopback gathering restriction, so this
is what an application gets from aiortc alone.
"""

from __future__ import annotations

import os
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from actr_py import loop as actr_loop
from actr_py.wire.webrtc.config import WebRtcConfig
from actr_py.wire.webrtc.gathering import restrict_gathering, set_receive_buffer

from ._procs import serve_lines
from ._sink import Sink

_UDP_BUFFER = WebRtcConfig().udp_receive_buffer or 0


async def main() -> None:
    pcs: dict[str, RTCPeerConnection] = {}
    sinks: dict[str, Sink] = {}

    def on_channel(channel: RTCDataChannel) -> None:
        if channel.label == "echo":
            channel.on("message", channel.send)
        elif channel.label.startswith("sink"):
            add = sinks.setdefault(channel.label, Sink()).add
            channel.on("message", lambda m: add(len(m)))

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        op = req["op"]
        if op == "answer":
            pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            pcs[req["id"]] = pc
            pc.on("datachannel", on_channel)
            await pc.setRemoteDescription(RTCSessionDescription(req["sdp"], req["type"]))
            restrict_gathering(pc, ["127.0.0.1"])
            await pc.setLocalDescription(await pc.createAnswer())
            set_receive_buffer(pc, _UDP_BUFFER)
            return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
        if op == "close":
            pc = pcs.pop(req["id"], None)
            if pc is not None:
                await pc.close()
            return {}
        if op == "expect":
            sink = sinks.setdefault(req["label"], Sink())
            return await sink.expect(req["count"], req["quiet"])
        raise ValueError(f"unknown op {op!r}")

    try:
        await serve_lines({"pid": os.getpid()}, handle)
    finally:
        for pc in pcs.values():
            await pc.close()


if __name__ == "__main__":
    actr_loop.run(main())
