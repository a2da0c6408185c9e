"""A bare aiortc DataChannel echo in its own process: the baseline's far end.

Reads the offer SDP (one JSON line) on stdin, answers on stdout, then echoes
every DataChannel message back until stdin closes. Host candidates on
127.0.0.1 only, no STUN, the same as our nodes.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from actr_py.wire.webrtc.gathering import restrict_gathering


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    offer = json.loads(await reader.readline())
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    @pc.on("datachannel")
    def on_channel(channel: RTCDataChannel) -> None:
        channel.on("message", channel.send)

    restrict_gathering(pc, ["127.0.0.1"])
    await pc.setRemoteDescription(RTCSessionDescription(**offer))
    await pc.setLocalDescription(await pc.createAnswer())
    answer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
    await reader.read()  # until the parent closes our stdin
    await pc.close()


if __name__ == "__main__":
    asyncio.run(main())
