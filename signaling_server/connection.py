"""One WebSocket peer on the server: an ordered outbound queue and its rate bucket.

Every frame to a peer goes through one queue drained by one writer task, so
replies and relays from other connections never interleave mid-frame and a
slow reader only ever stalls itself.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from aiohttp import web

from .ratelimit import TokenBucket

if TYPE_CHECKING:
    from .registry import Session

__all__ = ["Connection"]

log = logging.getLogger("signaling_server.connection")
_IDS = itertools.count(1)


class Connection:
    def __init__(
        self, ws: web.WebSocketResponse, remote: str, bucket: TokenBucket, queue_size: int
    ) -> None:
        self.id = next(_IDS)
        self.ws = ws
        self.remote = remote
        self.bucket = bucket
        #: Virtual-actor placement has its own budget (set by the service).
        self.placement_bucket: TokenBucket | None = None
        self.session: Session | None = None
        self.pong_seq = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=queue_size)
        self._writer: asyncio.Task[None] | None = None
        self.closed = False

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop(), name=f"signaling-writer-{self.id}")

    async def send(self, data: bytes) -> None:
        """Queue a reply to this peer; waits (stalling only this peer) when the queue is full."""
        if not self.closed:
            await self._queue.put(data)

    def offer(self, data: bytes) -> bool:
        """Queue a frame from elsewhere (relay, event); False when this peer is not keeping up."""
        if self.closed:
            return False
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            return False
        return True

    async def _write_loop(self) -> None:
        try:
            while True:
                data = await self._queue.get()
                if data is None:
                    return
                await self.ws.send_bytes(data)
        except (ConnectionError, RuntimeError) as exc:
            # The socket went away under us; the reader side notices and cleans up.
            log.debug("connection %d: write failed: %s", self.id, exc)
        finally:
            self.closed = True

    async def close(self, code: int = 1000, message: str = "") -> None:
        """Flush what is queued (briefly), then close the socket."""
        if self._writer is not None and not self._writer.done():
            self.closed = True
            try:
                self._queue.put_nowait(None)
                await asyncio.wait_for(asyncio.shield(self._writer), 1.0)
            except (asyncio.QueueFull, TimeoutError):
                self._writer.cancel()
        self.closed = True
        if not self.ws.closed:
            try:
                await self.ws.close(code=code, message=message.encode())
            except (ConnectionError, RuntimeError):
                pass

    async def finish(self) -> None:
        """Stop the writer after the socket is gone."""
        self.closed = True
        if self._writer is not None and not self._writer.done():
            self._writer.cancel()
            await asyncio.wait([self._writer])
