"""How the mailbox writes SQLite: hot-path writes grouped per batch, in order."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

from actr_py.mailbox import Mailbox
from actr_py.mailbox.store import Store


class Recorder:
    """Stands in for the store's cursor and notes every statement it is given."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        self.calls: list[tuple[str, str, int]] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.calls.append(("execute", sql, 1))
        return self._cur.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        self.calls.append(("executemany", sql, len(rows)))
        return self._cur.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def count(self, kind: str, prefix: str) -> list[int]:
        return [n for k, sql, n in self.calls if k == kind and sql.startswith(prefix)]


def record(mb: Mailbox) -> Recorder:
    rec = Recorder(mb._store._cur)
    mb._store._cur = rec  # type: ignore[assignment]
    return rec


async def test_a_batch_writes_each_kind_of_row_with_one_executemany(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        rec = record(mb)
        await asyncio.gather(
            *(
                mb.enqueue(sender="peer", payload_type=0, request_id=f"r{i}", envelope=b"x")
                for i in range(50)
            )
        )
        assert rec.count("executemany", "INSERT INTO messages") == [50]
        assert rec.count("execute", "INSERT INTO messages") == []
        entries = [await mb.next() for _ in range(3)]
        rec.calls.clear()
        await asyncio.gather(*(mb.complete(e, b"ok") for e in entries))
        assert rec.count("executemany", "DELETE FROM messages") == [3]
        assert rec.count("executemany", "INSERT INTO answered") == [3]


async def test_evicted_answers_are_deleted_once_per_batch(db_path: Path) -> None:
    async with await Mailbox.open(db_path, dedup_entries=2) as mb:
        for i in range(12):
            await mb.enqueue(sender="peer", payload_type=0, request_id=f"r{i}", envelope=b"x")
        entries = [await mb.next() for _ in range(12)]
        rec = record(mb)
        await asyncio.gather(*(mb.complete(e, b"ok") for e in entries[:10]))
        await mb.complete(entries[10], b"ok")  # carries the deletes the first batch deferred
        forgets = rec.count("execute", "DELETE FROM answered")
        # Ten evictions in one commit: one range delete, not ten.
        assert forgets == [1]
        await mb.complete(entries[11], b"ok")
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("SELECT count(*) FROM answered").fetchone() == (2,)
    finally:
        conn.close()


def test_buffered_writes_run_before_any_other_statement(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "m.db"))
    try:
        store.begin()
        store.insert(1, 0, "peer", 0, "a", b"x", 0.0)
        store.insert(2, 0, "peer", 0, "b", b"y", 0.0)
        store.commit()
        store.begin()
        store.mark_in_flight(1, 1, False)
        store.requeue(1, 0)  # given back in the same batch: must land after the mark
        store.insert(3, 0, "peer", 0, "c", b"z", 0.0)
        dead = store.to_dead(3, "x", "y", 0.0)  # reads the row inserted just before
        store.commit()
        rows = store._cur.execute("SELECT seq, state, attempts FROM messages").fetchall()
        assert rows == [(1, "queued", 0), (2, "queued", 0)]
        assert store.get_dead(dead) is not None
    finally:
        store.close()


def test_deleted_rows_are_zeroed_without_writing_freed_pages_again(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "m.db"))
    try:
        # 2 = FAST: not 1 (a distribution's default), which rewrites freed pages.
        assert store._cur.execute("PRAGMA secure_delete").fetchone() == (2,)
    finally:
        store.close()
