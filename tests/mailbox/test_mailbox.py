"""The durable mailbox on real SQLite files."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

import pytest

from actr_py.errors import StateError, Unavailable
from actr_py.mailbox import (
    PRIORITY_SIGNAL,
    Admission,
    EnqueueResult,
    Mailbox,
    MailboxEntry,
    MailboxFull,
    MailboxStorageError,
)
from actr_py.payload_type import PayloadType
from tests.support.clock import FakeClock

SIGNAL = int(PayloadType.RPC_SIGNAL)
KIB = b"x" * 1024
RELIABLE = int(PayloadType.RPC_RELIABLE)


async def put(
    mb: Mailbox, rid: str, *, sender: str = "peer", priority: int | None = None, size: int = 16
) -> MailboxEntry:
    res = await mb.enqueue(
        sender=sender,
        payload_type=RELIABLE,
        request_id=rid,
        envelope=(rid.encode() * size)[: max(size, len(rid))],
        priority=priority,
    )
    assert res.admission is Admission.ACCEPTED and res.entry is not None
    return res.entry


async def offer(
    mb: Mailbox, rid: str, *, sender: str = "peer", payload_type: int = RELIABLE
) -> EnqueueResult:
    return await mb.enqueue(sender=sender, payload_type=payload_type, request_id=rid, envelope=b"x")


def rows(path: Path, sql: str) -> list[tuple]:
    """Read the file with a separate connection, as another process would."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def test_roundtrip_enqueue_next_complete(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        stored = await put(mb, "r1")
        assert stored.attempts == 0 and stored.seq == 1
        entry = await mb.next()
        assert entry.request_id == "r1" and entry.envelope == stored.envelope
        assert entry.attempts == 1 and entry.sender == "peer"
        assert mb.depth() == 1 and mb.in_flight() == 1
        await mb.complete(entry, b"reply")
        assert mb.depth() == 0 and mb.in_flight() == 0
        stats = mb.stats()
        assert (stats.accepted, stats.completed, stats.remembered) == (1, 1, 1)
        assert stats.commits == 3 and 0 < stats.longest_commit < 60
    assert rows(db_path, "SELECT count(*) FROM messages") == [(0,)]


async def test_enqueue_returns_only_once_committed(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "r1")
        # A separate connection sees the row: the transaction is in the WAL.
        assert rows(db_path, "SELECT request_id, state FROM messages") == [("r1", "queued")]
        entry = await mb.next()
        assert rows(db_path, "SELECT state, attempts FROM messages") == [("in_flight", 1)]
        await mb.complete(entry, b"ok")
        assert rows(db_path, "SELECT count(*) FROM messages") == [(0,)]
        assert rows(db_path, "SELECT request_id, response FROM answered") == [("r1", b"ok")]


async def test_accepted_messages_survive_close_and_reopen_in_order(db_path: Path) -> None:
    rng = random.Random(3)
    expected = []
    async with await Mailbox.open(db_path) as mb:
        for i in range(60):
            prio = rng.choice([0, 0, PRIORITY_SIGNAL])
            entry = await put(mb, f"r{i}", priority=prio, size=100 + i)
            expected.append(entry)
    expected.sort(key=lambda e: (-e.priority, e.seq))
    async with await Mailbox.open(db_path) as mb:
        assert mb.depth() == 60
        got = [await mb.next() for _ in range(60)]
        # Restored rows carry no envelope in memory: these were read back from the file.
        assert [(e.request_id, e.envelope, e.priority) for e in got] == [
            (e.request_id, e.envelope, e.priority) for e in expected
        ]
        for e in got:
            await mb.complete(e, None)


