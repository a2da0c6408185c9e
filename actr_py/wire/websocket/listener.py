"""Accepting direct lanes from peers: a plain asyncio server on one path.

Each accepted TCP connection gets a :class:`~.protocol.LaneProtocol` that
answers the HTTP upgrade itself (anything but a WebSocket request for our
path is refused with a plain 400/404). The socket must then present a
LaneHello within ``hello_timeout`` and pass ``authenticate`` (and ``admit``,
the pool's tie-break); until then the protocol parses nothing after the
hello, so nothing else the peer sent is even looked at. A refused socket is
closed with ``4000 + code``. Only an admitted peer gets our own hello and a
:class:`~.connection.WebSocketConnection` handed to ``on_connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ...errors import ActrError, DeadlineExceeded, InternalError, StateError, Unavailable
from ...ids import ActorId
from ..base import FrameHandler
from .connection import WebSocketConnection
from .handshake import (
    CLOSE_GOING_AWAY,
    Authenticator,
    CredentialSource,
    IdSource,
    close_code_for,
    close_reason,
    encode_hello,
    receive_hello,
    resolve,
)
from .options import DEFAULT_OPTIONS, WebSocketOptions
from .protocol import LaneProtocol
from .rfc6455 import OP_BINARY

__all__ = ["AdmitHook", "ConnectionHook", "WebSocketListener"]

log = logging.getLogger(__name__)

#: Called with each accepted, authenticated connection (already started).
ConnectionHook = Callable[[WebSocketConnection], None]
#: Called with the authenticated peer before we answer; raise an ActrError
#: (the pool raises Conflict) to refuse the socket.
AdmitHook = Callable[[ActorId], None]


class WebSocketListener:
    """Serves ``ws://host:port/path`` for peers that dial us directly."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = "/actr/ws",
        self_id: IdSource,
        credential_provider: CredentialSource,
        authenticate: Authenticator,
        on_frame: FrameHandler,
        on_connection: ConnectionHook | None = None,
        admit: AdmitHook | None = None,
        options: WebSocketOptions = DEFAULT_OPTIONS,
    ) -> None:
        self.host = host
        self.port = port
        self.path = path
        self.options = options
        self._self_id = self_id
        self._credential = credential_provider
        self._authenticate = authenticate
        self._on_frame = on_frame
        self._on_connection = on_connection
        self._admit = admit
        self._server: asyncio.Server | None = None
        self._connections: set[WebSocketConnection] = set()
        # Every socket not yet closed, and the handshakes still running.
        self._sockets: set[LaneProtocol] = set()
        self._handshakes: set[asyncio.Task[None]] = set()
        self._closing = False
        self._bound: tuple[str, int] | None = None

    async def start(self) -> None:
        if self._server is not None:
            raise StateError("listener already started")
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._new_protocol, self.host, self.port)
        host, port = self._server.sockets[0].getsockname()[:2]
        self._bound = (host, port)

    @property
    def address(self) -> str:
        """The URL peers dial, e.g. ``ws://127.0.0.1:40123/actr/ws``."""
        if self._bound is None:
            raise StateError("listener not started")
        host, port = self._bound
        if ":" in host:
            host = f"[{host}]"
        return f"ws://{host}:{port}{self.path}"

    @property
    def connections(self) -> frozenset[WebSocketConnection]:
        """Accepted connections still open."""
        return frozenset(self._connections)

    async def close(self) -> None:
        """Stop accepting, refuse handshakes in progress, close every connection."""
        if self._closing:
            return
        self._closing = True
        if self._server is not None:
            self._server.close()
        for task in list(self._handshakes):
            task.cancel()
        conns = list(self._connections)
        if conns:
            await asyncio.gather(
                *(c.close("listener shutting down") for c in conns), return_exceptions=True
            )
        if self._handshakes:
            await asyncio.wait(list(self._handshakes))
        # Refused sockets still in their closing handshake: give them the
        # usual time, then drop them.
        pending = [p.closed for p in self._sockets]
        if pending:
            await asyncio.wait(pending, timeout=self.options.close_timeout)
        for proto in list(self._sockets):
            proto.abort()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.options.close_timeout):
                    await self._server.wait_closed()

    # ---- accepting ----------------------------------------------------------------

    def _new_protocol(self) -> LaneProtocol:
        return LaneProtocol(
            client=False, options=self.options, path=self.path, on_connected=self._accepted
        )

    def _accepted(self, proto: LaneProtocol) -> None:
        if self._closing:
            proto.abort()
            return
        self._sockets.add(proto)
        proto.closed.add_done_callback(lambda _f: self._sockets.discard(proto))
        task = asyncio.get_running_loop().create_task(self._handshake(proto))
        self._handshakes.add(task)
        task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, proto: LaneProtocol) -> None:
        opts = self.options
        try:
            try:
                async with asyncio.timeout(opts.hello_timeout):
                    await proto.opened
            except TimeoutError:
                proto.abort()  # not even an HTTP request in time
                return
            except ActrError:
                return  # a refused upgrade: the protocol answered and closes
            if self._closing:
                proto.close(CLOSE_GOING_AWAY, "listener shutting down")
                return
            try:
                try:
                    async with asyncio.timeout(opts.hello_timeout):
                        hello = await receive_hello(proto)
                        peer = await self._authenticate(hello)
                except TimeoutError:
                    raise DeadlineExceeded(
                        f"no authenticated LaneHello within {opts.hello_timeout}s"
                    ) from None
                me = resolve(self._self_id)
                credential = resolve(self._credential)
                if me is None or credential is None:
                    raise Unavailable("this node has no actor id or credential yet")
                if self._closing:
                    raise Unavailable("listener shutting down")
                if self._admit is not None:
                    self._admit(peer)
            except ActrError as exc:
                self._refuse(proto, exc)
                return
            except Exception as exc:
                log.exception("lane handshake from %s failed", proto.get_extra_info("peername"))
                self._refuse(proto, InternalError(f"handshake failed: {exc!r}"))
                return
        except asyncio.CancelledError:
            proto.close(CLOSE_GOING_AWAY, "listener shutting down")
            raise
        # From admit to registration nothing awaits, so the pool's view of
        # this peer cannot change in between; our hello goes out first.
        proto.send_frame(OP_BINARY, encode_hello(me, credential))
        conn = WebSocketConnection(
            proto, peer, self._on_frame, self_id=me, dialed=False, options=opts
        )
        self._connections.add(conn)
        conn.add_close_callback(lambda c, _exc: self._connections.discard(c))  # type: ignore[arg-type]
        conn.start()
        if self._on_connection is not None:
            try:
                self._on_connection(conn)
            except Exception:
                log.exception("on_connection hook failed for %s", peer)

    def _refuse(self, proto: LaneProtocol, exc: ActrError) -> None:
        log.info(
            "refused lane from %s: %s (%d)",
            proto.get_extra_info("peername"),
            exc.message,
            exc.code,
        )
        proto.close(close_code_for(exc), close_reason(exc))
