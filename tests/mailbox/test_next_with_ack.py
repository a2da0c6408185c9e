"""complete() marks the next message in flight in its own transaction.

A consumer loop (next, handle, complete, next...) then pays one commit per
message instead of two; these tests pin what must not change with it: the
attempt is durable before the message is handed out, order still holds, and a
delivery nobody claims goes back to the queue uncounted.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from actr_py.mailbox import PRIORITY_SIGNAL, Mailbox, MailboxEntry, MailboxStorageError


async def put(mb: Mailbox, rid: str, *, priority: int | None = None) -> MailboxEntry:
    res = await mb.enqueue(
        sender="peer", payload_type=0, request_id=rid, envelope=rid.encode(), priority=priority
    )
    assert res.entry is not None
    return res.entry


def rows(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        sql = "SELECT request_id, state, attempts FROM messages ORDER BY seq"
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


async def settle_loop() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_the_ack_carries_the_next_delivery_durably(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for rid in ("a", "b", "c"):
            await put(mb, rid)
        a = await mb.next()
        before = mb.stats().commits
        await mb.complete(a, b"ok")
        # Counted on disk before anybody sees it, in the ack's transaction.
        assert rows(db_path) == [("b", "in_flight", 1), ("c", "queued", 0)]
        b = await mb.next()
        assert mb.stats().commits - before == 1
        assert (b.request_id, b.attempts, b.envelope) == ("b", 1, b"b")
        assert mb.in_flight() == 1
        await mb.complete(b, b"ok")
        c = await mb.next()
        assert (c.request_id, c.attempts) == ("c", 1)
        await mb.complete(c, b"ok")
        assert mb.depth() == 0 and rows(db_path) == []


async def test_an_unclaimed_delivery_goes_back_uncounted(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "a")
        await put(mb, "b")
        await mb.complete(await mb.next(), None)
        # Held for the consumer woken by the ack, it is not reported in flight.
        assert mb.in_flight() == 0 and mb.stats().queued == 1
        await settle_loop()  # nobody asked: handed back, and the file says so
        assert rows(db_path) == [("b", "queued", 0)]
        b = await mb.next()
        assert (b.request_id, b.attempts) == ("b", 1)


async def test_close_gives_back_an_unclaimed_delivery(db_path: Path) -> None:
    mb = await Mailbox.open(db_path)
    await put(mb, "a")
    await put(mb, "b")
    await mb.complete(await mb.next(), None)
    await mb.close()
    assert rows(db_path) == [("b", "queued", 0)]
    async with await Mailbox.open(db_path) as mb:
        assert (await mb.next()).attempts == 1


async def test_close_during_the_ack_gives_back_its_delivery(db_path: Path) -> None:
    mb = await Mailbox.open(db_path)
    await put(mb, "a")
    await put(mb, "b")
    a = await mb.next()
    acking = asyncio.ensure_future(mb.complete(a, None))
    await asyncio.sleep(0)  # the ack, carrying "b", is queued for the next batch
    await mb.close()  # commits it, then must hand "b" back
    await acking
    assert rows(db_path) == [("b", "queued", 0)]


async def test_a_message_that_outranks_the_marked_one_goes_first(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        for i in range(3):
            await put(mb, f"bulk{i}")
        first = await mb.next()

        async def consumer() -> MailboxEntry:
            await mb.complete(first, None)
            return await mb.next()

        # The ack marks bulk1; the signal commits in the same batch.
        sig, _ = await asyncio.gather(consumer(), put(mb, "sig", priority=PRIORITY_SIGNAL))
        assert sig.request_id == "sig"
        bulk1 = await mb.next()
        assert (bulk1.request_id, bulk1.attempts) == ("bulk1", 1)


async def test_a_waiting_consumer_takes_the_delivery_of_one_that_does_not_ask(
    db_path: Path,
) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "a")
        await put(mb, "b")
        a = await mb.next()
        before = mb.stats().commits
        acking = asyncio.ensure_future(mb.complete(a, None))  # takes "b" for its own consumer
        waiting = asyncio.ensure_future(mb.next())  # finds the queue empty and sleeps
        await acking
        b = await asyncio.wait_for(waiting, 2)
        assert (b.request_id, b.attempts) == ("b", 1)
        assert mb.stats().commits - before == 1  # woken with it, not after a give-back


async def test_a_failed_ack_gives_the_next_delivery_back(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        await put(mb, "a")
        await put(mb, "b")
        a = await mb.next()
        mb._store._conn.execute("PRAGMA max_page_count = 1")
        with pytest.raises(MailboxStorageError):
            await mb.complete(a, b"r" * 64 * 1024)  # the answer needs pages it cannot have
        mb._store._conn.execute("PRAGMA max_page_count = 1073741823")
        assert mb.in_flight() == 1
        b = await asyncio.wait_for(mb.next(), 2)
        assert (b.request_id, b.attempts) == ("b", 1)
        await mb.complete(a, b"ok")
        await mb.complete(b, b"ok")
        assert mb.depth() == 0
