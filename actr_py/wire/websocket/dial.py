"""Dialing a peer's WebSocket lane: connect, exchange LaneHellos, verify who answered."""

from __future__ import annotations

import asyncio
import contextlib

import aiohttp

from ...errors import ActrError, Unauthorized, Unavailable
from ...ids import ActorId
from ...proto import actr_pb2
from ..base import FrameHandler
from .connection import WebSocketConnection
from .handshake import Authenticator, close_code_for, close_reason, encode_hello, receive_hello
from .options import DEFAULT_OPTIONS, WebSocketOptions

__all__ = ["connect_websocket", "new_client_session"]


def new_client_session() -> aiohttp.ClientSession:
    """A session suited to lanes: no per-host connection cap, no cookies."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
    )


async def connect_websocket(
    url: str,
    *,
    self_id: ActorId,
    credential: actr_pb2.AIdCredential,
    expected_peer: ActorId,
    authenticate: Authenticator,
    on_frame: FrameHandler,
    timeout: float = 10.0,
    options: WebSocketOptions = DEFAULT_OPTIONS,
    session: aiohttp.ClientSession | None = None,
) -> WebSocketConnection:
    """Open a lane to ``expected_peer`` at ``url`` and return it started.

    We send our LaneHello first, then wait for the peer's, authenticate it and
    check it is the actor we meant to reach. Raises :class:`Unavailable` when
    the socket cannot be opened or the whole exchange exceeds ``timeout``;
    the typed error named by the peer's close code when it refuses us
    (:class:`Unauthorized`, :class:`~actr_py.errors.Forbidden`,
    :class:`~actr_py.errors.Conflict`); :class:`Unauthorized` when the peer's
    hello fails ``authenticate`` or names another actor.

    Without ``session`` a private one is made and closed with the connection.
    """
    own_session = session is None
    client = new_client_session() if session is None else session
    ws: aiohttp.ClientWebSocketResponse | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                ws = await client.ws_connect(
                    url,
                    autoping=False,
                    autoclose=True,
                    compress=0,
                    max_msg_size=options.max_message_size + 1,  # aiohttp refuses sizes >= its limit
                    timeout=aiohttp.ClientWSTimeout(
                        ws_receive=None, ws_close=options.close_timeout
                    ),
                )
            except (aiohttp.ClientError, OSError) as exc:
                raise Unavailable(f"cannot open a WebSocket lane to {url}: {exc}") from exc
            await ws.send_bytes(encode_hello(self_id, credential))
            hello = await receive_hello(ws)
            try:
                peer = await authenticate(hello)
            except ActrError:
                raise
            except Exception as exc:
                raise Unauthorized(f"peer at {url} failed authentication: {exc!r}") from exc
            if peer != expected_peer:
                raise Unauthorized(
                    f"the lane at {url} belongs to {peer}, not the expected {expected_peer}"
                )
    except TimeoutError:
        await _discard(ws, client if own_session else None, None)
        raise Unavailable(
            f"opening the WebSocket lane to {expected_peer} at {url} took over {timeout}s"
        ) from None
    except ActrError as exc:
        await _discard(ws, client if own_session else None, exc)
        raise
    except BaseException:
        await _discard(ws, client if own_session else None, None)
        raise
    assert ws is not None
    conn = WebSocketConnection(
        ws,
        peer,
        on_frame,
        self_id=self_id,
        dialed=True,
        options=options,
        on_dispose=client.close if own_session else None,
    )
    conn.start()
    return conn


async def _discard(
    ws: aiohttp.ClientWebSocketResponse | None,
    session: aiohttp.ClientSession | None,
    error: ActrError | None,
) -> None:
    """Close a half-open lane, telling the peer why when we are the one refusing."""
    with contextlib.suppress(Exception):
        if ws is not None and not ws.closed:
            if error is None:
                error = Unavailable("handshake abandoned")
            async with asyncio.timeout(1.0):
                await ws.close(code=close_code_for(error), message=close_reason(error))
    if session is not None:
        with contextlib.suppress(Exception):
            await session.close()
