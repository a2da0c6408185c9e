"""Connections to an actor: who receives its events, and in what order.

A :class:`Connection` is one client attached to one actor. Events sent to it
(``conn.send`` or the actor's ``broadcast``) go out in the order they were
sent, through an :class:`Outbox` that runs a writer task only while it has
something to write. The transport is a :data:`Writer` - a WebSocket frame, an
actr data-stream chunk to a peer node, or a direct callback in this process.
A connection holds its actor awake until it closes.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from .keys import MODE_GET_OR_CREATE

if TYPE_CHECKING:
    from .definition import Actor
    from .host import ActorHost

__all__ = ["Connection", "ConnectionService", "Outbox", "Writer"]

log = logging.getLogger("actr_py.actors.connections")

#: Delivers one event ``(name, args)``; raising closes the connection.
Writer = Callable[[str, list[Any]], Awaitable[None]]

_ids = itertools.count(1)
_background: set[asyncio.Task[None]] = set()


class Outbox:
    """Ordered, bounded delivery without an idle task."""

    __slots__ = ("_closed", "_items", "_on_fail", "_task", "_write", "limit")

    def __init__(self, write: Writer, on_fail: Callable[[BaseException], None],
                 limit: int = 4096) -> None:
        self._write = write
        self._on_fail = on_fail
        self._items: deque[tuple[str, list[Any]]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.limit = limit

    def put(self, event: str, args: list[Any]) -> None:
        if self._closed:
            return
        if len(self._items) >= self.limit:
            self._closed = True
            self._on_fail(OverflowError(f"more than {self.limit} undelivered events"))
            return
        self._items.append((event, args))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self._items and not self._closed:
                event, args = self._items.popleft()
                await self._write(event, args)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self._closed = True
            self._on_fail(exc)
        finally:
            self._task = None

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait (bounded) for what is queued to be written."""
        task = self._task
        if task is not None:
            await asyncio.wait((task,), timeout=timeout)

    def close(self) -> None:
        self._closed = True
        self._items.clear()
        if self._task is not None:
            self._task.cancel()


class Connection:
    """One client attached to one actor; ``params`` came with connect, ``state`` is yours."""

    __slots__ = ("_closer", "_outbox", "actor", "closed", "hangup", "id", "kind", "params",
                 "state")

    def __init__(
        self,
        actor: Actor,
        params: Any,
        write: Writer,
        closer: Callable[..., Awaitable[None]],
        kind: str,
        hangup: Callable[[str, bool], Awaitable[None]] | None = None,
    ) -> None:
        self.id = next(_ids)
        self.actor = actor
        self.params = params
        self.state: Any = None
        self.kind = kind
        self.closed = False
        #: Tells the transport the actor side closed (after queued events went out).
        self.hangup = hangup
        self._closer = closer
        self._outbox = Outbox(write, self._failed)

    def send(self, event: str, *args: Any) -> None:
        """Queue an event for this connection only."""
        self._outbox.put(event, list(args))

    async def disconnect(self, reason: str = "") -> None:
        """Close from the actor's side (the client is told and does not reconnect)."""
        await self._closer(self, reason or "disconnected by the actor", final=True)

    def _failed(self, exc: BaseException) -> None:
        log.info("connection %d to %r lost: %s", self.id, self.actor, exc)
        if not self.closed:
            closing = self._closer(self, "delivery failed", final=False)
            task = asyncio.get_running_loop().create_task(closing)
            _background.add(task)
            task.add_done_callback(_background.discard)

    def __repr__(self) -> str:
        return f"<Connection {self.id} {self.kind} to {self.actor!r}>"


class ConnectionService:
    """The host side of connections: admission, bookkeeping, closing."""

    def __init__(self, host: ActorHost) -> None:
        self.host = host

    async def connect(
        self,
        name: str,
        key: str,
        params: Any,
        write: Writer,
        kind: str,
        *,
        mode: int = MODE_GET_OR_CREATE,
        input: Any = None,
        nonce: str | None = None,
        hangup: Callable[[str, bool], Awaitable[None]] | None = None,
    ) -> Connection:
        """Admit a connection (``on_before_connect``); it holds the actor awake until closed."""
        host = self.host
        cls = host._def(name)
        actor = await host.acquire(cls, key, mode, input, nonce)
        conn: Connection | None = None
        timeout = cls.options.connect_timeout
        cm = asyncio.timeout(timeout)
        try:
            async with cm:
                await actor.on_before_connect(params)
                conn = Connection(actor, params, write, self.close, kind, hangup)
                conn.state = actor.create_conn_state(params)
                ext = host._ext(actor)
                if ext.conns is None:
                    ext.conns = {}
                ext.conns[conn.id] = conn
                await actor.on_connect(conn)
        except BaseException as exc:
            if conn is not None and actor._ext is not None and actor._ext.conns:
                actor._ext.conns.pop(conn.id, None)
                conn.closed = True
            host._release(actor)
            raise host._hook_error(exc, cm, f"{name}.connect", timeout) from None
        return conn

    async def close(
        self, conn: Connection, reason: str = "", *, final: bool = True
    ) -> None:
        """Close a connection; runs on_disconnect and releases the actor.

        ``final=False`` (sleep, node stopping) tells a client it may reconnect.
        """
        host = self.host
        if conn.closed:
            return
        conn.closed = True
        actor = conn.actor
        ext = actor._ext
        if ext is not None and ext.conns:
            ext.conns.pop(conn.id, None)
        await conn._outbox.flush()
        conn._outbox.close()
        if conn.hangup is not None:
            try:
                await conn.hangup(reason, final)
            except Exception as exc:
                log.debug("hangup of %r: %r", conn, exc)
        try:
            async with asyncio.timeout(type(actor).options.connect_timeout):
                await actor.on_disconnect(conn)
        except Exception:
            log.exception("on_disconnect of %r failed", actor)
        finally:
            host._release(actor)

    def find(self, name: str, key: str, conn_id: int) -> Connection | None:
        host = self.host
        actor = host._live[name].get(key) if name in host._live else None
        ext = actor._ext if actor is not None else None
        if ext is None or not ext.conns:
            return None
        return ext.conns.get(conn_id)
