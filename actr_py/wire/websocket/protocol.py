"""One RFC 6455 endpoint on one TCP connection, as an ``asyncio.Protocol``.

Either side of a lane: the listener's sockets start in ``server`` mode and
answer the HTTP upgrade themselves, the dialer's in client mode and check
the ``101``. After the upgrade the protocol parses frames in
``data_received`` and hands every complete binary message to a *sink*, a
plain callable, with no queue and no task in between. The sink returns True
when it cannot take more for now (its handler is waiting): parsing stops at
that message, the rest of the bytes stay buffered, reading from the socket
is paused, and :meth:`resume` continues exactly where it stopped. That is
the lane's whole backpressure: TCP windows close behind a busy handler.

Until a :class:`~.connection.WebSocketConnection` attaches, the sink is the
handshake's inbox: it keeps one message (the peer's LaneHello) and stops
parsing, so nothing an unauthenticated peer sent after its hello is even
parsed before the authenticator has accepted it.

Control frames are handled here: pings are answered at once (a write, never
a wait), pongs only count as signs of life, a close frame is echoed and ends
the connection. Violations of RFC 6455 (unmasked client frames, masked
server frames, reserved bits or opcodes, bad fragmentation, oversized
messages or control frames, bad close payloads) fail the connection with
the matching close code. No extension is negotiated and text messages are
refused, as the lane carries binary frames only.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, cast

from ...errors import ActrError, ProtocolError, Unavailable
from .handshake import close_code_for, error_for_close
from .options import WebSocketOptions
from .rfc6455 import (
    CLOSE_ABNORMAL,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_NO_STATUS,
    MAX_CONTROL_PAYLOAD,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    MaskKeys,
    WebSocketViolation,
    decode_close,
    encode_close,
    encode_ws_frame,
    mask_inplace,
    new_client_key,
)
from .upgrade import (
    MAX_HEAD_SIZE,
    UpgradeRefused,
    build_request,
    check_response,
    find_head_end,
    parse_request,
    refusal_response,
    switching_response,
)

__all__ = ["EndHook", "LaneProtocol", "MessageSink"]

log = logging.getLogger(__name__)

#: Takes one complete binary message; returns True to stop parsing for now.
#: The message is ``bytes`` or a ``memoryview`` (of a buffer never changed
#: afterwards); a sink copies out what it keeps.
MessageSink = Callable[[bytes | memoryview], bool]
#: Told once that the WebSocket ended: (close code, reason, error or None).
#: The code is the peer's close code, 1006 for a dropped connection, or ours
#: when we failed it; ``error`` is set unless the peer closed properly.
EndHook = Callable[[int, str, BaseException | None], None]

_HTTP, _OPEN, _CLOSING, _CLOSED = "http", "open", "closing", "closed"
_DATA_OPCODES = (OP_CONTINUATION, OP_TEXT, OP_BINARY)
_CONTROL_OPCODES = (OP_CLOSE, OP_PING, OP_PONG)
# A text message is the lane's own refusal (actr 400), not an RFC violation.
_TEXT_CLOSE = close_code_for(ProtocolError())
_MAX_REASON = MAX_CONTROL_PAYLOAD - 2


def _discard(_message: bytes | memoryview) -> bool:
    return False


class LaneProtocol(asyncio.Protocol):
    """A WebSocket connection: upgrade, framing, control frames, close handshake."""

    def __init__(
        self,
        *,
        client: bool,
        options: WebSocketOptions,
        path: str = "/",
        host: str = "",
        port: int = 0,
        on_connected: Callable[[LaneProtocol], None] | None = None,
    ) -> None:
        """``host``/``port``/``path`` form a client's request; a server checks ``path``.

        ``on_connected`` runs once the TCP connection exists (the listener
        starts its handshake timer there).
        """
        self.client = client
        self.options = options
        self.path = path
        self._host = host
        self._port = port
        self._on_connected = on_connected
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._state = _HTTP
        self._key = ""
        self._head = bytearray()
        #: Resolved when the upgrade succeeded; fails with the reason otherwise.
        self.opened: asyncio.Future[None] = self._loop.create_future()
        # Whoever waited may be gone (a dial that timed out): no "exception
        # was never retrieved" noise for a socket nobody watches any more.
        self.opened.add_done_callback(_retrieve)
        #: Resolved when the TCP connection is gone.
        self.closed: asyncio.Future[None] = self._loop.create_future()
        # Receiving.
        self._buf = bytearray()
        self._need = 0
        self._suspended = False
        self._failed = False
        self._limit = options.max_message_size
        self._expect_mask = 0 if client else 0x80
        self._frag: bytearray | None = None
        self._sink: MessageSink = self._to_inbox
        self._on_end: EndHook = self._inbox_end
        self._ended: tuple[int, str, BaseException | None] | None = None
        self._inbox: deque[bytes] = deque()
        self._inbox_waiter: asyncio.Future[None] | None = None
        self._inbox_error: BaseException | None = None
        # Sending.
        self._keys = MaskKeys() if client else None
        self.close_sent = False
        self._close_timer: asyncio.TimerHandle | None = None
        #: Set while the transport's write buffer is over its high-water mark.
        self.write_paused = False
        self.on_write_resumed: Callable[[], None] | None = None
        #: Liveness: data_received calls so far.
        self.rx_events = 0

    # ---- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (uvloop's TCP transports do not inherit asyncio.Transport, hence the cast.)
        self.transport = cast(asyncio.Transport, transport)
        if self.client:
            self._key = new_client_key()
            transport.write(build_request(self._host, self._port, self.path, self._key))
        if self._on_connected is not None:
            self._on_connected(self)

    def data_received(self, data: bytes) -> None:
        self.rx_events += 1
        if self._suspended or self._state is _HTTP or self._failed:
            if self._state is _HTTP:
                self._http_received(data)
            elif not self._failed:
                self._buf += data
            return
        buf = self._buf
        if buf:
            buf += data
            if len(buf) < self._need:
                return
            # Parse the buffer itself, detached (no copy; it is never resized
            # again, so views of it stay valid).
            self._buf = bytearray()
            self._process(buf)
            return
        self._process(data)

    def eof_received(self) -> bool | None:
        # Tell the owner now, not when connection_lost follows a loop turn
        # later: uvloop refuses writes to a transport that is already closed.
        if self._ended is None and self._state is not _HTTP:
            self._end(CLOSE_ABNORMAL, "", Unavailable("the peer ended the connection (EOF)"))
        return None  # the transport closes itself; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        previous = self._state
        self._state = _CLOSED
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        if previous is _HTTP and not self.opened.done():
            self.opened.set_exception(
                Unavailable(f"connection closed during the HTTP upgrade{_suffix(exc)}")
            )
        if self.write_paused:
            self.write_paused = False
            self._notify_write_resumed()
        if self._ended is None:
            self._end(CLOSE_ABNORMAL, "", Unavailable(f"connection dropped{_suffix(exc)}"))
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._notify_write_resumed()

    def _notify_write_resumed(self) -> None:
        hook = self.on_write_resumed
        if hook is not None:
            hook()

    # ---- the HTTP upgrade --------------------------------------------------------------

    def _http_received(self, data: bytes) -> None:
        head = self._head
        head += data
        end = find_head_end(head)
        if end < 0:
            if len(head) > MAX_HEAD_SIZE:
                self._refuse_upgrade(UpgradeRefused(400, "request head too large"))
            return
        raw, rest = bytes(head[:end]), bytes(head[end:])
        head.clear()
        transport = self.transport
        if transport is None:  # pragma: no cover - data arrives only after connection_made
            return
        if self.client:
            try:
                check_response(raw, self._key)
            except ActrError as exc:
                if not self.opened.done():
                    self.opened.set_exception(exc)
                self._state = _CLOSED
                transport.abort()
                return
        else:
            try:
                key = parse_request(raw, self.path)
            except UpgradeRefused as refusal:
                self._refuse_upgrade(refusal)
                return
            transport.write(switching_response(key))
        self._state = _OPEN
        if not self.opened.done():
            self.opened.set_result(None)
        if rest:
            self._process(rest)

    def _refuse_upgrade(self, refusal: UpgradeRefused) -> None:
        log.info("refused an HTTP upgrade: %s", refusal.message)
        if not self.opened.done():
            self.opened.set_exception(refusal)
        self._state = _CLOSED
        transport = self.transport
        if transport is not None:
            transport.write(refusal_response(refusal))
            transport.close()

    # ---- receiving frames ------------------------------------------------------------

    def _process(self, data: bytes | bytearray) -> None:
        """Parse complete frames from ``data``; keep the rest for later.

        The hot loop of the lane: a binary, unfragmented message goes to the
        sink straight from here. ``data`` is the bytes a read returned, or a
        buffer that collected several reads; payloads are handed on as
        ``bytes`` in the first case and as views (no copy) in the second.
        """
        n = len(data)
        pos = 0
        expect_mask = self._expect_mask
        while pos < n:
            if n - pos < 2:
                self._need = 0
                break
            b0 = data[pos]
            b1 = data[pos + 1]
            length = b1 & 0x7F
            start = pos + 2
            if length >= 126:
                if length == 126:
                    if n - pos < 4:
                        self._need = 0
                        break
                    length = (data[start] << 8) | data[start + 1]
                    start += 2
                else:
                    if n - pos < 10:
                        self._need = 0
                        break
                    length = int.from_bytes(data[start : start + 8], "big")
                    start += 8
            if b1 & 0x80 != expect_mask or b0 & 0x70 or length > self._limit:
                self._violation(self._header_error(b0, b1, length))
                return
            if expect_mask:
                start += 4
            end = start + length
            if end > n:
                self._need = end - pos
                break
            if expect_mask:
                unmasked = bytearray(memoryview(data)[start:end])
                mask_inplace(bytes(data[start - 4 : start]), unmasked)
                payload = memoryview(unmasked)
            elif data.__class__ is bytes:
                payload = data[start:end]
            else:
                payload = memoryview(data)[start:end]
            pos = end
            if b0 == 0x82 and self._frag is None:
                if self._sink(payload):
                    self._stop_at(data, pos)
                    return
            elif self._frame(b0, payload):
                self._stop_at(data, pos)
                return
            if self._state is _CLOSED or self._failed:
                return
        else:
            self._need = 0
            return
        # An incomplete frame: keep it until the rest arrives.
        self._buf += memoryview(data)[pos:]

    def _stop_at(self, data: bytes, pos: int) -> None:
        """The sink is busy: keep everything after ``pos`` and stop reading."""
        self._suspended = True
        if pos < len(data):
            self._buf += memoryview(data)[pos:]
        transport = self.transport
        if transport is not None and self._state is not _CLOSED:
            transport.pause_reading()

    def resume(self) -> None:
        """The sink can take messages again: parse what was kept, then read on."""
        if not self._suspended:
            return
        self._suspended = False
        if self._state is _CLOSED:
            return
        data = self._buf
        self._buf = bytearray()
        self._need = 0
        self._process(data)
        transport = self.transport
        if not self._suspended and transport is not None and self._state is not _CLOSED:
            transport.resume_reading()

    @property
    def suspended(self) -> bool:
        """True while the sink asked us to stop (the socket is not being read)."""
        return self._suspended

    def _header_error(self, b0: int, b1: int, length: int) -> WebSocketViolation:
        if b1 & 0x80 != self._expect_mask:
            side = "masked frame from the server" if self.client else "unmasked frame from a client"
            return WebSocketViolation(f"{side} (RFC 6455 5.1)")
        if b0 & 0x70:
            return WebSocketViolation("reserved bits set without a negotiated extension")
        return WebSocketViolation(
            f"a {length}-byte message exceeds the {self._limit}-byte limit", CLOSE_MESSAGE_TOO_BIG
        )

    def _frame(self, b0: int, payload: bytes | memoryview) -> bool:
        """Every frame but an unfragmented binary one; True to stop parsing."""
        opcode = b0 & 0x0F
        fin = b0 & 0x80
        if opcode in _CONTROL_OPCODES:
            payload = bytes(payload)
            if not fin or len(payload) > MAX_CONTROL_PAYLOAD:
                self._violation(WebSocketViolation("fragmented or oversized control frame"))
                return False
            if opcode == OP_PING:
                if self._state is _OPEN:
                    self.send_frame(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self._close_received(payload)
            return False
        if opcode not in _DATA_OPCODES:
            self._violation(WebSocketViolation(f"reserved opcode {opcode:#x}"))
            return False
        frag = self._frag
        if opcode == OP_CONTINUATION:
            if frag is None:
                self._violation(WebSocketViolation("continuation frame without a message"))
                return False
            if len(frag) + len(payload) > self._limit:
                self._violation(
                    WebSocketViolation(
                        f"fragmented message exceeds the {self._limit}-byte limit",
                        CLOSE_MESSAGE_TOO_BIG,
                    )
                )
                return False
            frag += payload
            if not fin:
                return False
            self._frag = None
            return self._sink(bytes(frag))
        if frag is not None:
            self._violation(WebSocketViolation("new message before the previous one ended"))
            return False
        if opcode == OP_TEXT:
            self._violation(WebSocketViolation("text message on a binary lane", _TEXT_CLOSE))
            return False
        if fin:  # pragma: no cover - unfragmented binary is handled by _process
            return self._sink(payload)
        self._frag = bytearray(payload)
        return False

    def _close_received(self, payload: bytes) -> None:
        try:
            code, reason = decode_close(payload)
        except WebSocketViolation as exc:
            self._violation(exc)
            return
        if not self.close_sent:
            # Echo the code (RFC 6455 5.5.1); an empty close is answered empty.
            echo = None if code == CLOSE_NO_STATUS else code
            self._write_close(echo, reason.encode("utf-8")[:_MAX_REASON])
        self._end(code, reason, None)
        self._shutdown()

    def _violation(self, exc: WebSocketViolation) -> None:
        """Fail the WebSocket connection (RFC 6455 7.1.7).

        We send the close frame and stop parsing: what follows a violation
        cannot be trusted to be framed. The peer's EOF (or ``close_timeout``)
        ends the TCP connection.
        """
        log.debug("failing the WebSocket connection: %s", exc.message)
        self._failed = True
        self._buf.clear()
        self._end(exc.close_code, exc.message, exc)
        self.close(exc.close_code, exc.message)

    # ---- the sink before a connection attaches: the handshake's inbox ------------------------

    def _to_inbox(self, message: bytes | memoryview) -> bool:
        self._inbox.append(bytes(message))
        self._wake_inbox()
        return True  # parse nothing more until someone asks or attaches

    def _inbox_end(self, code: int, reason: str, error: BaseException | None) -> None:
        self._inbox_error = error if error is not None else error_for_close(code, reason)
        self._wake_inbox()

    def _wake_inbox(self) -> None:
        waiter = self._inbox_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def receive_message(self) -> bytes:
        """The next binary message, while no connection is attached (the hello).

        Raises the typed error of a close frame the peer sent
        (:func:`~.handshake.error_for_close`), the violation when it broke the
        protocol, or :class:`Unavailable` when the socket dropped.
        """
        if not self._inbox and self._suspended:
            self.resume()
        while not self._inbox:
            if self._inbox_error is not None:
                raise self._inbox_error
            self._inbox_waiter = self._loop.create_future()
            try:
                await self._inbox_waiter
            finally:
                self._inbox_waiter = None
        return self._inbox.popleft()

    def attach(self, sink: MessageSink, on_end: EndHook) -> None:
        """Deliver messages to ``sink`` from now on (call :meth:`resume` to start).

        If the WebSocket already ended, ``on_end`` is told at once.
        """
        self._sink = sink if self._state is _OPEN else _discard
        self._on_end = on_end
        self._inbox_error = None
        ended = self._ended
        if ended is not None:
            on_end(*ended)

    def _end(self, code: int, reason: str, error: BaseException | None) -> None:
        if self._ended is not None:
            return
        self._ended = (code, reason, error)
        self._on_end(code, reason, error)

    # ---- sending ---------------------------------------------------------------------

    def send_frame(self, opcode: int, payload: bytes) -> None:
        """Write one unfragmented frame (masked when we are the client).

        Dropped silently once the closing handshake started: after a close
        frame nothing else may follow.
        """
        if self._state is _OPEN:
            self._write_frame(opcode, payload)

    def _write_frame(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        keys = self._keys
        key = keys.next() if keys is not None else None
        transport.write(encode_ws_frame(opcode, payload, mask_key=key))

    def _write_close(self, code: int | None, reason: bytes) -> None:
        self._write_frame(OP_CLOSE, encode_close(code, reason))
        self.close_sent = True

    def close(self, code: int | None, reason: str | bytes = b"") -> None:
        """Start the closing handshake: send a close frame, wait for the peer's.

        The socket is closed when the peer's close frame or EOF arrives, or
        after ``close_timeout`` at the latest. Data messages that arrive
        meanwhile are dropped. After a violation the close frame is followed
        by our EOF instead of a wait for the peer's answer. Idempotent.
        """
        if self._state is _CLOSED or self._state is _CLOSING:
            return
        transport = self.transport
        if self._state is _HTTP:
            self._state = _CLOSED
            if transport is not None:
                transport.abort()
            return
        self._state = _CLOSING
        self._sink = _discard
        raw = reason.encode("utf-8") if isinstance(reason, str) else reason
        if len(raw) > _MAX_REASON:
            raw = raw[:_MAX_REASON].decode("utf-8", "ignore").encode("utf-8")
        if not self.close_sent:
            self._write_close(code, raw)
        self._close_timer = self._loop.call_later(self.options.close_timeout, self.abort)
        if self._failed:
            # Failing (RFC 6455 7.1.7): no reply is awaited. Half-close so the
            # peer sees our close frame and EOF, and read (discarding) until
            # its EOF, so that closing never resets unread data.
            if transport is not None:
                if transport.can_write_eof():
                    transport.write_eof()
                transport.resume_reading()
        elif self._suspended:
            # Keep reading: the peer's close frame (or EOF) completes the handshake.
            self.resume()

    def _shutdown(self) -> None:
        """Both close frames were exchanged: close the TCP connection (flushing)."""
        self._state = _CLOSED
        self._sink = _discard
        transport = self.transport
        if transport is not None:
            transport.close()
            if self._close_timer is None:
                self._close_timer = self._loop.call_later(self.options.close_timeout, self.abort)

    def abort(self) -> None:
        """Drop the TCP connection now, without any goodbye."""
        self._state = _CLOSED
        self._sink = _discard
        transport = self.transport
        if transport is not None:
            transport.abort()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        transport = self.transport
        return default if transport is None else transport.get_extra_info(name, default)

    def __repr__(self) -> str:
        side = "client" if self.client else "server"
        return f"<LaneProtocol {side} {self._state}>"


def _retrieve(future: asyncio.Future[None]) -> None:
    if not future.cancelled():
        future.exception()


def _suffix(exc: BaseException | None) -> str:
    return f": {exc!r}" if exc is not None else ""