async def test_in_flight_rows_are_requeued_on_reopen_with_attempts_kept(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for rid in ("a", "b", "c"):
            await put(mb, rid)
        await mb.next()
        await mb.next()
    # close() leaves them marked in flight, exactly as a crash would.
    assert rows(db_path, "SELECT request_id, state, attempts FROM messages ORDER BY seq") == [
        ("a", "in_flight", 1),
        ("b", "in_flight", 1),
        ("c", "queued", 0),
    ]
    async with await Mailbox.open(db_path) as mb:
        assert mb.depth() == 3 and mb.in_flight() == 0
        assert rows(db_path, "SELECT state FROM messages") == [("queued",)] * 3
        got = [await mb.next() for _ in range(3)]
        assert [(e.request_id, e.attempts) for e in got] == [("a", 2), ("b", 2), ("c", 1)]


async def test_message_abandoned_by_every_attempt_becomes_a_dead_letter(db_path: Path) -> None:
    async with await Mailbox.open(db_path, max_attempts=2) as mb:
        await put(mb, "kills-the-process")
        await put(mb, "fine")
        await mb.next()
    async with await Mailbox.open(db_path, max_attempts=2) as mb:
        assert (await mb.next()).attempts == 2
    async with await Mailbox.open(db_path, max_attempts=2) as mb:
        assert mb.depth() == 1
        (dead,) = await mb.list_dead_letters()
        assert (dead.request_id, dead.category) == ("kills-the-process", "abandoned")
        assert dead.attempts == 2
        assert (await mb.next()).request_id == "fine"


async def test_duplicates_of_answered_requests_get_the_remembered_reply(
    db_path: Path, clock: FakeClock
) -> None:
    async with await Mailbox.open(db_path, clock=clock) as mb:
        await put(mb, "call")
        await put(mb, "tell")
        await mb.complete(await mb.next(), b"the answer")
        await mb.complete(await mb.next(), None)
        dup = await offer(mb, "call")
        assert dup.admission is Admission.ANSWERED and dup.duplicate_response == b"the answer"
        assert not dup.accepted and dup.entry is None
        tell = await offer(mb, "tell")
        assert tell.admission is Admission.ANSWERED and tell.duplicate_response is None
        # The same id from another sender is another request.
        assert (await offer(mb, "call", sender="other")).accepted
        assert mb.depth() == 1 and mb.stats().duplicates == 2
    async with await Mailbox.open(db_path, clock=clock) as mb:  # remembered across restarts
        dup = await offer(mb, "call")
        assert dup.duplicate_response == b"the answer"


async def test_request_held_right_now_is_not_stored_twice(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "r")
        again = await offer(mb, "r")
        assert again.admission is Admission.PENDING
        entry = await mb.next()
        again = await offer(mb, "r")
        assert again.admission is Admission.PENDING
        assert mb.depth() == 1
        await mb.complete(entry, b"once")
    assert rows(db_path, "SELECT count(*) FROM answered") == [(1,)]


async def test_dedup_window_forgets_by_count_and_age_in_memory_and_on_disk(
    db_path: Path, clock: FakeClock
) -> None:
    async with await Mailbox.open(db_path, clock=clock, dedup_entries=3, dedup_max_age=60.0) as mb:
        for i in range(5):
            await put(mb, f"r{i}")
            await mb.complete(await mb.next(), f"reply{i}".encode())
        assert mb.stats().remembered == 3
        # r0 and r1 fell out by count: a retry is a new message.
        assert (await offer(mb, "r0")).accepted
        dup = await offer(mb, "r2")
        assert dup.duplicate_response == b"reply2"
        clock.advance(61)
        assert (await offer(mb, "r4")).accepted
        assert mb.stats().remembered == 0
    # The evicted answers were deleted from the file too.
    assert rows(db_path, "SELECT request_id FROM answered") == []


async def test_poison_message_dead_letters_then_list_inspect_redrive_purge(
    db_path: Path, clock: FakeClock
) -> None:
    async with await Mailbox.open(db_path, max_attempts=3, clock=clock) as mb:
        stored = await put(mb, "poison", size=64)
        outcomes = []
        for _ in range(3):
            entry = await mb.next()
            dead = await mb.fail(entry, "handler", f"boom {entry.attempts}")
            outcomes.append((entry.attempts, dead))
        assert outcomes == [(1, False), (2, False), (3, True)]
        assert mb.depth() == 0 and mb.stats().dead_letters == 1

        (dead,) = await mb.list_dead_letters()
        assert (dead.seq, dead.request_id, dead.sender) == (stored.seq, "poison", "peer")
        assert (dead.category, dead.message, dead.attempts) == ("handler", "boom 3", 3)
        assert dead.envelope == stored.envelope and dead.dead_at == clock()
        assert await mb.get_dead_letter(dead.id) == dead
        assert await mb.get_dead_letter(dead.id + 100) is None

        assert await mb.redrive(dead.id) == 1
        assert await mb.list_dead_letters() == []
        entry = await mb.next()
        assert (entry.request_id, entry.attempts, entry.envelope) == ("poison", 1, stored.envelope)
        assert entry.seq > stored.seq  # back at the tail, not ahead of newer messages
        await mb.complete(entry, b"fixed")  # the handler was fixed: it succeeds now

        for rid in ("p1", "p2", "p3"):
            await put(mb, rid)
            await mb.dead_letter(await mb.next(), "undecodable", "bad bytes")
        ids = [d.id for d in await mb.list_dead_letters()]
        assert len(ids) == 3
        assert [d.id for d in await mb.list_dead_letters(limit=1, offset=1)] == ids[1:2]
        assert await mb.purge(ids[0]) == 1
        assert await mb.purge(ids[0]) == 0
        assert await mb.purge() == 2
        assert await mb.list_dead_letters() == [] and mb.stats().dead_letters == 0


async def test_raw_dead_letters_are_kept_but_not_redriven(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        raw_id = await mb.dead_letter_raw(
            b"\xff\x00garbage", sender="peer", payload_type=SIGNAL, category="decode", message="bad"
        )
        await put(mb, "q")
        await mb.dead_letter(await mb.next(), "route", "no such route")
        raw = await mb.get_dead_letter(raw_id)
        assert raw is not None and raw.seq is None and raw.envelope == b"\xff\x00garbage"
        assert raw.priority == PRIORITY_SIGNAL and raw.category == "decode"
        assert await mb.redrive(raw_id) == 0
        assert await mb.redrive() == 1  # only the queued one
        assert [d.id for d in await mb.list_dead_letters()] == [raw_id]
        assert (await mb.next()).request_id == "q"


async def test_fail_requeues_at_the_original_position(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for rid in ("a", "b", "c"):
            await put(mb, rid)
        a = await mb.next()
        b = await mb.next()
        assert await mb.fail(a, "transient", "try again") is False
        assert [(e.request_id, e.attempts) for e in (await mb.next(), await mb.next())] == [
            ("a", 2),
            ("c", 1),
        ]
        assert b.request_id == "b"


async def test_priority_order_holds_under_load(db_path: Path) -> None:
    rng = random.Random(11)
    async with await Mailbox.open(db_path) as mb:
        plan = [(f"r{i}", rng.choice([RELIABLE, RELIABLE, RELIABLE, SIGNAL])) for i in range(2000)]
        results = await asyncio.gather(
            *(
                mb.enqueue(sender=f"s{i % 7}", payload_type=pt, request_id=rid, envelope=KIB)
                for i, (rid, pt) in enumerate(plan)
            )
        )
        stored = [r.entry for r in results]
        assert all(e is not None for e in stored)
        got = []
        while mb.depth():
            entry = await mb.next()
            got.append(entry)
            await mb.complete(entry, None)
        expected = sorted(stored, key=lambda e: (-e.priority, e.seq))  # type: ignore[union-attr]
        assert [e.seq for e in got] == [e.seq for e in expected]  # type: ignore[union-attr]
        signals = sum(pt == SIGNAL for _, pt in plan)
        assert sum(e.priority == PRIORITY_SIGNAL for e in got) == signals > 0


async def test_signal_overtakes_a_backlog_while_consuming(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for i in range(50):
            await put(mb, f"bulk{i}")
        first = await mb.next()
        await offer(mb, "sig", payload_type=SIGNAL)
        assert (await mb.next()).request_id == "sig"
        assert first.request_id == "bulk0"


async def test_concurrent_enqueues_share_one_commit(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        before = mb.stats().commits
        await asyncio.gather(*(put(mb, f"r{i}") for i in range(200)))
        assert mb.stats().commits - before == 1
        assert mb.depth() == 200


async def test_full_mailbox_raises_503_fires_hooks_and_recovers(db_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    async with await Mailbox.open(
        db_path,
        capacity=10,
        low_water=4,
        on_backpressure=lambda d, c: calls.append(("full", d, c)),
        on_drained=lambda d, c: calls.append(("drained", d, c)),
    ) as mb:
        for i in range(10):
            await put(mb, f"r{i}")
        assert calls == [("full", 10, 10)]
        with pytest.raises(MailboxFull) as info:
            await put(mb, "one-too-many")
        err = info.value
        assert isinstance(err, Unavailable) and err.code == 503 and err.retryable
        assert (err.depth, err.capacity) == (10, 10)
        assert mb.stats().rejected_full == 1 and calls == [("full", 10, 10)]
        for _ in range(5):
            await mb.complete(await mb.next(), None)
        assert calls == [("full", 10, 10)]  # 5 held: still above low water
        await mb.complete(await mb.next(), None)
        assert calls == [("full", 10, 10), ("drained", 4, 10)]
        await put(mb, "accepted-again")
        assert mb.depth() == 5


async def test_full_on_reopen_signals_at_once(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for i in range(3):
            await put(mb, f"r{i}")
    calls = []
    mb = await Mailbox.open(db_path, capacity=3, on_backpressure=lambda d, c: calls.append((d, c)))
    await mb.close()
    assert calls == [(3, 3)]


async def test_several_in_flight_settle_in_any_order(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for i in range(6):
            await put(mb, f"r{i}")
        entries = [await mb.next() for _ in range(5)]
        assert mb.in_flight() == 5
        await asyncio.gather(
            mb.complete(entries[4], b"4"),
            mb.fail(entries[1], "x", "y"),
            mb.complete(entries[0], b"0"),
            mb.dead_letter(entries[3], "x", "y"),
            mb.complete(entries[2], b"2"),
        )
        assert mb.in_flight() == 0 and mb.depth() == 2
        with pytest.raises(StateError):
            await mb.complete(entries[0], b"again")
        again = await mb.next()
        assert (again.request_id, again.attempts) == ("r1", 2)
        with pytest.raises(StateError):
            await mb.complete(entries[1], b"stale handle of the first attempt")
        await mb.complete(again, b"1")


async def test_complete_and_fail_racing_for_one_entry_settle_once(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "r")
        entry = await mb.next()
        done, failed = await asyncio.gather(
            mb.complete(entry, b"ok"), mb.fail(entry, "x", "y"), return_exceptions=True
        )
        assert done is None and isinstance(failed, StateError)
        assert mb.depth() == 0


async def test_next_sleeps_until_a_commit_wakes_it(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        waiter = asyncio.ensure_future(mb.next())
        commits = mb.stats().commits
        await asyncio.sleep(0.2)
        assert not waiter.done()
        assert mb.stats().commits == commits  # nothing touched SQLite while waiting
        await put(mb, "wake")
        entry = await asyncio.wait_for(waiter, 2)
        assert entry.request_id == "wake"


async def test_many_waiting_consumers_each_get_one_message(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        consumers = [asyncio.ensure_future(mb.next()) for _ in range(5)]
        await asyncio.sleep(0)
        await asyncio.gather(*(put(mb, f"r{i}") for i in range(5)))
        got = await asyncio.wait_for(asyncio.gather(*consumers), 2)
        assert sorted(e.request_id for e in got) == [f"r{i}" for i in range(5)]
        assert mb.in_flight() == 5


async def test_cancelled_next_gives_the_message_back(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        waiting = asyncio.ensure_future(mb.next())
        await asyncio.sleep(0)
        await put(mb, "r")
        # The consumer took "r" and now awaits the in-flight mark's commit.
        assert mb.in_flight() == 1 and not waiting.done()
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        assert waiting.cancelled()
        entry = await asyncio.wait_for(mb.next(), 2)
        assert (entry.request_id, entry.attempts) == ("r", 1)  # not counted as an attempt
        await mb.complete(entry, None)


async def test_consumer_cancelled_after_its_wakeup_passes_the_message_on(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        first = asyncio.ensure_future(mb.next())
        second = asyncio.ensure_future(mb.next())
        await asyncio.sleep(0)
        producer = asyncio.ensure_future(put(mb, "r"))
        await asyncio.sleep(0)  # the producer queues its insert; the flush is scheduled
        await asyncio.sleep(0)  # the flush commits and wakes `first`, which has not run yet
        first.cancel()
        await producer
        entry = await asyncio.wait_for(second, 2)
        assert entry.request_id == "r" and first.cancelled()


async def test_close_wakes_waiting_consumers_and_refuses_calls(db_path: Path) -> None:
    mb = await Mailbox.open(db_path)
    waiter = asyncio.ensure_future(mb.next())
    await asyncio.sleep(0)
    await mb.close()
    with pytest.raises(StateError):
        await waiter
    with pytest.raises(StateError):
        await put(mb, "late")
    await mb.close()  # idempotent
    assert mb.closed


async def test_second_open_of_the_same_file_is_refused(db_path: Path) -> None:
    mb = await Mailbox.open(db_path)
    with pytest.raises(StateError, match="open elsewhere"):
        await Mailbox.open(db_path)
    await mb.close()
    await (await Mailbox.open(db_path)).close()


async def test_envelopes_over_the_memory_budget_are_read_back(db_path: Path) -> None:
    async with await Mailbox.open(db_path, memory_budget=0) as mb:
        stored = [await put(mb, f"r{i}", size=300) for i in range(5)]
        got = [await mb.next() for _ in range(5)]
        assert [e.envelope for e in got] == [e.envelope for e in stored]


async def test_storage_failure_keeps_memory_and_file_consistent(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "small")
        # A real SQLITE_FULL: cap the file at its current size.
        mb._store._conn.execute("PRAGMA max_page_count = 1")
        with pytest.raises(MailboxStorageError) as info:
            await put(mb, "big", size=64 * 1024)
        assert info.value.code == 503 and info.value.retryable
        assert mb.depth() == 1 and mb.stats().accepted == 1
        mb._store._conn.execute("PRAGMA max_page_count = 1073741823")
        await put(mb, "big", size=64 * 1024)  # slot and key were given back, not PENDING
    async with await Mailbox.open(db_path) as mb:
        got = sorted([(await mb.next()).request_id for _ in range(mb.depth())])
        assert got == ["big", "small"]


async def test_redrive_respects_capacity_and_pending_duplicates(db_path: Path) -> None:
    async with await Mailbox.open(db_path, capacity=3) as mb:
        for rid in ("a", "b", "c"):
            await put(mb, rid)
            await mb.dead_letter(await mb.next(), "x", "y")
        await put(mb, "b")  # the sender retried "b" meanwhile
        await put(mb, "z")
        assert await mb.redrive() == 1  # room for one; "b" is held again and stays dead
        assert sorted(d.request_id for d in await mb.list_dead_letters()) == ["b", "c"]
        c_id = next(d.id for d in await mb.list_dead_letters() if d.request_id == "c")
        with pytest.raises(MailboxFull):
            await mb.redrive(c_id)
        assert mb.depth() == 3


def wal_size(db_path: Path) -> int | None:
    wal = Path(f"{db_path}-wal")
    return wal.stat().st_size if wal.exists() else None


async def test_wal_starts_over_under_continuous_load(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:

        async def worker(first: int) -> None:
            for i in range(first, 6000, 8):
                await put(mb, f"r{i}", size=1024)
                await mb.complete(await mb.next(), b"ok")

        await asyncio.gather(*(worker(w) for w in range(8)))
        # ~40 MB went through the WAL; without the checkpoint thread catching
        # up while commits pause, the writer stays ahead and the file keeps all.
        size = wal_size(db_path)
        assert size is not None and size < 20 * 2**20
        assert mb.stats().remembered == 6000
    assert wal_size(db_path) is None  # a clean close checkpoints everything
    async with await Mailbox.open(db_path) as mb:
        assert mb.depth() == 0 and mb.stats().remembered == 6000


async def test_in_memory_database_for_tests() -> None:
    async with await Mailbox.open(":memory:") as mb:
        await put(mb, "r")
        entry = await mb.next()
        await mb.complete(entry, b"ok")
        assert (await offer(mb, "r")).duplicate_response == b"ok"


async def test_cancelled_enqueue_is_still_accepted_once_committing(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        task = asyncio.ensure_future(put(mb, "r"))
        await asyncio.sleep(0)  # the insert is queued for this turn's commit
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # Memory follows the file, not the caller: the row committed, so it is held.
        assert mb.depth() == 1
        assert (await offer(mb, "r")).admission is Admission.PENDING
        assert (await mb.next()).request_id == "r"


async def test_failing_water_mark_callback_does_not_break_the_mailbox(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(depth: int, capacity: int) -> None:
        raise RuntimeError("callback bug")

    async with await Mailbox.open(db_path, capacity=1, on_backpressure=boom) as mb:
        await put(mb, "r")
        assert "water-mark callback failed" in caplog.text
        await mb.complete(await mb.next(), None)
        await put(mb, "s")


async def test_release_gives_back_an_unstarted_message_without_counting_it(
    db_path: Path,
) -> None:
    async with await Mailbox.open(db_path) as mb:
        for rid in ("a", "b"):
            await put(mb, rid)
        a = await mb.next()
        await mb.release(a)
        assert mb.in_flight() == 0
        assert rows(db_path, "SELECT state, attempts FROM messages WHERE request_id = 'a'") == [
            ("queued", 0)
        ]
        with pytest.raises(StateError):
            await mb.complete(a, b"released handles are void")
        again = await mb.next()
        assert (again.request_id, again.attempts) == ("a", 1)
    assert rows(db_path, "SELECT request_id, state, attempts FROM messages ORDER BY seq") == [
        ("a", "in_flight", 1),
        ("b", "queued", 0),
    ]
