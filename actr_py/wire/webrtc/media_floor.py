"""Who may send the next renegotiation offer on a connection: the floor.

Why: adding a media track to a live connection takes a new offer/answer
(``RENEGOTIATION_OFFER``). If both peers offer at once (a video call where
both sides add a camera), each holds a local offer the other cannot apply;
browsers resolve that with a rollback, which aiortc does not implement (and
aiortc would also bind a pending local transceiver to the *other* side's new
m-line). So between two actr-py peers only one side offers at a time: the
connection's original offerer (the *conductor*) offers whenever it holds its
own floor lock; the other side first asks it for the floor.

Protocol, on an in-band DataChannel labelled ``actr-py.media`` that the
non-conductor opens the first time it needs the floor (one byte of type and
a big-endian u32 sequence number per message)::

    REQUEST  b"R" <seq>   may I offer?
    GRANT    b"G" <seq>   yes; I will not offer until you say DONE
    DONE     b"D" <seq>   my offer was answered (or abandoned)

The conductor takes its floor lock (waiting for its own renegotiation, if
one runs), grants, and holds the lock until DONE or ``hold_timeout``. A
requester that gets no GRANT within ``grant_timeout`` (a peer without this
channel) offers anyway. A plain peer (a browser) has no control channel and
never renegotiates on its own, so towards it we offer directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator

from aiortc import RTCDataChannel
from aiortc.exceptions import InvalidStateError

from ...errors import Unavailable
from .connection import WebRtcConnection

__all__ = ["FLOOR_LABEL", "Floor"]

FLOOR_LABEL = "actr-py.media"

logger = logging.getLogger(__name__)

_MSG = struct.Struct("!cI")
_REQUEST, _GRANT, _DONE = b"R", b"G", b"D"


class Floor:
    """The renegotiation floor of one :class:`WebRtcConnection`."""

    def __init__(
        self, conn: WebRtcConnection, *, grant_timeout: float, hold_timeout: float
    ) -> None:
        self._conn = conn
        self._grant_timeout = grant_timeout
        self._hold_timeout = hold_timeout
        #: Held around each of our offers, and by the conductor while it lets the peer offer.
        self.lock = asyncio.Lock()
        self._channel: RTCDataChannel | None = None
        self._seq = 0
        self._granted: dict[int, asyncio.Future[None]] = {}
        self._done: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.grants = 0
        conn.peer_connection.on("datachannel", self._on_datachannel)
        conn.add_close_callback(lambda _c, _e: self._close())

    @property
    def conductor(self) -> bool:
        return self._conn.offerer

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Hold the floor for one offer/answer exchange."""
        async with self.lock:
            if self.conductor or self._conn.mode != "actr-py":
                yield
                return
            seq = await self._request()
            try:
                yield
            finally:
                if seq is not None:
                    self._send(_DONE, seq)

    # ---- requester -------------------------------------------------------------

    async def _request(self) -> int | None:
        channel = await self._open_channel()
        self._seq += 1
        seq = self._seq
        granted = self._granted[seq] = asyncio.get_running_loop().create_future()
        self._send(_REQUEST, seq)
        try:
            async with asyncio.timeout(self._grant_timeout):
                await granted
        except TimeoutError:
            logger.warning(
                "no renegotiation floor from %s within %.1fs: offering anyway",
                self._conn.peer_id, self._grant_timeout,
            )
            return None
        finally:
            self._granted.pop(seq, None)
        if channel.readyState != "open":
            raise Unavailable(f"media floor channel to {self._conn.peer_id} closed")
        return seq

    async def _open_channel(self) -> RTCDataChannel:
        if self._conn.closed:
            raise Unavailable(f"connection to {self._conn.peer_id} is closed")
        channel = self._channel
        if channel is None:
            channel = self._conn.peer_connection.createDataChannel(FLOOR_LABEL, ordered=True)
            self._adopt(channel)
        if channel.readyState != "open":
            opened = asyncio.get_running_loop().create_future()
            channel.once("open", lambda: opened.done() or opened.set_result(None))
            try:
                async with asyncio.timeout(self._grant_timeout):
                    await opened
            except TimeoutError:
                raise Unavailable(
                    f"media floor channel to {self._conn.peer_id} did not open"
                ) from None
        return channel

    # ---- conductor ---------------------------------------------------------------

    async def _grant(self, seq: int) -> None:
        done = self._done.setdefault(seq, asyncio.Event())
        async with self.lock:
            if self._conn.closed:
                return
            self.grants += 1
            self._send(_GRANT, seq)
            try:
                async with asyncio.timeout(self._hold_timeout):
                    await done.wait()
            except TimeoutError:
                logger.info("peer %s held the media floor too long", self._conn.peer_id)
            finally:
                self._done.pop(seq, None)

    # ---- channel -------------------------------------------------------------------

    def _on_datachannel(self, channel: RTCDataChannel) -> None:
        if channel.label == FLOOR_LABEL:
            self._adopt(channel)

    def _adopt(self, channel: RTCDataChannel) -> None:
        if self._channel is not None and self._channel is not channel:
            logger.info("second media floor channel from %s", self._conn.peer_id)
        self._channel = channel
        channel.on("message", self._on_message)

    def _on_message(self, data: bytes | str) -> None:
        if isinstance(data, str) or len(data) != _MSG.size:
            logger.info("bad media floor message from %s", self._conn.peer_id)
            return
        kind, seq = _MSG.unpack(data)
        if kind == _REQUEST:
            task = asyncio.get_running_loop().create_task(self._grant(seq))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif kind == _GRANT:
            granted = self._granted.get(seq)
            if granted is not None and not granted.done():
                granted.set_result(None)
        elif kind == _DONE:
            done = self._done.get(seq)
            if done is not None:
                done.set()

    def _send(self, kind: bytes, seq: int) -> None:
        channel = self._channel
        if channel is not None and channel.readyState == "open":
            with contextlib.suppress(InvalidStateError):
                channel.send(_MSG.pack(kind, seq))

    def _close(self) -> None:
        for event in self._done.values():
            event.set()
        for future in self._granted.values():
            if not future.done():
                future.set_exception(Unavailable(f"connection to {self._conn.peer_id} closed"))
                future.exception()
