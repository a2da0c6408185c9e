"""Dialing a peer's lane: TCP connect, HTTP upgrade, LaneHellos, verify who answered.

The dialer opens the TCP connection itself and sends the upgrade request
from :class:`~.protocol.LaneProtocol`; no HTTP client library is involved.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

from ...errors import ActrError, Unauthorized, Unavailable
from ...ids import ActorId
from ...proto import actr_pb2
from ..base import FrameHandler
from .connection import WebSocketConnection
from .handshake import Authenticator, close_code_for, close_reason, encode_hello, receive_hello
from .options import DEFAULT_OPTIONS, WebSocketOptions
from .protocol import LaneProtocol
from .rfc6455 import OP_BINARY

__all__ = ["connect_websocket", "parse_url"]


def parse_url(url: str) -> tuple[str, int, str]:
    """``(host, port, path)`` of a ``ws://`` URL; Unavailable for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Unavailable(f"malformed lane address {url!r}: {exc}") from None
    if parts.scheme != "ws" or not parts.hostname:
        raise Unavailable(f"lane address {url!r} is not a ws:// URL")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.hostname, port if port is not None else 80, path


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
) -> WebSocketConnection:
    """Open a lane to ``expected_peer`` at ``url`` and return it started.

    We send our LaneHello first, then wait for the peer's, authenticate it and
    check it is the actor we meant to reach. Raises :class:`Unavailable` when
    the socket cannot be opened or upgraded, or the whole exchange exceeds
    ``timeout``; the typed error named by the peer's close code when it
    refuses us (:class:`Unauthorized`, :class:`~actr_py.errors.Forbidden`,
    :class:`~actr_py.errors.Conflict`); :class:`Unauthorized` when the peer's
    hello fails ``authenticate`` or names another actor.
    """
    host, port, path = parse_url(url)
    loop = asyncio.get_running_loop()
    proto: LaneProtocol | None = None
    try:
        async with asyncio.timeout(timeout):
            try:
                _, proto = await loop.create_connection(
                    lambda: LaneProtocol(
                        client=True, options=options, path=path, host=host, port=port
                    ),
                    host,
                    port,
                )
            except OSError as exc:
                raise Unavailable(f"cannot open a WebSocket lane to {url}: {exc}") from exc
            try:
                await proto.opened
            except ActrError as exc:
                raise Unavailable(f"{url} did not upgrade to a WebSocket: {exc.message}") from exc
            proto.send_frame(OP_BINARY, encode_hello(self_id, credential))
            hello = await receive_hello(proto)
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
        await _discard(proto, None)
        raise Unavailable(
            f"opening the WebSocket lane to {expected_peer} at {url} took over {timeout}s"
        ) from None
    except ActrError as exc:
        await _discard(proto, exc)
        raise
    except BaseException:
        # Cancelled: start the close and let the protocol finish it on its own.
        if proto is not None:
            proto.close(close_code_for(Unavailable()), "handshake abandoned")
        raise
    conn = WebSocketConnection(
        proto, peer, on_frame, self_id=self_id, dialed=True, options=options
    )
    conn.start()
    return conn


async def _discard(proto: LaneProtocol | None, error: ActrError | None) -> None:
    """Close a half-open lane, telling the peer why when we are the one refusing."""
    if proto is None:
        return
    if error is None:
        error = Unavailable("handshake abandoned")
    proto.close(close_code_for(error), close_reason(error))
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await asyncio.shield(proto.closed)
    proto.abort()
