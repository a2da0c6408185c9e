"""An actor's durable queues, as its ``run`` loop (or an action) sees them.

Delivery: **at least once, one message at a time, in send order per actor;
a message is deleted only when completed** - explicitly with
:meth:`QueueMessage.complete`, or implicitly when the consumer asks for the
next one. A message in flight when the actor sleeps, is destroyed or its
process dies is delivered again on the next wake.

Senders: ``handle.send(queue, body)`` returns once the message is durable;
``handle.enqueue_and_wait(queue, body)`` also waits for ``complete(reply)``
and returns the reply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from .codec import pack, unpack
from .errors import ActorTimeout
from .keys import MODE_GET_OR_CREATE

if TYPE_CHECKING:
    from .definition import Actor
    from .host import ActorHost

__all__ = ["ActorQueue", "QueueMessage", "QueueService"]


class QueueMessage:
    """One delivered message; ``body`` is what the sender sent (after msgpack)."""

    __slots__ = ("_actor", "body", "done", "queue", "seq")

    def __init__(self, actor: Actor, seq: int, queue: str, body: Any) -> None:
        self._actor = actor
        self.seq = seq
        self.queue = queue
        self.body = body
        self.done = False

    async def complete(self, reply: Any = None) -> None:
        """Delete the message (durably) and hand ``reply`` to an ``enqueue_and_wait`` sender."""
        await self._actor._host.queues.complete(self._actor, self, reply)

    def __repr__(self) -> str:
        return f"<QueueMessage {self.seq} {self.queue!r}>"


def _names(names: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str):
        return (names,)
    return tuple(names)


class ActorQueue:
    """``self.queue`` of an actor. Waiting here counts as idle: the actor may sleep."""

    __slots__ = ("_actor",)

    def __init__(self, actor: Actor) -> None:
        self._actor = actor

    async def next(
        self, names: str | Sequence[str] | None = None, *, timeout: float | None = None
    ) -> QueueMessage | None:
        """The next message (of the named queues, if given); None after ``timeout`` seconds.

        Completes the previous message first if it was not completed yet.
        """
        return await self._actor._host.queues.next(self._actor, _names(names), timeout)

    async def iter(self, names: str | Sequence[str] | None = None) -> AsyncIterator[QueueMessage]:
        """Messages forever; each is completed when the loop body asks for the next one."""
        wanted = _names(names)
        queues = self._actor._host.queues
        while True:
            msg = await queues.next(self._actor, wanted, None)
            if msg is not None:
                yield msg

    def depth(self) -> int:
        """Messages waiting (including one in flight)."""
        actor = self._actor
        return actor._host.store.queue_depth(type(actor).name, actor._key)


class QueueService:
    """The host side of queues: storing, handing out and completing messages."""

    def __init__(self, host: ActorHost) -> None:
        self.host = host
        #: enqueue_and_wait senders by message sequence: (future, name, key).
        self._replies: dict[int, tuple[asyncio.Future[Any], str, str]] = {}

    def fail_waiters(self, name: str, key: str, error: Exception) -> None:
        """The actor was destroyed: its waiting senders get ``error``."""
        for seq, (fut, n, k) in list(self._replies.items()):
            if (n, k) == (name, key):
                del self._replies[seq]
                if not fut.done():
                    fut.set_exception(error)

    def fail_all(self, error: Exception) -> None:
        replies, self._replies = self._replies, {}
        for fut, _, _ in replies.values():
            if not fut.done():
                fut.set_exception(error)

    async def enqueue(
        self,
        name: str,
        key: str,
        queue: str,
        body: Any,
        *,
        mode: int = MODE_GET_OR_CREATE,
        input: Any = None,
        nonce: str | None = None,
        wait: bool = False,
        timeout: float | None = None,
    ) -> Any:
        """Store a message for the actor's queue (durably); with ``wait``, return its reply."""
        host = self.host
        data = pack(body)
        cls = host._def(name)
        actor = await host.acquire(cls, key, mode, input, nonce)
        reply: asyncio.Future[Any] | None = None
        try:
            seq = host.store.queue_insert(name, key, queue, data)
            if wait:
                reply = asyncio.get_running_loop().create_future()
                self._replies[seq] = (reply, name, key)
            await host.store.durable()
            ext = actor._ext
            if ext is not None and ext.q_waiter is not None and not ext.q_waiter.done():
                ext.q_waiter.set_result(None)
        finally:
            host._release(actor)
        if reply is None:
            return seq
        try:
            async with asyncio.timeout(timeout):
                return await reply
        except TimeoutError:
            raise ActorTimeout(f"no reply from {name} within {timeout}s") from None
        finally:
            self._replies.pop(seq, None)

    async def next(
        self, actor: Actor, names: tuple[str, ...] | None, timeout: float | None
    ) -> QueueMessage | None:
        """The next message for ``actor`` (see :meth:`ActorQueue.next`)."""
        host = self.host
        ext = host._ext(actor)
        previous = ext.q_inflight
        if previous is not None and not previous.done:
            await self.complete(actor, previous, None)
        name, key = type(actor).name, actor._key
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            row = host.store.queue_next(name, key, names, 0)
            if row is not None:
                msg = QueueMessage(actor, row[0], row[1], unpack(row[2]))
                ext.q_inflight = msg
                return msg
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            if ext.q_waiter is not None:
                raise RuntimeError("only one consumer may wait on an actor's queue")
            waiter = ext.q_waiter = loop.create_future()
            host._mark_dirty(actor)  # run() reached a resting point: save what it did
            host._release(actor)  # waiting on the queue is idle
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                return None
            finally:
                ext.q_waiter = None
                actor._busy += 1

    async def complete(self, actor: Actor, msg: QueueMessage, reply: Any) -> None:
        host = self.host
        if msg.done:
            return
        msg.done = True
        ext = actor._ext
        if ext is not None and ext.q_inflight is msg:
            ext.q_inflight = None
        host.store.queue_delete(msg.seq)
        await host.store.durable()
        entry = self._replies.pop(msg.seq, None)
        if entry is not None and not entry[0].done():
            entry[0].set_result(reply)
