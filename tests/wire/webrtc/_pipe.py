"""Signaling over a pipe between two OS processes, and the echo child itself.

Run as ``python -m tests.wire.webrtc._pipe <child id> <parent id>``: the child
runs a WebRtcCoordinator that echoes every frame back, with its relays on
stdin/stdout. Each pipe message is ``<u8 kind><u32 length><protobuf>``. The
parent plays the signaling server: it answers RoleNegotiation from either
side with RoleAssignment to both.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from actr_py.ids import ActorId
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2, webrtc_pb2
from actr_py.wire.webrtc import WebRtcConfig, WebRtcCoordinator

__all__ = ["READY", "PipeLink", "main"]

_HEADER = struct.Struct("!BI")
READY = 0
_KINDS: dict[int, type[Any]] = {
    1: webrtc_pb2.SessionDescription,
    2: webrtc_pb2.IceCandidate,
    3: actr_pb2.RoleNegotiation,
    4: actr_pb2.RoleAssignment,
}
_KIND_OF = {cls: kind for kind, cls in _KINDS.items()}

Inbound = Callable[[int, Any], Awaitable[None]]


class PipeLink:
    """Length-prefixed protobufs over a reader/writer pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: Any) -> None:
        self._reader = reader
        self._writer = writer
        self._task: asyncio.Task[None] | None = None

    def write(self, payload: Any) -> None:
        body = payload.SerializeToString() if payload is not None else b""
        kind = READY if payload is None else _KIND_OF[type(payload)]
        self._writer.write(_HEADER.pack(kind, len(body)) + body)

    def start(self, inbound: Inbound) -> None:
        self._task = asyncio.get_running_loop().create_task(self._pump(inbound))

    async def _pump(self, inbound: Inbound) -> None:
        while True:
            try:
                header = await self._reader.readexactly(_HEADER.size)
            except (asyncio.IncompleteReadError, ConnectionError):
                await inbound(-1, None)
                return
            kind, size = _HEADER.unpack(header)
            body = await self._reader.readexactly(size)
            payload = _KINDS[kind].FromString(body) if kind != READY else None
            await inbound(kind, payload)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


async def _child(child_id: ActorId, parent_id: ActorId) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, _ = await loop.connect_write_pipe(asyncio.Protocol, sys.stdout)
    link = PipeLink(reader, transport)
    done = asyncio.Event()

    class Relay:
        async def send(self, target: ActorId, payload: Any) -> None:
            link.write(payload)

    async def echo(peer: ActorId, payload_type: PayloadType, data: bytes) -> None:
        conn = coordinator.connection(peer)
        if conn is not None:
            await conn.send(payload_type, data)

    coordinator = WebRtcCoordinator(
        child_id,
        Relay(),
        echo,
        config=WebRtcConfig(heartbeat_interval=0.2, heartbeat_timeout=1.5),
    )

    async def inbound(kind: int, payload: Any) -> None:
        if kind == -1:
            done.set()
        elif payload is not None:
            await coordinator.handle_relay(parent_id, payload)

    link.start(inbound)
    link.write(None)  # READY
    await done.wait()
    await coordinator.close()
    await link.close()
    transport.close()


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(_child(ActorId.parse(argv[0]), ActorId.parse(argv[1])))


if __name__ == "__main__":
    main(sys.argv[1:])
