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

if TYPE_CHECKING:
    from .definition import Actor

__all__ = ["Connection", "Outbox", "Writer"]

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
