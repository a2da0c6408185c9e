"""One WebSocket lane per peer: open on demand, share, reuse in both directions.

Tie-break when two actors dial each other at the same moment: **the lane
dialed by the smaller ActorId wins** (ActorId ordering is realm, serial,
manufacturer, name - the order the signaling server uses to pick the WebRTC
offerer). It is settled during the handshake, before either side sends a
frame, so no frame is ever sent on a lane that is then thrown away:

* our listener refuses (close 4409, Conflict) a hello from a *larger* peer
  while we are dialing it or hold a lane we dialed to it;
* a hello from a *smaller* peer is always admitted; if we were dialing it at
  the time, our dial is marked superseded and, should it still complete, is
  dropped unused;
* a dial refused with Conflict waits (within the connect timeout) for the
  winning lane the peer is opening towards us.

Apart from that the newest registered lane replaces an older one: a peer
only dials us while it has no lane, so its hello says the old one is gone
for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine

from ...errors import Conflict, StateError, Unavailable
from ...ids import ActorId
from ..base import FrameHandler, WireConnection
from .connection import WebSocketConnection
from .dial import connect_websocket
from .handshake import Authenticator, CredentialSource, IdSource, resolve
from .listener import WebSocketListener
from .options import DEFAULT_OPTIONS, WebSocketOptions

__all__ = ["WebSocketPool"]


class _Dial:
    __slots__ = ("superseded", "task")

    def __init__(self) -> None:
        self.superseded = False
        self.task: asyncio.Task[WebSocketConnection] | None = None


class WebSocketPool:
    """The ``websocket`` wire pool of one node."""

    kind = "websocket"

    def __init__(
        self,
        *,
        self_id: IdSource,
        credential_provider: CredentialSource,
        authenticate: Authenticator,
        on_frame: FrameHandler,
        options: WebSocketOptions = DEFAULT_OPTIONS,
        connect_timeout: float = 10.0,
    ) -> None:
        self.options = options
        self.connect_timeout = connect_timeout
        self._self_id = self_id
        self._credential = credential_provider
        self._authenticate = authenticate
        self._on_frame = on_frame
        self._live: dict[ActorId, WebSocketConnection] = {}
        self._dials: dict[ActorId, _Dial] = {}
        self._arrivals: dict[ActorId, asyncio.Future[WebSocketConnection]] = {}
        self._closing = False
        # Strong references: the event loop only keeps weak ones to tasks.
        self._background: set[asyncio.Task[None]] = set()

    # ---- public ------------------------------------------------------------

    async def get(self, peer_id: ActorId, url: str) -> WebSocketConnection:
        """The lane to ``peer_id``, dialing ``url`` if there is none.

        Concurrent callers share one attempt. Raises what the dial raised
        (Unavailable, Unauthorized, ...) when no lane could be had.
        """
        conn = self._live.get(peer_id)
        if conn is not None and conn.usable:
            return conn
        if self._closing:
            raise Unavailable("the WebSocket pool is closed")
        dial = self._dials.get(peer_id)
        if dial is None:
            dial = _Dial()
            dial.task = asyncio.get_running_loop().create_task(
                self._establish(peer_id, url, dial), name=f"ws-dial {peer_id}"
            )
            self._dials[peer_id] = dial
        assert dial.task is not None
        try:
            conn = await asyncio.shield(dial.task)
        except Exception:
            # Our dial failed, but the peer may have reached us meanwhile.
            live = self._live.get(peer_id)
            if live is not None and live.usable:
                return live
            raise
        live = self._live.get(peer_id)
        return live if live is not None and live.usable else conn

    def peek(self, peer_id: ActorId) -> WebSocketConnection | None:
        """The usable lane to ``peer_id`` if one is open, without dialing."""
        conn = self._live.get(peer_id)
        return conn if conn is not None and conn.usable else None

    @property
    def connections(self) -> dict[ActorId, WebSocketConnection]:
        """A snapshot of the lanes in use, by peer."""
        return {p: c for p, c in self._live.items() if c.usable}

    def admit(self, peer_id: ActorId) -> None:
        """Listener hook: may ``peer_id``'s freshly authenticated socket become its lane?

        Raises :class:`Conflict` when our own lane to that peer wins the tie-break.
        """
        if self._closing:
            raise Unavailable("the WebSocket pool is closing")
        me = self._me()
        if peer_id == me:
            raise Conflict("an actor does not open a lane to itself")
        if me < peer_id:
            # Their socket is the losing direction; refuse it if ours exists.
            current = self._live.get(peer_id)
            ours = current is not None and current.dialed and current.usable
            if peer_id in self._dials or ours:
                raise Conflict(
                    f"simultaneous dial: the lane opened by the smaller actor {me} wins"
                )
        else:
            dial = self._dials.get(peer_id)
            if dial is not None:
                dial.superseded = True

    def register(self, conn: WebSocketConnection) -> None:
        """Adopt a lane (listener ``on_connection`` hook, and our own dials)."""
        if self._closing:
            self._in_background(conn.close("pool closed"))
            return
        peer = conn.peer_id
        old = self._live.get(peer)
        self._live[peer] = conn
        conn.add_close_callback(self._evict)
        if old is not None and old is not conn and not old.closed:
            self._in_background(old.close("replaced by a newer lane"))
        waiter = self._arrivals.pop(peer, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(conn)

    def create_listener(
        self, *, host: str = "127.0.0.1", port: int = 0, path: str = "/actr/ws"
    ) -> WebSocketListener:
        """A listener whose accepted lanes join this pool (start it yourself)."""
        return WebSocketListener(
            host=host,
            port=port,
            path=path,
            self_id=self._self_id,
            credential_provider=self._credential,
            authenticate=self._authenticate,
            on_frame=self._on_frame,
            on_connection=self.register,
            admit=self.admit,
            options=self.options,
        )

    async def close(self) -> None:
        """Cancel dials and close every lane; the pool cannot be used afterwards."""
        self._closing = True
        dials = [d.task for d in self._dials.values() if d.task is not None]
        for task in dials:
            task.cancel()
        for waiter in self._arrivals.values():
            waiter.cancel()
        self._arrivals.clear()
        if dials:
            await asyncio.wait(dials)
        conns = list(self._live.values())
        self._live.clear()
        if conns:
            await asyncio.gather(*(c.close("pool closed") for c in conns), return_exceptions=True)
        if self._background:
            await asyncio.wait(list(self._background))

    # ---- internals ---------------------------------------------------------

    def _in_background(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _me(self) -> ActorId:
        me = resolve(self._self_id)
        if me is None:
            raise StateError("this node has no actor id yet")
        return me

    def _evict(self, conn: WireConnection, _exc: BaseException | None) -> None:
        if self._live.get(conn.peer_id) is conn:
            del self._live[conn.peer_id]

    async def _establish(self, peer: ActorId, url: str, dial: _Dial) -> WebSocketConnection:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_timeout
        try:
            me = self._me()
            credential = resolve(self._credential)
            if credential is None:
                raise StateError("this node has no credential yet")
            try:
                conn = await connect_websocket(
                    url,
                    self_id=me,
                    credential=credential,
                    expected_peer=peer,
                    authenticate=self._authenticate,
                    on_frame=self._on_frame,
                    timeout=self.connect_timeout,
                    options=self.options,
                )
            except Conflict:
                # The peer is dialing us and its lane wins: wait for it to arrive.
                return await self._await_arrival(peer, deadline)
            if dial.superseded:
                conn.abort(Conflict("superseded by the lane the smaller actor opened"))
                winner = self._live.get(peer)
                if winner is not None and winner.usable:
                    return winner
                raise Unavailable(f"lane to {peer} lost the tie-break and the winner is gone")
            self.register(conn)
            return conn
        finally:
            if self._dials.get(peer) is dial:
                del self._dials[peer]

    async def _await_arrival(self, peer: ActorId, deadline: float) -> WebSocketConnection:
        current = self._live.get(peer)
        if current is not None and current.usable:
            return current
        loop = asyncio.get_running_loop()
        waiter = self._arrivals.get(peer)
        if waiter is None or waiter.done():
            waiter = self._arrivals[peer] = loop.create_future()
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(waiter)
        except TimeoutError:
            raise Unavailable(
                f"{peer} refused our lane as the tie-break winner but its own never arrived"
            ) from None
        finally:
            if self._arrivals.get(peer) is waiter and not waiter.done():
                del self._arrivals[peer]
                waiter.cancel()

    def __repr__(self) -> str:
        return f"<WebSocketPool lanes={len(self._live)} dialing={len(self._dials)}>"

