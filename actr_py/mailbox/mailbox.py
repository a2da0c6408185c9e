"""The asyncio face of the mailbox: the bookkeeping of :mod:`.core` made durable.

Every method decides in memory first (cheap, synchronous), queues the matching
SQLite statements with the group committer, and changes what consumers can see
only after that transaction committed. See ``docs/mailbox.md`` for the
guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any

from ..errors import StateError
from .commit import GroupCommitter
from .core import MailboxCore, Record, RecordState, Verdict
from .dedup import DedupWindow
from .store import Store
from .types import (
    Admission,
    DeadLetter,
    EnqueueResult,
    MailboxEntry,
    MailboxFull,
    MailboxStats,
    priority_for,
)

__all__ = ["Mailbox", "WaterMarkCallback"]

log = logging.getLogger(__name__)

#: ``callback(depth, capacity)``; called on the loop, must not block.
WaterMarkCallback = Callable[[int, int], None]

#: Category used when a row was left in flight by more crashes than attempts allow.
ABANDONED = "abandoned"

_PENDING, _COMMITTED, _ABORTED = 0, 1, 2

_ACCEPTED = Admission.ACCEPTED
#: Builds the result tuple without the named tuple's Python-level __new__.
_new_result = tuple.__new__


#: (record, answer token, answer time, response, next delivery taken or None)
_CompleteArg = tuple[Record, int, float, "bytes | None", "tuple[Record, bytes | None] | None"]


def _insert(store: Store, arg: tuple[Record, bytes]) -> None:
    rec, envelope = arg
    store.insert(
        rec.seq,
        rec.priority,
        rec.sender,
        rec.payload_type,
        rec.request_id,
        envelope,
        rec.enqueued_at,
    )


def _mark(store: Store, taken: tuple[Record, bytes | None]) -> bytes | None:
    rec, envelope = taken
    return store.mark_in_flight(rec.seq, rec.attempts, envelope is None)


def _complete(store: Store, arg: _CompleteArg) -> bytes | None:
    rec, token, at, response, taken = arg
    store.complete(rec.seq, token, rec.sender, rec.request_id, response, at)
    if taken is None:
        return None
    nxt, envelope = taken
    return store.mark_in_flight(nxt.seq, nxt.attempts, envelope is None)


class _Delivery:
    """What became of one ``next()``'s in-flight mark, for a consumer cancelled meanwhile."""

    __slots__ = ("abandoned", "state")

    def __init__(self) -> None:
        self.state = _PENDING
        self.abandoned = False


