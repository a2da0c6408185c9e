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

from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .definition import Actor

__all__ = ["ActorQueue", "QueueMessage"]


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
        await self._actor._host._queue_complete(self._actor, self, reply)

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
        return await self._actor._host._queue_next(self._actor, _names(names), timeout)

    async def iter(self, names: str | Sequence[str] | None = None) -> AsyncIterator[QueueMessage]:
        """Messages forever; each is completed when the loop body asks for the next one."""
        wanted = _names(names)
        host = self._actor._host
        while True:
            msg = await host._queue_next(self._actor, wanted, None)
            if msg is not None:
                yield msg

    def depth(self) -> int:
        """Messages waiting (including one in flight)."""
        actor = self._actor
        return actor._host.store.queue_depth(type(actor).name, actor._key)
