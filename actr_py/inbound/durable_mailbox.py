"""The scheduler's view of the durable SQLite mailbox (``actr_py.mailbox``).

Same interface as :class:`MemoryMailbox`, so the scheduler does not care
which one it has. Messages are stored as the envelope bytes and parsed again
only after a restart: while the process lives, the parsed envelope of a small
message is kept beside the row (a large one is parsed again rather than held
twice in memory).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from google.protobuf.message import DecodeError

from ..errors import ProtocolError
from ..ids import ActorId
from ..mailbox import Admission, DeadLetter, Mailbox, MailboxStats, WaterMarkCallback
from ..payload_type import PayloadType
from ..proto import package_pb2
from ..protocol.envelope import check_envelope
from .mailbox import InboundMessage

__all__ = ["DurableMailbox"]

log = logging.getLogger("actr_py.mailbox")

#: Envelopes up to this size stay parsed in memory while queued.
_KEEP_PARSED = 64 * 1024


class DurableMailbox:
    durable = True

    def __init__(self, box: Mailbox) -> None:
        self.box = box
        self._parsed: dict[int, InboundMessage] = {}

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        capacity: int,
        max_attempts: int,
        on_backpressure: WaterMarkCallback | None = None,
    ) -> DurableMailbox:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        box = await Mailbox.open(
            path, capacity=capacity, max_attempts=max_attempts, on_backpressure=on_backpressure
        )
        return cls(box)

    @property
    def capacity(self) -> int:
        return self.box.capacity

    def depth(self) -> int:
        return self.box.depth()

    async def enqueue(self, msg: InboundMessage) -> bytes | None:
        """Store ``msg`` durably (raises MailboxFull, 503, when full).

        Returns the remembered reply when the request was already answered.
        """
        env = msg.envelope
        raw = msg.raw if msg.raw is not None else env.SerializeToString()
        result = await self.box.enqueue(
            sender=str(msg.sender),
            payload_type=int(msg.payload_type),
            request_id=env.request_id,
            envelope=raw,
        )
        if result.admission is Admission.ACCEPTED:
            assert result.entry is not None
            msg.token = result.entry
            if len(raw) <= _KEEP_PARSED:
                self._parsed[result.entry.seq] = msg
            return None
        if result.admission is Admission.ANSWERED:
            return result.duplicate_response
        return None  # PENDING: the same request is queued or running; its reply will come

    async def next(self) -> InboundMessage:
        while True:
            entry = await self.box.next()
            msg = self._parsed.pop(entry.seq, None)
            if msg is not None:
                msg.token = entry
                return msg
            try:
                return _restore(entry)  # rows from before a restart
            except (ProtocolError, ValueError, DecodeError) as exc:
                await self.box.dead_letter(entry, "undecodable", str(exc))
                log.warning("stored message %s is undecodable: %s", entry.seq, exc)

    async def complete(self, msg: InboundMessage, response: bytes | None) -> None:
        await self.box.complete(msg.token, response)

    async def fail(self, msg: InboundMessage, category: str, message: str) -> bool:
        """Record a failed attempt; True when the message moved to dead letters."""
        return await self.box.fail(msg.token, category, message)

    async def release(self, msg: InboundMessage) -> None:
        """Hand back a message no handler saw (shutdown), without counting an attempt."""
        self._parsed[msg.token.seq] = msg
        await self.box.release(msg.token)

    async def dead_letter(self, msg: InboundMessage, category: str, message: str) -> None:
        await self.box.dead_letter(msg.token, category, message)

    def drain(self) -> list[InboundMessage]:
        """Nothing to hand back: waiting messages stay stored for the next start."""
        return []

    async def close(self) -> None:
        self._parsed.clear()
        await self.box.close()

    # ---- dead letters (public through ActrRef.mailbox) -------------------------

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        return await self.box.list_dead_letters(limit, offset)

    async def get_dead_letter(self, dead_id: int) -> DeadLetter | None:
        return await self.box.get_dead_letter(dead_id)

    async def redrive(self, dead_id: int | None = None) -> int:
        return await self.box.redrive(dead_id)

    async def purge(self, dead_id: int | None = None) -> int:
        return await self.box.purge(dead_id)

    def stats(self) -> MailboxStats:
        return self.box.stats()


def _restore(entry: object) -> InboundMessage:
    env = package_pb2.RpcEnvelope()
    env.ParseFromString(entry.envelope)  # type: ignore[attr-defined]
    if not env.IsInitialized():
        raise ProtocolError("stored envelope misses required fields")
    check_envelope(env)
    return InboundMessage(
        ActorId.parse(entry.sender),  # type: ignore[attr-defined]
        PayloadType(entry.payload_type),  # type: ignore[attr-defined]
        env,
        token=entry,
        raw=entry.envelope,  # type: ignore[attr-defined]
    )
