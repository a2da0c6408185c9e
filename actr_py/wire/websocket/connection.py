"""A WebSocket lane to one authenticated peer: eager delivery, direct writes.

No long-lived task and none per frame. Both directions run in the callbacks
of the connection's :class:`~.protocol.LaneProtocol`:

* **receiving** - the protocol parses frames in ``data_received`` and hands
  each binary message to :meth:`WebSocketConnection._on_message`, which
  splits it into actr frames and starts the FrameHandler on each *eagerly*
  (:func:`~actr_py.wire.eager.start_eagerly`): a handler that does not wait
  (a response resolving a future, a request put in a mailbox) completes
  inside the callback, with no task and no loop hop. A handler that waits
  (a full stream queue, a durable commit) continues in a task; until it is
  done the protocol parses nothing more and pauses reading, so TCP windows
  close and the peer's writer stalls. The frames of a coalesced message are
  awaited one after the other inside a single coroutine (driving each
  handler's coroutine separately would cost a StopIteration per frame), so a
  wait holds the rest of the message too. Frames of a connection are always
  delivered in order, one at a time. During the eager part the handler runs
  without a current task.
* **sending** - ``send`` writes the frame straight to the transport when the
  lane is idle: the first frame of a loop turn goes out at once (a request
  never waits for a writer). Frames sent after it in the same turn are packed
  into one WebSocket message (:class:`~.framing.FrameBatcher`) flushed by a
  ``call_soon`` at the end of the turn, so a burst costs one header, one mask
  pass and one write. "Same turn" is approximated cheaply: a direct write is
  allowed again once data arrived, the flush ran, or the monitor ticked.
  ``send`` waits while ``max_pending_bytes`` are batched or sitting in the
  transport's write buffer (woken by the protocol's ``resume_writing``), so
  a peer that stops reading makes our senders wait instead of growing memory.
* **liveness** - a timer checks every ``heartbeat_interval``. The peer counts
  as alive while anything (data, ping, pong) arrives or our writes progress
  against a backlog; a silent line gets a ping, and ``dead_peer_timeout`` of
  silence ends the connection. A side whose handler holds the reader cannot
  read pongs, so it does not judge; it pings the peer each interval instead,
  which is the "busy, not dead" signal the peer needs. A SIGSTOPped or
  partitioned peer sends nothing and is dropped in time.

The same class wraps a dialed and an accepted socket; the lane is
bidirectional whichever end dialed.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable

from ...errors import ActrError, LocalError, PayloadTooLarge, Unavailable
from ...ids import ActorId
from ...payload_type import PayloadType
from ...proto import package_pb2
from ..base import DONE, FrameHandler, WireConnection
from ..eager import start_eagerly
from .framing import HEADER_SIZE, FrameBatcher, decode_frames
from .handshake import CLOSE_NORMAL, close_code_for
from .options import DEFAULT_OPTIONS, WebSocketOptions
from .protocol import LaneProtocol
from .rfc6455 import (
    MAX_HEADER_SIZE,
    OP_BINARY,
    OP_PING,
    MaskKeys,
    WebSocketViolation,
    encode_frame_header,
    encode_ws_frame,
    mask_inplace,
)

__all__ = ["WebSocketConnection"]

log = logging.getLogger(__name__)

# Index by the type byte: a tuple lookup is much cheaper than PayloadType(byte).
_TYPES: tuple[PayloadType, ...] = tuple(PayloadType(i) for i in range(len(PayloadType)))
_N_TYPES = len(_TYPES)
_ACTR_HEADER = struct.Struct(">BI")
_unpack_actr = _ACTR_HEADER.unpack_from
_pack_actr = _ACTR_HEADER.pack
# An unmasked (server) binary frame carrying one actr frame: WebSocket header
# and actr header packed in one call, for the three WebSocket length forms.
_PLAIN_7 = struct.Struct(">BBBI").pack
_PLAIN_16 = struct.Struct(">BBHBI").pack
_PLAIN_64 = struct.Struct(">BBQBI").pack
# The header of a masked (client) frame: length forms plus the masking key.
_MASKED_7 = struct.Struct(">BB4s").pack
_MASKED_16 = struct.Struct(">BBH4s").pack
_MASKED_64 = struct.Struct(">BBQ4s").pack
_FIN_BINARY = 0x80 | OP_BINARY


class WebSocketConnection(WireConnection):
    """One open, authenticated WebSocket lane (either end of it).

    Close callbacks receive an :class:`Unavailable` whatever ended the lane
    (peer gone, dead-peer timeout, protocol violation - chained as the cause -
    or our own ``close``).
    """

    kind = "websocket"

    def __init__(
        self,
        protocol: LaneProtocol,
        peer_id: ActorId,
        on_frame: FrameHandler,
        *,
        self_id: ActorId,
        dialed: bool,
        options: WebSocketOptions = DEFAULT_OPTIONS,
        on_dispose: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        """Wrap an upgraded socket whose LaneHello exchange is done; call :meth:`start`.

        ``on_dispose`` runs after the socket closed.
        """
        super().__init__(peer_id)
        transport = protocol.transport
        if transport is None:
            raise Unavailable(f"lane to {peer_id} has no transport")
        self.self_id = self_id
        #: True when we opened the socket, False when our listener accepted it.
        self.dialed = dialed
        #: The actor that opened the socket (the tie-break looks at this).
        self.initiator = self_id if dialed else peer_id
        self.options = options
        #: (host, port) of our end and of the peer's end of the TCP connection.
        self.sockname: tuple[str, int] | None = transport.get_extra_info("sockname")
        self.peername: tuple[str, int] | None = transport.get_extra_info("peername")
        self._proto = protocol
        self._transport = transport
        self._on_frame = on_frame
        self._on_dispose = on_dispose
        self._loop = asyncio.get_running_loop()
        self._batcher = FrameBatcher(options.coalesce_limit)
        self._max_frame = options.max_frame_size
        self._high_water = options.max_pending_bytes
        self._keys = MaskKeys() if protocol.client else None
        self._emit = self._emit_masked if protocol.client else self._emit_plain
        # The protocol's rx_events at our last direct write: while unchanged
        # (and no flush or tick since) we are probably in the same loop turn.
        self._hot_mark = -1
        self._flush_handle: asyncio.Handle | None = None
        # Bytes the batch being filled may take (see _offer).
        self._budget = 0
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._started = False
        self._close_error: Unavailable | None = None
        self._done: asyncio.Future[None] = self._loop.create_future()
        # Delivery: the handler task we wait for (nothing is parsed meanwhile).
        self._blocked: asyncio.Task[None] | None = None
        self._blocked_type: PayloadType | None = None
        # Liveness bookkeeping.
        self._monitor: asyncio.TimerHandle | None = None
        self._tx_bytes = 0
        self._ping_mark = 0
        self._last_rx = -1
        self._last_sent = 0
        self._silent = 0.0

    # ---- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Start delivering frames (those already received first) and the monitor."""
        if self._started:
            raise RuntimeError("connection already started")
        self._started = True
        proto = self._proto
        # The transport pauses us a little before max_pending_bytes, so that
        # one more frame with its WebSocket header stays within the bound.
        high = max(self._high_water - MAX_HEADER_SIZE, 0)
        self._transport.set_write_buffer_limits(high=high, low=high // 2)
        proto.on_write_resumed = self._write_resumed
        self._monitor = self._loop.call_later(self.options.heartbeat_interval, self._tick)
        proto.closed.add_done_callback(self._socket_closed)
        proto.attach(self._on_message, self._on_end)
        # Frames that arrived right behind the peer's hello wait for the next
        # loop callback, so whoever started us registers the lane first.
        self._loop.call_soon(self._begin)

    def _begin(self) -> None:
        if self._close_error is None and self._blocked is None:
            self._proto.resume()

    @property
    def usable(self) -> bool:
        """Whether ``send`` would accept a frame now (open and not closing)."""
        return not self._closing

    @property
    def pending_bytes(self) -> int:
        """Bytes accepted by ``send`` and not yet handed to the kernel."""
        return self._batcher.pending_bytes + self._transport.get_write_buffer_size()

    async def wait_closed(self) -> None:
        """Return once the connection is fully shut down (socket closed)."""
        await asyncio.shield(self._done)

    async def close(self, reason: str = "") -> None:
        """Flush what was queued, then close (bounded by ``close_timeout``).

        Everything queued is handed to the transport before the close frame,
        so the peer reads it all unless it stops reading for longer than
        ``close_timeout``. A FrameHandler may close its own lane.
        """
        if not self._closing:
            self._closing = True
            self._flush()
            text = reason or "closed"
            self._finish(
                Unavailable(f"lane to {self.peer_id} closed locally: {text}"), CLOSE_NORMAL, text
            )
        await self.wait_closed()

    def abort(self, error: ActrError, reason: str = "") -> None:
        """Close now with ``error``'s close code, dropping frames not yet written."""
        self._batcher = FrameBatcher(self.options.coalesce_limit)
        self._finish(
            Unavailable(f"lane to {self.peer_id} aborted: {error.message or reason}"),
            close_code_for(error),
            reason or error.message,
        )

    def _finish(self, error: Unavailable, code: int | None, reason: str) -> None:
        """The single teardown path: stop delivery, fail waiters, run callbacks.

        ``code`` None: the protocol already ended the WebSocket itself.
        """
        if self._close_error is not None:
            return
        self._close_error = error
        self._closing = True
        self._room.set()  # senders waiting for room now fail
        if self._monitor is not None:
            self._monitor.cancel()
            self._monitor = None
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        blocked = self._blocked
        if blocked is not None and blocked is not asyncio.current_task():
            blocked.cancel()
        if code is not None:
            self._proto.close(code, reason)
        if not self._started:
            self._proto.closed.add_done_callback(self._socket_closed)
        try:
            self._mark_closed(error)
        except Exception:
            log.exception("a close callback of the lane to %s failed", self.peer_id)

    def _socket_closed(self, _fut: asyncio.Future[None]) -> None:
        if self._close_error is None:  # pragma: no cover - the protocol reports first
            self._finish(Unavailable(f"lane to {self.peer_id} dropped"), None, "")
        if self._on_dispose is not None:
            dispose, self._on_dispose = self._on_dispose, None
            task = self._loop.create_task(dispose())  # type: ignore[arg-type]
            task.add_done_callback(self._disposed)
        elif not self._done.done():
            self._done.set_result(None)

    def _disposed(self, task: asyncio.Task[object]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.debug("lane %s: disposing failed: %r", self.peer_id, task.exception())
        if not self._done.done():
            self._done.set_result(None)

    def _on_end(self, code: int, reason: str, error: BaseException | None) -> None:
        """The protocol says the WebSocket ended (close frame, violation, drop)."""
        peer = self.peer_id
        if error is None:
            detail = f": {reason}" if reason else ""
            exc = Unavailable(f"peer {peer} closed the lane (code {code}{detail})")
        elif isinstance(error, WebSocketViolation):
            exc = _chain(Unavailable(f"lane to {peer} broke the protocol: {error.message}"), error)
        elif isinstance(error, ActrError):
            exc = _chain(Unavailable(f"lane to {peer} {error.message}"), error)
        else:  # pragma: no cover - the protocol reports ActrErrors
            exc = _chain(Unavailable(f"lane to {peer} failed: {error!r}"), error)
        self._finish(exc, None, "")

    # ---- sending -----------------------------------------------------------

    async def send(self, payload_type: PayloadType, data: bytes) -> None:
        """Send one frame; wait only while ``max_pending_bytes`` are backlogged.

        Raises :class:`Unavailable` once the lane is closing or closed and
        :class:`PayloadTooLarge` for a frame over ``max_frame_size``.
        """
        batcher = self._batcher
        pending = batcher.pending_bytes
        if (
            pending
            and not self._closing
            and payload_type.__class__ is PayloadType
            and len(data) <= self._max_frame
            and pending + MAX_HEADER_SIZE * (batcher.messages + 1) <= self._budget
        ):
            # Mid-batch with room (a burst of stream chunks): what _offer would do.
            batcher.push(payload_type, data)
            return
        if not self._offer(payload_type, data):
            await self._offer_when_room(payload_type, data)

    def send_envelope(
        self, payload_type: PayloadType, envelope: package_pb2.RpcEnvelope
    ) -> Awaitable[None]:
        """Serialize and send; a coroutine only when it must wait for room."""
        data = envelope.SerializeToString()
        if self._offer(payload_type, data):
            return DONE
        return self._offer_when_room(payload_type, data)

    def _offer(self, payload_type: PayloadType, data: bytes) -> bool:
        """Write or batch one frame now; False when it must wait for room.

        The bound: a frame is taken while the batched bytes, a header per
        batched message and the transport's buffer leave room for this frame's
        header, so ``pending_bytes`` never exceeds ``max_pending_bytes`` by
        more than the frame itself.
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
        pending = batcher.pending_bytes
        if not pending:
            proto = self._proto
            if proto.write_paused:
                return False
            rx = proto.rx_events
            if self._hot_mark != rx:
                # Idle lane, first frame of the turn: out at once, in the caller's frame.
                self._hot_mark = rx
                self._emit(payload_type, data)
                return True
            # Not paused: the transport holds at most max_pending_bytes minus
            # one header, so this frame fits the bound. It starts a batch,
            # whose budget is fixed now: until the flush only control frames
            # (a pong, a ping) can add to the transport's buffer.
            self._budget = self._high_water - self._transport.get_write_buffer_size()
            self._flush_handle = self._loop.call_soon(self._flush)
        elif pending + MAX_HEADER_SIZE * (batcher.messages + 1) > self._budget:
            return False
        batcher.push(payload_type, data)
        return True

    async def _offer_when_room(self, payload_type: PayloadType, data: bytes) -> None:
        room = self._room
        while True:
            room.clear()
            await room.wait()
            if self._offer(payload_type, data):
                return

    def _emit_plain(self, payload_type: PayloadType, data: bytes) -> None:
        """One actr frame as one unmasked binary frame (we accepted the socket)."""
        n = len(data)
        size = n + HEADER_SIZE
        if size < 126:
            frame = _PLAIN_7(_FIN_BINARY, size, payload_type, n) + data
        elif size < 0x10000:
            frame = _PLAIN_16(_FIN_BINARY, 126, size, payload_type, n) + data
        else:
            frame = _PLAIN_64(_FIN_BINARY, 127, size, payload_type, n) + data
        self._tx_bytes += len(frame)
        self._transport.write(frame)

    def _emit_masked(self, payload_type: PayloadType, data: bytes) -> None:
        """One actr frame as one masked binary frame (we dialed)."""
        key = self._keys.next()  # type: ignore[union-attr]
        n = len(data)
        size = n + HEADER_SIZE
        body = bytearray(_pack_actr(payload_type, n))
        body += data
        mask_inplace(key, body)
        if size < 126:
            frame = _MASKED_7(_FIN_BINARY, 0x80 | size, key) + body
        elif size < 0x10000:
            frame = _MASKED_16(_FIN_BINARY, 0x80 | 126, size, key) + body
        else:
            frame = _MASKED_64(_FIN_BINARY, 0x80 | 127, size, key) + body
        self._tx_bytes += len(frame)
        self._transport.write(frame)

    def _emit_message(self, message: bytearray) -> None:
        """A batched message of several actr frames."""
        keys = self._keys
        if keys is None:
            frame = encode_frame_header(OP_BINARY, len(message)) + message
        else:
            key = keys.next()
            header = encode_frame_header(OP_BINARY, len(message), mask_key=key)
            mask_inplace(key, message)  # the batcher never touches a popped message again
            frame = header + message
        self._tx_bytes += len(frame)
        self._transport.write(frame)

    def _flush(self) -> None:
        """End of the loop turn: write what was batched, as few messages as fit."""
        self._flush_handle = None
        self._hot_mark = -1
        if self._close_error is not None:
            return
        batcher = self._batcher
        while True:
            message = batcher.pop()
            if message is None:
                break
            self._emit_message(message)
        if not self._proto.write_paused:
            self._room.set()

    def _write_resumed(self) -> None:
        self._room.set()

    def _unavailable(self) -> Unavailable:
        error = self._close_error
        if error is not None:
            return Unavailable(error.message)
        return Unavailable(f"lane to {self.peer_id} is closing")

    # ---- receiving ---------------------------------------------------------

    def _on_message(self, message: bytes | memoryview) -> bool:
        """The protocol's sink: deliver the frames of one message; True if blocked."""
        n = len(message)
        if n >= HEADER_SIZE:
            kind, length = _unpack_actr(message, 0)
            if length + HEADER_SIZE == n and kind < _N_TYPES and length <= self._max_frame:
                # One frame, the common case: the handler's own coroutine.
                payload_type = _TYPES[kind]
                payload = message[HEADER_SIZE:]
                if payload.__class__ is not bytes:
                    payload = bytes(payload)  # a view: the one copy
                try:
                    task = start_eagerly(
                        self._on_frame(self.peer_id, payload_type, payload),
                        loop=self._loop,
                    )
                except Exception:
                    self._handler_failed(payload_type)
                    return False
                return task is not None and self._wait_for(task, payload_type)
        try:
            frames = decode_frames(message, self._max_frame)
        except ActrError as exc:  # ProtocolError / PayloadTooLarge
            text = f"lane to {self.peer_id} broke the protocol: {exc.message}"
            self._finish(_chain(Unavailable(text), exc), close_code_for(exc), exc.message)
            return False
        # Several frames: one coroutine awaits the handler on each in turn.
        # (Driving each handler's coroutine separately would cost a
        # StopIteration per frame; awaiting inside one coroutine does not.)
        task = start_eagerly(self._deliver_all(frames), loop=self._loop)
        return task is not None and self._wait_for(task, None)

    async def _deliver_all(self, frames: list[tuple[PayloadType, bytes]]) -> None:
        on_frame = self._on_frame
        peer = self.peer_id
        for payload_type, payload in frames:
            try:
                await on_frame(peer, payload_type, payload)
            except Exception:
                self._handler_failed(payload_type)
            if self._close_error is not None:
                return

    def _wait_for(self, task: asyncio.Task[None], payload_type: PayloadType | None) -> bool:
        """A handler suspended: nothing more is parsed until its task is done."""
        if self._close_error is not None:
            return False  # (a handler that closed its own lane finishes on its own)
        self._blocked = task
        self._blocked_type = payload_type
        task.add_done_callback(self._unblocked)
        return True

    def _handler_failed(
        self, payload_type: PayloadType | None, exc: BaseException | None = None
    ) -> None:
        kind = payload_type.name if payload_type is not None else "(batched)"
        log.error(
            "frame handler failed on a %s frame from %s; frame dropped",
            kind,
            self.peer_id,
            exc_info=exc if exc is not None else True,
        )

    def _unblocked(self, task: asyncio.Task[None]) -> None:
        """The handler we waited for is done: read on."""
        if self._blocked is task:
            self._blocked = None
        if not task.cancelled():
            exc = task.exception()
            if exc is not None:
                self._handler_failed(self._blocked_type, exc)
        if self._close_error is None:
            self._proto.resume()

    # ---- liveness ----------------------------------------------------------

    def _tick(self) -> None:
        interval = self.options.heartbeat_interval
        self._monitor = self._loop.call_later(interval, self._tick)
        self._hot_mark = -1
        rx = self._proto.rx_events
        buffered = self._transport.get_write_buffer_size()
        sent = self._tx_bytes - buffered
        backlogged = buffered > 0 or self._batcher.pending_bytes > 0
        progressed = rx != self._last_rx or (backlogged and sent != self._last_sent)
        self._last_rx, self._last_sent = rx, sent
        if self._blocked is not None:
            # Our handler holds the reader: we cannot judge the peer (its pongs
            # wait unread behind data), but we tell it we are alive.
            self._silent = 0.0
            self._ping(sent)
            return
        if progressed:
            self._silent = 0.0
            return
        self._silent += interval
        if self._silent >= self.options.dead_peer_timeout:
            self._finish(
                Unavailable(f"peer {self.peer_id} showed no sign of life for {self._silent:.1f}s"),
                close_code_for(Unavailable()),
                "dead peer",
            )
            return
        self._ping(sent)

    def _ping(self, sent: int) -> None:
        """Send a ping unless the previous one is still stuck in the transport."""
        if sent < self._ping_mark:
            return
        keys = self._keys
        frame = encode_ws_frame(OP_PING, b"", mask_key=keys.next() if keys is not None else None)
        self._tx_bytes += len(frame)
        self._ping_mark = self._tx_bytes
        self._transport.write(frame)

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