class Mailbox:
    """A durable, prioritised, deduplicating inbox for one actor.

    Create with :meth:`open`. One event loop uses it; several consumers may hold
    messages at once and settle them in any order.
    """

    def __init__(
        self,
        store: Store,
        core: MailboxCore,
        committer: GroupCommitter,
        *,
        dead_letters: int,
        on_backpressure: WaterMarkCallback | None,
        on_drained: WaterMarkCallback | None,
    ) -> None:
        self._store = store
        self._core = core
        self._commit = committer
        self._clock = core.clock
        self._waiters: deque[asyncio.Future[None]] = deque()
        #: Deliveries already marked in flight, for the next calls to next().
        self._marked: deque[tuple[Record, bytes]] = deque()
        self._unclaimed_check = False
        self._closed = False
        self._on_backpressure = on_backpressure
        self._on_drained = on_drained
        self._dead_count = dead_letters
        self._forgotten_upto = core.dedup.evicted_upto
        self._forget_queued = False
        self._accepted = 0
        self._completed = 0
        self._failed = 0
        self._dead_lettered = 0
        self._duplicates = 0
        self._rejected_full = 0

    # ---- lifecycle ----------------------------------------------------------

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        capacity: int = 10_000,
        low_water: int | None = None,
        max_attempts: int = 3,
        dedup_entries: int = 10_000,
        dedup_max_age: float = 300.0,
        memory_budget: int = 64 << 20,
        on_backpressure: WaterMarkCallback | None = None,
        on_drained: WaterMarkCallback | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Mailbox:
        """Open (or create) the mailbox file at ``path`` and recover it.

        Rows a crash left in flight go back to the queue with their attempts
        kept; those already delivered ``max_attempts`` times become dead letters
        (category ``"abandoned"``). ``low_water`` defaults to half the capacity.
        ``clock`` is wall-clock seconds: answered times must mean the same after
        a restart.
        """
        store = Store(os.fspath(path))
        try:
            dedup = DedupWindow(dedup_entries, dedup_max_age, clock)
            core = MailboxCore(
                capacity=capacity,
                max_attempts=max_attempts,
                low_water=capacity // 2 if low_water is None else low_water,
                dedup=dedup,
                clock=clock,
                memory_budget=memory_budget,
            )
            cls._recover(store, core, clock)
            dead = store.count_dead()
            committer = GroupCommitter(store)
        except BaseException:
            store.close()
            raise
        box = cls(
            store,
            core,
            committer,
            dead_letters=dead,
            on_backpressure=on_backpressure,
            on_drained=on_drained,
        )
        box._housekeep()
        return box

    @staticmethod
    def _recover(store: Store, core: MailboxCore, clock: Callable[[], float]) -> None:
        core.note_seq(store.max_seq())
        core.dedup.load(store.load_answered())
        store.begin()
        try:
            store.forget_upto(core.dedup.evicted_upto)
            for row in store.load_messages():
                if row.in_flight and core.abandoned_too_often(row.attempts):
                    store.to_dead(
                        row.seq,
                        row.attempts,
                        ABANDONED,
                        f"delivered {row.attempts} times, never finished; in flight when"
                        " the process stopped",
                        clock(),
                    )
                    continue
                core.restore(
                    Record(
                        row.seq,
                        row.priority,
                        row.sender,
                        row.payload_type,
                        row.request_id,
                        None,
                        row.attempts,
                        row.enqueued_at,
                        RecordState.QUEUED,
                    )
                )
            store.requeue_in_flight()
            store.commit()
        except BaseException:
            store.rollback()
            raise

    async def close(self) -> None:
        """Commit what is queued and close the file; idempotent.

        Messages still in flight stay marked so; the next open requeues them
        as after a crash, so drain the consumers first for a clean stop.
        """
        if self._closed:
            return
        self._closed = True
        while self._marked:
            self._release(self._marked.popleft()[0])
        closed = StateError("mailbox closed")
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(closed)
        try:
            await self._commit.drain()
        finally:
            self._commit.close()
            self._store.close()

    async def __aenter__(self) -> Mailbox:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ---- producing ----------------------------------------------------------

    async def enqueue(
        self,
        *,
        sender: str,
        payload_type: int,
        request_id: str,
        envelope: bytes,
        priority: int | None = None,
    ) -> EnqueueResult:
        """Store a message durably; return once it is committed ("accepted").

        ``priority`` defaults to :func:`priority_for(payload_type)
        <actr_py.mailbox.priority_for>`. Raises :class:`MailboxFull` (503)
        when ``capacity`` messages are held. A (sender, request_id) already
        held is not stored again (``PENDING``); one answered inside the dedup
        window comes back ``ANSWERED`` with the remembered reply.
        """
        if self._closed:
            raise StateError("mailbox closed")
        core = self._core
        verdict = core.admit(sender, request_id)
        if verdict is not Verdict.ACCEPT:
            return await self._not_admitted(verdict, sender, request_id)
        if priority is None:
            priority = priority_for(payload_type)
        rec = core.reserve(sender, request_id, priority, payload_type, envelope)
        if core.events or core.dedup.evicted_upto > self._forgotten_upto:
            self._housekeep()
        entry = rec.entry(envelope)
        await self._commit.submit(_insert, (rec, envelope), self._accepted_cb, self._refused_cb)
        return _new_result(EnqueueResult, (_ACCEPTED, entry, None))

    async def _not_admitted(self, verdict: Verdict, sender: str, request_id: str) -> EnqueueResult:
        self._housekeep()
        if verdict is Verdict.FULL:
            self._rejected_full += 1
            raise MailboxFull(self._core.depth, self._core.capacity)
        self._duplicates += 1
        if verdict is Verdict.PENDING:
            return EnqueueResult(Admission.PENDING)
        token = self._core.dedup.lookup((sender, request_id))
        # Queued behind any pending eviction, so the row is still there to read.
        response = await self._commit.submit(Store.lookup_answer, token)
        return EnqueueResult(Admission.ANSWERED, duplicate_response=response)

    def _accepted_cb(self, arg: tuple[Record, bytes], _: None) -> None:
        self._accepted += 1
        self._core.accepted(arg[0])
        if self._waiters:
            self._wake()

    def _refused_cb(self, arg: tuple[Record, bytes]) -> None:
        self._core.refused(arg[0])
        self._housekeep()

    # ---- consuming ----------------------------------------------------------

    async def next(self) -> MailboxEntry:
        """Wait for the next message and mark it in flight (durably, as an attempt).

        Highest priority first, then arrival order. Waiting costs nothing:
        consumers sleep until a commit makes a message available.
        """
        core = self._core
        marked = self._marked
        while True:
            if self._closed:
                raise StateError("mailbox closed")
            if marked:
                rec, envelope = marked[0]
                head = core.ready.peek() if core.ready.size else None
                # A message that arrived or came back since it was marked may outrank it.
                if head is None or (-rec.priority, rec.seq) < (-head.priority, head.seq):
                    marked.popleft()
                    return rec.entry(envelope)
            taken = core.take()
            if taken is not None:
                break
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.cancelled():
                    with contextlib.suppress(ValueError):  # close() may have emptied it
                        self._waiters.remove(waiter)
                else:
                    # Woken but cancelled before running: pass the wake-up on.
                    self._wake()
                raise
        rec, envelope = taken
        delivery = _Delivery()

        def committed(_: object, __: object) -> None:
            delivery.state = _COMMITTED
            if delivery.abandoned:
                self._release(rec)

        def aborted(_: object) -> None:
            delivery.state = _ABORTED
            self._untake(rec)

        done = self._commit.submit(_mark, taken, committed, aborted)
        try:
            read = await done
        except asyncio.CancelledError:
            # Nobody will see this delivery: hand the message back, now or on commit.
            if delivery.state == _PENDING:
                delivery.abandoned = True
            elif delivery.state == _COMMITTED:
                self._release(rec)
            raise
        return rec.entry(read if envelope is None else envelope)

    def _untake(self, rec: Record) -> None:
        self._core.untake(rec)
        self._wake()

    def _premarked(self, rec: Record, envelope: bytes) -> None:
        """A delivery marked in flight ahead of demand, along with an ack.

        The next ``next()`` returns it without a commit of its own. One still
        unclaimed when the consumers woken by that commit have run goes back to
        the queue, so it stays counted for no longer than a delivery waiting
        for its consumer to start, and a waiting consumer is woken to take it.
        """
        if self._closed:  # its ack was committing when close() began
            self._release(rec)
            return
        self._marked.append((rec, envelope))
        if self._waiters:
            self._wake()
        if not self._unclaimed_check:
            self._unclaimed_check = True
            self._commit.after_batch(self._give_back_unclaimed)

    def _give_back_unclaimed(self) -> None:
        self._unclaimed_check = False
        marked = self._marked
        if marked and not self._closed:
            while marked:
                self._release(marked.popleft()[0])
            self._commit.kick()

    def _release(self, rec: Record) -> None:
        """Undo a delivery whose consumer went away before seeing it."""
        self._core.untake(rec)
        self._commit.defer(Store.unmark, rec.seq)
        self._wake()

    def _wake(self) -> None:
        waiters = self._waiters
        while waiters:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    # ---- settling -----------------------------------------------------------

    async def complete(self, entry: MailboxEntry, response: bytes | None) -> None:
        """Acknowledge: delete the message and remember ``response`` for dedup.

        Call it after the reply was handed on (``None`` for tells). Returns once
        durable; from then on a retry of the request gets ``response`` back.
        """
        if self._closed:
            raise StateError("mailbox closed")
        core = self._core
        rec = core.settle(entry.seq, entry.attempts)
        # The consumer will most likely ask for the next message as soon as this
        # returns: mark it in flight in this same transaction (see _premarked).
        taken = core.take()
        await self._commit.submit(
            _complete,
            (rec, core.dedup.reserve_token(), self._clock(), response, taken),
            self._completed_cb,
            self._complete_aborted,
        )

    def _completed_cb(self, arg: _CompleteArg, read: bytes | None) -> None:
        rec, token, at, _, taken = arg
        self._completed += 1
        core = self._core
        core.completed(rec, token, at)
        if taken is not None:
            nxt, envelope = taken
            self._premarked(nxt, read if envelope is None else envelope)
        if core.events or (
            core.dedup.evicted_upto > self._forgotten_upto and not self._forget_queued
        ):
            self._housekeep()

    def _complete_aborted(self, arg: _CompleteArg) -> None:
        self._core.unsettle(arg[0])
        taken = arg[4]
        if taken is not None:
            self._untake(taken[0])

    async def fail(self, entry: MailboxEntry, category: str, message: str) -> bool:
        """Record a failed attempt; True when that was the last and it is now a dead letter.

        Otherwise the message goes back to its original queue position.
        """
        self._check_open()
        core = self._core
        rec = core.settle(entry.seq, entry.attempts)
        self._failed += 1
        if core.exhausted(rec):
            await self._to_dead(rec, category, message)
            return True
        seq, attempts = rec.seq, rec.attempts

        def committed(_: object, __: object) -> None:
            core.requeued(rec)
            self._wake()

        await self._commit.submit(
            lambda s, _: s.requeue(seq, attempts), None, committed, lambda _: core.unsettle(rec)
        )
        return False

    async def release(self, entry: MailboxEntry) -> None:
        """Give back a message no handler has seen; the delivery is not counted.

        For a consumer that took a message and then could not start it (the
        node is stopping); it returns to its original queue position.
        """
        self._check_open()
        core = self._core
        rec = core.settle(entry.seq, entry.attempts)

        def committed(_: object, __: object) -> None:
            core.unsettle(rec)
            core.untake(rec)
            self._wake()

        await self._commit.submit(Store.unmark, rec.seq, committed, lambda _: core.unsettle(rec))

    async def dead_letter(self, entry: MailboxEntry, category: str, message: str) -> int:
        """Move an in-flight message to dead letters now, whatever its attempts.

        For messages that can never succeed (undecodable, unknown route).
        Returns the dead letter's id.
        """
        self._check_open()
        rec = self._core.settle(entry.seq, entry.attempts)
        return await self._to_dead(rec, category, message)

    async def dead_letter_raw(
        self,
        envelope: bytes,
        *,
        sender: str,
        payload_type: int,
        category: str,
        message: str,
        request_id: str = "",
        priority: int | None = None,
    ) -> int:
        """Keep bytes that never became a message (e.g. an undecodable envelope).

        They are listed like any dead letter but cannot be redriven.
        """
        self._check_open()
        prio = priority_for(payload_type) if priority is None else priority
        at = self._clock()

        def committed(_: object, __: object) -> None:
            self._dead_count += 1
            self._dead_lettered += 1

        return await self._commit.submit(
            lambda s, _: s.raw_dead(
                prio, sender, payload_type, request_id, envelope, category, message, at
            ),
            None,
            committed,
        )

    async def _to_dead(self, rec: Record, category: str, message: str) -> int:
        core = self._core
        seq, attempts, at = rec.seq, rec.attempts, self._clock()

        def committed(_: object, __: object) -> None:
            self._dead_count += 1
            self._dead_lettered += 1
            core.dead(rec)
            self._housekeep()

        return await self._commit.submit(
            lambda s, _: s.to_dead(seq, attempts, category, message, at),
            None,
            committed,
            lambda _: core.unsettle(rec),
        )

    # ---- dead letters -------------------------------------------------------

    async def list_dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        self._check_open()
        return await self._commit.submit(lambda s, _: s.list_dead(limit, offset))

    async def get_dead_letter(self, dead_id: int) -> DeadLetter | None:
        self._check_open()
        return await self._commit.submit(Store.get_dead, dead_id)

    async def redrive(self, dead_id: int | None = None) -> int:
        """Put dead letters back at the tail of the queue with attempts reset.

        ``None`` moves every redrivable one that fits under ``capacity``;
        a given id raises :class:`MailboxFull` when there is no room. Dead
        letters whose (sender, request_id) is held again right now, and raw
        ones, stay. Returns how many moved.
        """
        self._check_open()
        core = self._core
        candidates = await self._commit.submit(Store.redrive_candidates, dead_id)
        self._check_open()
        reserved: dict[int, Record] = {}
        for cand in candidates:
            if (cand.sender, cand.request_id) in core.pending:
                continue
            if core.depth >= core.capacity:
                if dead_id is not None:
                    raise MailboxFull(core.depth, core.capacity)
                break
            reserved[cand.id] = core.reserve(
                cand.sender,
                cand.request_id,
                cand.priority,
                cand.payload_type,
                None,
                enqueued_at=cand.enqueued_at,
            )
        self._housekeep()
        if not reserved:
            return 0
        moves = [(rec.seq, dead) for dead, rec in reserved.items()]

        def committed(_: object, moved: list[int]) -> None:
            done = set(moved)
            for dead, rec in reserved.items():
                if dead in done:
                    core.accepted(rec)
                    self._wake()
                else:  # purged meanwhile
                    core.refused(rec)
            self._dead_count -= len(moved)
            self._housekeep()

        def aborted(_: object) -> None:
            for rec in reserved.values():
                core.refused(rec)
            self._housekeep()

        moved = await self._commit.submit(Store.redrive, moves, committed, aborted)
        return len(moved)

    async def purge(self, dead_id: int | None = None) -> int:
        """Delete one dead letter, or all with ``None``; returns how many."""
        self._check_open()

        def committed(_: object, n: int) -> None:
            self._dead_count -= n

        return await self._commit.submit(Store.purge, dead_id, committed)

    # ---- views --------------------------------------------------------------

    def depth(self) -> int:
        """Messages held: queued, in flight, or accepted and committing."""
        return self._core.depth

    def in_flight(self) -> int:
        """Messages handed out and not settled (those marked ahead of demand are queued)."""
        return len(self._core.in_flight) - len(self._marked)

    @property
    def capacity(self) -> int:
        return self._core.capacity

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> MailboxStats:
        core = self._core
        return MailboxStats(
            capacity=core.capacity,
            depth=core.depth,
            queued=len(core.ready) + len(self._marked),
            in_flight=len(core.in_flight) - len(self._marked),
            dead_letters=self._dead_count,
            remembered=len(core.dedup),
            accepted=self._accepted,
            completed=self._completed,
            failed=self._failed,
            dead_lettered=self._dead_lettered,
            duplicates=self._duplicates,
            rejected_full=self._rejected_full,
            commits=self._commit.commits,
            operations=self._commit.operations,
            longest_commit=self._commit.longest,
        )

    # ---- internals ----------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StateError("mailbox closed")

    def _housekeep(self) -> None:
        """Report water-mark crossings and drop evicted dedup rows with the next batch."""
        core = self._core
        if core.dedup.evicted_upto > self._forgotten_upto and not self._forget_queued:
            # One range delete per batch, up to whatever was evicted when it runs.
            self._forget_queued = True
            self._commit.defer(self._forget)
        if core.events:
            for kind, depth in core.take_events():
                callback = self._on_backpressure if kind == "full" else self._on_drained
                if callback is not None:
                    self._safe_call(callback, depth, core.capacity)

    def _forget(self, store: Store, _: None) -> None:
        self._forget_queued = False
        upto = self._core.dedup.evicted_upto
        if upto > self._forgotten_upto:
            # A rolled-back batch needs no retry: the next range covers it.
            store.forget_upto(upto)
            self._forgotten_upto = upto

    @staticmethod
    def _safe_call(callback: WaterMarkCallback, *args: Any) -> None:
        try:
            callback(*args)
        except Exception:
            log.exception("mailbox water-mark callback failed")
