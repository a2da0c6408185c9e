"""The in-memory mailbox: requests wait here for their turn at the workload.

Two FIFO queues, RPC_SIGNAL before RPC_RELIABLE, bounded in total. A full
mailbox refuses with :class:`MailboxFull` (503, retryable) instead of
blocking the wire, because a blocked reader would also hold back the
responses its own node is waiting for. The durable mailbox (``actr_py.mailbox``)
offers the same interface with SQLite underneath.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..ids import ActorId
from ..mailbox.types import MailboxFull
from ..payload_type import PayloadType
from ..proto import package_pb2

__all__ = ["InboundMessage", "MailboxFull", "MemoryMailbox"]


@dataclass(slots=True)
class InboundMessage:
    """A request or tell accepted for the workload."""

    sender: ActorId
    payload_type: PayloadType
    envelope: package_pb2.RpcEnvelope
    #: The durable mailbox's handle for this message (its entry), if any.
    token: Any = field(default=None)
    #: The bytes the envelope arrived as, when it came over a wire (saves a re-encode).
    raw: bytes | None = field(default=None)


_RPC_SIGNAL = PayloadType.RPC_SIGNAL  # a module global costs less than the enum lookup


class MemoryMailbox:
    durable = False

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self._high: deque[InboundMessage] = deque()
        self._normal: deque[InboundMessage] = deque()
        self._waiter: asyncio.Future[None] | None = None
        #: Found on the first wait: on Python 3.11 every get_running_loop()
        #: makes a getpid system call, once per wait on the hot path otherwise.
        self._loop: asyncio.AbstractEventLoop | None = None

    def depth(self) -> int:
        return len(self._high) + len(self._normal)

    async def enqueue(self, msg: InboundMessage) -> bytes | None:
        """Accept ``msg``; raise :class:`MailboxFull` at capacity.

        Returns ``None``: the in-memory mailbox never remembers answers (the
        durable one returns the remembered response of a duplicate here).
        """
        self.put_nowait(msg)
        return None

    def put_nowait(self, msg: InboundMessage) -> None:
        """Synchronous enqueue: the in-process fast path needs no await."""
        depth = len(self._high) + len(self._normal)
        if depth >= self.capacity:
            raise MailboxFull(depth, self.capacity)
        if msg.payload_type is _RPC_SIGNAL:
            self._high.append(msg)
        else:
            self._normal.append(msg)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def pop_nowait(self) -> InboundMessage | None:
        """The next message if one waits: the pump's way round a coroutine per message."""
        if self._high:
            return self._high.popleft()
        if self._normal:
            return self._normal.popleft()
        return None

    def arrival(self) -> asyncio.Future[None]:
        """A future done once a message may be waiting; check with :meth:`pop_nowait`.

        The pump waits on it directly: no coroutine per wait.
        """
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        return waiter

    async def next(self) -> InboundMessage:
        while True:
            msg = self.pop_nowait()
            if msg is not None:
                return msg
            await self.arrival()

    async def complete(self, msg: InboundMessage, response: bytes | None) -> None:
        """Acknowledge: nothing to delete in memory."""

    async def fail(self, msg: InboundMessage, category: str, message: str) -> bool:
        """A failed attempt is final in memory (there is no redelivery)."""
        return True

    def drain(self) -> list[InboundMessage]:
        """Take every waiting message (used at shutdown to answer them 503)."""
        out = [*self._high, *self._normal]
        self._high.clear()
        self._normal.clear()
        return out

    async def close(self) -> None:
        pass
