"""Accepting direct lanes from peers: an aiohttp server on one path.

Each accepted socket must present a LaneHello within ``hello_timeout`` and
pass ``authenticate`` (and ``admit``, the pool's tie-break) before anything
else it sent is read; a refused socket is closed with ``4000 + code`` and its
later messages are never parsed. Only then do we answer with our own hello
and hand the connection to ``on_connection``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiohttp import web

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

__all__ = ["ConnectionHook", "WebSocketListener"]

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
        self._runner: web.AppRunner | None = None
        self._connections: set[WebSocketConnection] = set()
        self._closing = False
        self._bound: tuple[str, int] | None = None

    async def start(self) -> None:
        if self._runner is not None:
            raise StateError("listener already started")
        app = web.Application()
        app.router.add_get(self.path, self._handle)
        runner = web.AppRunner(
            app,
            handle_signals=False,
            access_log=None,
            shutdown_timeout=self.options.close_timeout,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        host, port = runner.addresses[0][:2]
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
        """Stop accepting and close every accepted connection."""
        if self._closing:
            return
        self._closing = True
        conns = list(self._connections)
        if conns:
            await asyncio.gather(
                *(c.close("listener shutting down") for c in conns), return_exceptions=True
            )
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        opts = self.options
        ws = web.WebSocketResponse(
            autoping=False,
            autoclose=True,
            compress=False,
            max_msg_size=opts.max_message_size + 1,  # aiohttp refuses sizes >= its limit
            timeout=opts.close_timeout,
        )
        await ws.prepare(request)
        if self._closing:
            await ws.close(code=CLOSE_GOING_AWAY, message=b"listener shutting down")
            return ws
        try:
            try:
                async with asyncio.timeout(opts.hello_timeout):
                    hello = await receive_hello(ws)
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
            await self._refuse(ws, request, exc)
            return ws
        except Exception as exc:
            log.exception("lane handshake from %s failed", request.remote)
            await self._refuse(ws, request, InternalError(f"handshake failed: {exc!r}"))
            return ws
        # From admit to registration nothing awaits, so the pool's view of
        # this peer cannot change in between; our hello goes out as preamble.
        conn = WebSocketConnection(
            ws,
            peer,
            self._on_frame,
            self_id=me,
            dialed=False,
            options=opts,
            preamble=encode_hello(me, credential),
        )
        self._connections.add(conn)
        conn.add_close_callback(lambda c, _exc: self._connections.discard(c))  # type: ignore[arg-type]
        conn.start()
        if self._on_connection is not None:
            try:
                self._on_connection(conn)
            except Exception:
                log.exception("on_connection hook failed for %s", peer)
        try:
            # aiohttp ends the socket when this handler returns: hold it open.
            await conn.wait_closed()
        finally:
            if not conn.closed:
                with contextlib.suppress(Exception):
                    await conn.close("listener handler ended")
        return ws

    async def _refuse(
        self, ws: web.WebSocketResponse, request: web.Request, exc: ActrError
    ) -> None:
        log.info("refused lane from %s: %s (%d)", request.remote, exc.message, exc.code)
        with contextlib.suppress(Exception):
            await ws.close(code=close_code_for(exc), message=close_reason(exc))
