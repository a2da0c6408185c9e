"""The mailbox's bookkeeping without I/O: admission, delivery, attempts, water marks.

The asyncio adapter asks this object what to do, writes the answer to SQLite,
and reports back once the transaction committed; nothing here touches a file or
an event loop, so ordering and accounting are tested with a fake clock.

A message moves RESERVED (accepted, commit pending) -> QUEUED -> IN_FLIGHT and
then leaves (completed or dead-lettered) or goes back to QUEUED (failed attempt).
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from ..errors import StateError
from .dedup import DedupKey, DedupWindow
from .ordering import ReadyQueue
from .types import MailboxEntry

__all__ = ["MailboxCore", "Record", "RecordState", "Verdict"]

_new_entry = tuple.__new__


class RecordState(enum.Enum):
    RESERVED = "reserved"
    QUEUED = "queued"
    IN_FLIGHT = "in_flight"


class Verdict(enum.Enum):
    """The answer to "may this message enter?"."""

    ACCEPT = "accept"
    ANSWERED = "answered"
    PENDING = "pending"
    FULL = "full"


class Record:
    """The mutable in-memory twin of one ``messages`` row.

    ``envelope`` is None when the bytes were not kept in memory (restored on
    open, redriven, or over the memory budget); the adapter reads them from
    SQLite at delivery.
    """

    __slots__ = (
        "attempts",
        "enqueued_at",
        "envelope",
        "key",
        "payload_type",
        "priority",
        "request_id",
        "sender",
        "seq",
        "settling",
        "state",
    )

    def __init__(
        self,
        seq: int,
        priority: int,
        sender: str,
        payload_type: int,
        request_id: str,
        envelope: bytes | None,
        attempts: int,
        enqueued_at: float,
        state: RecordState,
    ) -> None:
        self.seq = seq
        self.priority = priority
        self.sender = sender
        self.payload_type = payload_type
        self.request_id = request_id
        self.envelope = envelope
        self.attempts = attempts
        self.enqueued_at = enqueued_at
        self.state = state
        #: complete/fail/dead_letter was called and its commit is pending.
        self.settling = False
        self.key: DedupKey = (sender, request_id)

    def entry(self, envelope: bytes) -> MailboxEntry:
        # tuple.__new__ skips the Python-level __new__ of the named tuple: this
        # runs twice per message.
        return _new_entry(
            MailboxEntry,
            (
                self.seq,
                self.priority,
                self.sender,
                self.payload_type,
                self.request_id,
                envelope,
                self.attempts,
                self.enqueued_at,
            ),
        )

    def __repr__(self) -> str:
        return f"Record({self.seq}, prio={self.priority}, {self.state.value}, n={self.attempts})"


class MailboxCore:
    """Admission, order, attempts and water marks for one mailbox.

    ``depth`` is every message not yet finished (reserved, queued, in flight);
    ``capacity`` bounds it. Crossing ``capacity`` upwards and then
    ``low_water`` downwards appends ``("full", depth)`` and ``("drained",
    depth)`` to :attr:`events`, once per crossing, for the adapter to report.
    """

    def __init__(
        self,
        *,
        capacity: int,
        max_attempts: int,
        low_water: int,
        dedup: DedupWindow,
        clock: Callable[[], float],
        memory_budget: int = 64 << 20,
    ) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        if max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0 <= low_water < capacity:
            raise ValueError("low_water must be in [0, capacity)")
        self.capacity = capacity
        self.max_attempts = max_attempts
        self.low_water = low_water
        self.dedup = dedup
        self.clock = clock
        self.ready: ReadyQueue[Record] = ReadyQueue()
        self.in_flight: dict[int, Record] = {}
        #: Every held message by (sender, request_id): one copy at a time.
        self.pending: dict[DedupKey, Record] = {}
        self.next_seq = 1
        self.saturated = False
        self.events: list[tuple[str, int]] = []
        #: Envelope bytes of queued messages kept in RAM; beyond the budget
        #: they are read back from SQLite at delivery instead.
        self.memory_budget = memory_budget
        self.cached_bytes = 0

    # ---- views --------------------------------------------------------------

    @property
    def depth(self) -> int:
        return len(self.pending)

    # ---- restore ------------------------------------------------------------

    def restore(self, rec: Record) -> None:
        """Take back a row found on open; the caller already requeued in-flight rows."""
        rec.state = RecordState.QUEUED
        self.pending[rec.key] = rec
        self.ready.push(rec.priority, rec.seq, rec)
        self.next_seq = max(self.next_seq, rec.seq + 1)
        self._check_water()

    def abandoned_too_often(self, attempts: int) -> bool:
        """A row left in flight by a crash whose deliveries are used up.

        It was delivered ``attempts`` times and never finished; the likeliest
        reason is that it kills the process, so it must not be tried again.
        """
        return attempts >= self.max_attempts

    def note_seq(self, seq: int) -> None:
        """Never reuse a sequence number still visible in SQLite."""
        self.next_seq = max(self.next_seq, seq + 1)

    # ---- admission ----------------------------------------------------------

    def admit(self, sender: str, request_id: str) -> Verdict:
        key = (sender, request_id)
        if key in self.pending:
            return Verdict.PENDING
        if self.dedup.lookup(key) is not None:
            return Verdict.ANSWERED
        if len(self.pending) >= self.capacity:
            return Verdict.FULL
        return Verdict.ACCEPT

    def reserve(
        self,
        sender: str,
        request_id: str,
        priority: int,
        payload_type: int,
        envelope: bytes | None,
        *,
        enqueued_at: float | None = None,
    ) -> Record:
        """Hold a slot and a sequence number until the insert commits.

        The envelope is kept in memory only while the budget allows.
        """
        if envelope is not None:
            if self.cached_bytes + len(envelope) <= self.memory_budget:
                self.cached_bytes += len(envelope)
            else:
                envelope = None
        rec = Record(
            self.next_seq,
            priority,
            sender,
            payload_type,
            request_id,
            envelope,
            0,
            self.clock() if enqueued_at is None else enqueued_at,
            RecordState.RESERVED,
        )
        self.next_seq += 1
        pending = self.pending
        pending[rec.key] = rec
        if len(pending) >= self.capacity and not self.saturated:
            self._check_water()
        return rec

    def accepted(self, rec: Record) -> None:
        """The insert committed: the message may now be delivered."""
        rec.state = RecordState.QUEUED
        self.ready.push(rec.priority, rec.seq, rec)

    def refused(self, rec: Record) -> None:
        """The insert did not commit: give the slot back."""
        self._forget(rec)

    # ---- delivery -----------------------------------------------------------

    def take(self) -> tuple[Record, bytes | None] | None:
        """Next message to deliver, counted as an attempt, with its cached envelope.

        The record gives up the cached bytes: the delivered entry holds them
        now, and a redelivery reads them back from SQLite. None when empty.
        """
        if not self.ready.size:
            return None
        rec = self.ready.pop()
        envelope = rec.envelope
        if envelope is not None:
            self.cached_bytes -= len(envelope)
            rec.envelope = None
        rec.state = RecordState.IN_FLIGHT
        rec.attempts += 1
        self.in_flight[rec.seq] = rec
        return rec, envelope

    def untake(self, rec: Record) -> None:
        """A delivery that never reached a consumer: not an attempt."""
        del self.in_flight[rec.seq]
        rec.attempts -= 1
        rec.state = RecordState.QUEUED
        self.ready.push(rec.priority, rec.seq, rec)

    def settle(self, seq: int, attempts: int) -> Record:
        """Claim the in-flight record for complete/fail; exactly one claim wins."""
        rec = self.in_flight.get(seq)
        if rec is None or rec.attempts != attempts:
            raise StateError(f"message {seq} (attempt {attempts}) is not in flight")
        if rec.settling:
            raise StateError(f"message {seq} is already being completed or failed")
        rec.settling = True
        return rec

    def unsettle(self, rec: Record) -> None:
        rec.settling = False

    def exhausted(self, rec: Record) -> bool:
        """After a failed attempt: True means dead-letter, False means retry."""
        return rec.attempts >= self.max_attempts

    def completed(self, rec: Record, token: int, at: float | None = None) -> None:
        """Answered: gone from the queue, remembered for dedup under ``token``."""
        del self.in_flight[rec.seq]
        self._forget(rec)
        self.dedup.remember(rec.key, token, at)

    def requeued(self, rec: Record) -> None:
        del self.in_flight[rec.seq]
        rec.settling = False
        rec.state = RecordState.QUEUED
        self.ready.push(rec.priority, rec.seq, rec)

    def dead(self, rec: Record) -> None:
        """Moved to dead letters. Not remembered: a later retry is a new attempt."""
        del self.in_flight[rec.seq]
        self._forget(rec)

    # ---- internals ----------------------------------------------------------

    def _forget(self, rec: Record) -> None:
        pending = self.pending
        del pending[rec.key]
        if rec.envelope is not None:
            self.cached_bytes -= len(rec.envelope)
            rec.envelope = None
        if self.saturated and len(pending) <= self.low_water:
            self._check_water()

    def _check_water(self) -> None:
        depth = len(self.pending)
        if not self.saturated:
            if depth >= self.capacity:
                self.saturated = True
                self.events.append(("full", depth))
        elif depth <= self.low_water:
            self.saturated = False
            self.events.append(("drained", depth))

    def take_events(self) -> list[tuple[str, int]]:
        out, self.events = self.events, []
        return out
