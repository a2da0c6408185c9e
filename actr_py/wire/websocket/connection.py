"""A WebSocket lane to one authenticated peer: coalescing writer, ordered reader.

Three long-lived tasks per connection and none per frame:

* the **writer** drains a :class:`FrameBatcher`; everything ``send`` queued
  since its last turn goes out as one WebSocket message (no timer). On an
  idle lane the first frame of a loop turn is written at once by ``send``
  itself, sparing a request the task hop to the writer (about 15 % of a
  loopback round trip in ``bench_websocket_wire``); frames sent after it in
  the same turn, or while a write is under way, are batched. ``send`` waits
  once ``max_pending_bytes`` are queued or in flight, so a peer that stops
  reading makes our senders wait instead of growing memory;
* the **reader** awaits the FrameHandler per frame, in order; while a handler
  blocks, nothing is read, aiohttp stops reading the socket once its own
  buffer (128 KiB) is full, TCP windows close and the peer's writer stalls;
* the **monitor** checks liveness every ``heartbeat_interval``. aiohttp's
  built-in heartbeat is not used because it mistakes a slow consumer for a
  dead one: its pings queue behind megabytes of unread data. Here the peer
  counts as alive while anything (data, ping, pong) arrives or our writes
  progress against a backlog; a silent line gets a ping, and
  ``dead_peer_timeout`` of silence ends the connection. A side whose handler
  holds its reader cannot read pongs, so it does not judge; it pings the peer
  each interval instead, which is the "busy, not dead" signal the peer needs.
  A SIGSTOPped or partitioned peer sends nothing and is dropped in time.

The same class wraps a client-side and a server-side socket; the lane is
bidirectional whichever end dialed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import aiohttp

from ...errors import ActrError, LocalError, PayloadTooLarge, ProtocolError, Unavailable
from ...ids import ActorId
from ...payload_type import PayloadType
from ..base import FrameHandler, WireConnection
from .framing import FrameBatcher, decode_frames, encode_frame
from .handshake import CLOSE_NORMAL, AnyWebSocket, close_code_for, close_reason
from .options import DEFAULT_OPTIONS, WebSocketOptions

__all__ = ["WebSocketConnection"]

log = logging.getLogger(__name__)

_BINARY = aiohttp.WSMsgType.BINARY
_PING = aiohttp.WSMsgType.PING
_PONG = aiohttp.WSMsgType.PONG
_TEXT = aiohttp.WSMsgType.TEXT
_CLOSE = aiohttp.WSMsgType.CLOSE


class WebSocketConnection(WireConnection):
    """One open, authenticated WebSocket lane (either end of it).

    Close callbacks receive an :class:`Unavailable` whatever ended the lane
    (peer gone, dead-peer timeout, protocol violation - chained as the cause -
    or our own ``close``).
    """

    kind = "websocket"

    def __init__(
        self,
        ws: AnyWebSocket,
        peer_id: ActorId,
        on_frame: FrameHandler,
        *,
        self_id: ActorId,
        dialed: bool,
        options: WebSocketOptions = DEFAULT_OPTIONS,
        preamble: bytes | None = None,
        on_dispose: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Wrap an open socket whose handshake is done; call :meth:`start` next.

        ``preamble`` is written before any frame (the listener's LaneHello, so
        that admitting and registering a connection need no await between them).
        ``on_dispose`` runs after the socket closed (e.g. closing a private session).
        """
        super().__init__(peer_id)
        self.self_id = self_id
        #: True when we opened the socket, False when our listener accepted it.
        self.dialed = dialed
        #: The actor that opened the socket (the tie-break looks at this).
        self.initiator = self_id if dialed else peer_id
        self.options = options
        #: (host, port) of our end and of the peer's end of the TCP connection.
        self.sockname: tuple[str, int] | None = ws.get_extra_info("sockname")
        self.peername: tuple[str, int] | None = ws.get_extra_info("peername")
        self._ws = ws
        self._on_frame = on_frame
        self._preamble = preamble
        self._on_dispose = on_dispose
        self._loop = asyncio.get_running_loop()
        self._batcher = FrameBatcher(options.coalesce_limit)
        self._max_frame = options.max_frame_size
        self._high_water = options.max_pending_bytes
        self._inflight = 0
        # Set by a direct write; cleared by the reader, the writer and the
        # monitor, which only run in a later loop turn. (Cheaper than a
        # call_soon per write, which cost a fifth of the round trip.)
        self._hot = False
        self._writer_wake: asyncio.Future[None] | None = None
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._close_error: Unavailable | None = None
        self._done: asyncio.Future[None] = self._loop.create_future()
        self._reader_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._monitor_task: asyncio.Task[None] | None = None
        self._aux_tasks: set[asyncio.Task[None]] = set()
        self._ping_task: asyncio.Task[None] | None = None
        # Liveness bookkeeping, read by the monitor once per interval.
        self._rx_messages = 0
        self._tx_messages = 0
        self._reading = False

    # ---- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start the reader, writer and liveness monitor."""
        if self._reader_task is not None:
            raise RuntimeError("connection already started")
        name = f"ws-lane {self.peer_id}"
        self._reader_task = self._loop.create_task(self._read_loop(), name=f"{name} reader")
        self._writer_task = self._loop.create_task(self._write_loop(), name=f"{name} writer")
        self._monitor_task = self._loop.create_task(self._monitor(), name=f"{name} monitor")

    @property
    def usable(self) -> bool:
        """Whether ``send`` would accept a frame now (open and not closing)."""
        return not self._closing

    @property
    def pending_bytes(self) -> int:
        """Bytes accepted by ``send`` and not yet handed to the socket."""
        return self._batcher.pending_bytes + self._inflight

    async def wait_closed(self) -> None:
        """Return once the connection is fully shut down (socket closed)."""
        await asyncio.shield(self._done)

    async def close(self, reason: str = "") -> None:
        """Flush what was queued (within ``close_timeout``), then close the socket."""
        if self._closing:
            await self.wait_closed()
            return
        self._closing = True
        self._room.set()  # senders waiting for room now fail instead
        self._wake_writer()
        writer = self._writer_task
        if writer is not None and not writer.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                async with asyncio.timeout(self.options.close_timeout):
                    await asyncio.shield(writer)
        text = reason or "closed"
        error = Unavailable(f"lane to {self.peer_id} closed locally: {text}")
        self._finish(error, CLOSE_NORMAL, text)
        if asyncio.current_task() is not self._reader_task:
            # (A handler closing its own lane must return first: the teardown
            # waits for the reader.)
            await self.wait_closed()

    def abort(self, error: ActrError, reason: str = "") -> None:
        """Drop the connection now with ``error``'s close code, without flushing."""
        self._finish(
            Unavailable(f"lane to {self.peer_id} aborted: {error.message or reason}"),
            close_code_for(error),
            reason or error.message,
        )

    def _finish(self, error: Unavailable, code: int, reason: str) -> None:
        """The single teardown path: stop tasks, fail waiters, run callbacks."""
        if self._close_error is not None:
            return
        self._close_error = error
        self._closing = True
        self._room.set()
        current = asyncio.current_task()
        for task in (self._reader_task, self._writer_task, self._monitor_task):
            if task is not None and task is not current:
                task.cancel()
        self._spawn(self._dispose(code, reason))
        try:
            self._mark_closed(error)
        except Exception:
            log.exception("a close callback of the lane to %s failed", self.peer_id)

    async def _dispose(self, code: int, reason: str) -> None:
        try:
            current = asyncio.current_task()
            tasks = [
                t
                for t in (self._reader_task, self._writer_task, self._monitor_task)
                if t is not None and t is not current
            ]
            if tasks:
                # Bounded: a handler that swallows cancellation must not pin the socket.
                await asyncio.wait(tasks, timeout=self.options.close_timeout)
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.options.close_timeout + 1):
                    await self._ws.close(code=code, message=close_reason(reason))
            if self._on_dispose is not None:
                with contextlib.suppress(Exception):
                    await self._on_dispose()
        finally:
            current = asyncio.current_task()
            for task in (*self._aux_tasks, self._ping_task):
                if task is not None and task is not current:
                    task.cancel()
            if not self._done.done():
                self._done.set_result(None)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = self._loop.create_task(coro)  # type: ignore[arg-type]
        self._aux_tasks.add(task)
        task.add_done_callback(self._aux_done)

    def _aux_done(self, task: asyncio.Task[None]) -> None:
        self._aux_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.debug("lane %s: background %s failed: %r", self.peer_id, task, task.exception())

    # ---- sending -----------------------------------------------------------

    async def send(self, payload_type: PayloadType, data: bytes) -> None:
        """Queue one frame; wait only while ``max_pending_bytes`` are backlogged.

        Raises :class:`Unavailable` once the lane is closing or closed and
        :class:`PayloadTooLarge` for a frame over ``max_frame_size``.
        """
        if self._closing:
            raise self._unavailable()
        if payload_type.__class__ is not PayloadType:
            payload_type = _check_type(payload_type)
        if len(data) > self._max_frame:
            raise PayloadTooLarge(
                f"frame of {len(data)} bytes exceeds the lane's {self._max_frame}-byte limit"
            )
        batcher = self._batcher
        if (
            not self._hot
            and self._writer_wake is not None
            and not self._inflight
            and not batcher.pending_bytes
        ):
            # Idle lane: write this frame now, in the caller's task (no task
            # hop on a request's path); frames after it batch up until the
            # reader, writer or monitor next runs, i.e. a later loop turn.
            self._hot = True
            await self._write_now(payload_type, data)
            return
        if batcher.pending_bytes + self._inflight >= self._high_water:
            await self._wait_for_room()
        batcher.push(payload_type, data)
        wake = self._writer_wake
        if wake is not None:
            self._writer_wake = None
            if not wake.done():
                wake.set_result(None)

    async def _write_now(self, payload_type: PayloadType, data: bytes) -> None:
        frame = encode_frame(payload_type, data)
        self._inflight = len(frame)
        try:
            await self._ws.send_bytes(frame)
        except Exception as exc:
            self._finish(
                _chain(Unavailable(f"lane to {self.peer_id} failed writing: {exc!r}"), exc),
                close_code_for(Unavailable()),
                "write failed",
            )
            raise self._unavailable() from exc
        finally:
            self._inflight = 0
            self._room.set()  # a sender may have queued behind a large direct write
        self._tx_messages += 1

    async def _wait_for_room(self) -> None:
        room = self._room
        while self._batcher.pending_bytes + self._inflight >= self._high_water:
            if self._closing:
                raise self._unavailable()
            room.clear()
            await room.wait()
        if self._closing:
            raise self._unavailable()

    def _unavailable(self) -> Unavailable:
        error = self._close_error
        if error is not None:
            return Unavailable(error.message)
        return Unavailable(f"lane to {self.peer_id} is closing")

    def _wake_writer(self) -> None:
        wake = self._writer_wake
        if wake is not None:
            self._writer_wake = None
            if not wake.done():
                wake.set_result(None)

    async def _write_loop(self) -> None:
        ws = self._ws
        batcher = self._batcher
        room = self._room
        high_water = self._high_water
        try:
            if self._preamble is not None:
                await ws.send_bytes(self._preamble)
                self._preamble = None
            while True:
                message = batcher.pop()
                if message is None:
                    if self._closing:
                        return  # flushed: close() may proceed
                    wake = self._writer_wake = self._loop.create_future()
                    await wake
                    continue
                self._inflight = len(message)
                await ws.send_bytes(message)
                self._inflight = 0
                self._hot = False
                self._tx_messages += 1
                if batcher.pending_bytes < high_water:
                    room.set()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._finish(
                _chain(Unavailable(f"lane to {self.peer_id} failed writing: {exc!r}"), exc),
                close_code_for(Unavailable()),
                "write failed",
            )

    # ---- receiving ---------------------------------------------------------

    async def _read_loop(self) -> None:
        ws = self._ws
        handler = self._on_frame
        peer = self.peer_id
        max_frame = self._max_frame
        try:
            while True:
                self._reading = True
                msg = await ws.receive()
                self._reading = False
                self._hot = False
                self._rx_messages += 1
                kind = msg.type
                if kind is _BINARY:
                    for payload_type, payload in decode_frames(msg.data, max_frame):
                        try:
                            await handler(peer, payload_type, payload)
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            log.exception(
                                "frame handler failed on a %s frame from %s; frame dropped",
                                payload_type.name,
                                peer,
                            )
                        if self._close_error is not None:
                            return  # the handler closed the lane
                elif kind is _PING:
                    # Answer off the reader: a pong stuck behind a full send
                    # buffer must not stop us reading (mutual-wait deadlock).
                    self._spawn(ws.pong(msg.data))
                elif kind is _PONG:
                    pass
                elif kind is _TEXT:
                    raise ProtocolError("text message on a binary lane")
                else:
                    self._finish(self._gone(msg), CLOSE_NORMAL, "")
                    return
        except asyncio.CancelledError:
            raise
        except ActrError as exc:  # ProtocolError / PayloadTooLarge from decode
            self._reading = False
            self._finish(
                _chain(Unavailable(f"lane to {peer} broke the protocol: {exc.message}"), exc),
                close_code_for(exc),
                exc.message,
            )
        except Exception as exc:
            self._finish(
                _chain(Unavailable(f"lane to {peer} failed reading: {exc!r}"), exc),
                close_code_for(Unavailable()),
                "read failed",
            )

    def _gone(self, msg: aiohttp.WSMessage) -> Unavailable:
        if msg.type is _CLOSE:
            reason = f": {msg.extra}" if msg.extra else ""
            return Unavailable(f"peer {self.peer_id} closed the lane (code {msg.data}{reason})")
        detail = msg.data if msg.type is aiohttp.WSMsgType.ERROR else self._ws.exception()
        suffix = f": {detail!r}" if detail else ""
        return Unavailable(f"lane to {self.peer_id} dropped{suffix}")

    # ---- liveness ----------------------------------------------------------

    async def _monitor(self) -> None:
        interval = self.options.heartbeat_interval
        deadline = self.options.dead_peer_timeout
        last_rx, last_tx = self._rx_messages, self._tx_messages
        silent = 0.0
        while True:
            await asyncio.sleep(interval)
            self._hot = False
            rx, tx = self._rx_messages, self._tx_messages
            backlogged = self._inflight > 0 or self._batcher.pending_bytes > 0
            # Our handler holds the reader: we cannot judge the peer (its pongs
            # wait unread behind data), but we tell it we are alive.
            busy = not self._reading
            progressed = rx != last_rx or (backlogged and tx != last_tx)
            last_rx, last_tx = rx, tx
            if busy:
                silent = 0.0
                self._ping()
                continue
            if progressed:
                silent = 0.0
                continue
            silent += interval
            if silent >= deadline:
                self._finish(
                    Unavailable(f"peer {self.peer_id} showed no sign of life for {silent:.1f}s"),
                    close_code_for(Unavailable()),
                    "dead peer",
                )
                return
            self._ping()

    def _ping(self) -> None:
        """Send a ping unless the previous one is still stuck in the transport."""
        task = self._ping_task
        if task is None or task.done():
            self._ping_task = self._loop.create_task(self._ws.ping())
            self._ping_task.add_done_callback(self._aux_done)

    def __repr__(self) -> str:
        state = "closed" if self._closed else ("closing" if self._closing else "open")
        side = "dialed" if self.dialed else "accepted"
        return f"<WebSocketConnection {side} peer={self.peer_id} {state}>"


def _check_type(value: object) -> PayloadType:
    try:
        return PayloadType(value)
    except ValueError:
        raise LocalError(f"unknown payload type {value!r}") from None


def _chain(error: Unavailable, cause: BaseException) -> Unavailable:
    error.__cause__ = cause
    return error

