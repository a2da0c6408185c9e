"""How the mailbox writes SQLite: hot-path writes grouped per batch, in order."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from actr_py.errors import StateError
from actr_py.mailbox import Mailbox
from actr_py.mailbox.store import Store


class Recorder:
    """Stands in for the store's cursor and notes every statement and its parameters."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur
        self.calls: list[tuple[str, list[Any]]] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.calls.append((sql, list(params)))
        return self._cur.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        rows = list(rows)
        self.calls.extend((sql, list(row)) for row in rows)
        return self._cur.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)

    def statements(self, prefix: str) -> list[list[Any]]:
        """The parameters of each statement starting with ``prefix``."""
        return [params for sql, params in self.calls if sql.startswith(prefix)]


def record(mb: Mailbox) -> Recorder:
    rec = Recorder(mb._store._cur)
    mb._store._cur = rec  # type: ignore[assignment]
    return rec


async def test_a_batch_writes_each_kind_of_row_with_a_few_statements(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        rec = record(mb)
        await asyncio.gather(
            *(
                mb.enqueue(sender="peer", payload_type=0, request_id=f"r{i}", envelope=b"x")
                for i in range(100)
            )
        )
        # Chunks of 64, 32 and 4 rows, seven parameters each.
        inserts = rec.statements("INSERT INTO queue")
        assert [len(params) // 7 for params in inserts] == [64, 32, 4]
        request_ids = {params[i] for params in inserts for i in range(4, len(params), 7)}
        assert request_ids == {f"r{i}" for i in range(100)}
        entries = [await mb.next() for _ in range(3)]
        rec.calls.clear()
        await asyncio.gather(*(mb.complete(e, b"ok") for e in entries))
        seqs = [e.seq for e in entries]
        chunks = [seqs[:2], seqs[2:]]
        assert [sorted(p) for p in rec.statements("DELETE FROM queue WHERE seq IN")] == chunks
        assert [sorted(p) for p in rec.statements("DELETE FROM in_flight WHERE seq IN")] == chunks
        assert [len(p) // 5 for p in rec.statements("INSERT INTO answered")] == [2, 1]
        assert mb.depth() == 97


async def test_blobs_are_bound_without_the_adapter_lookup(db_path: Path) -> None:
    async with await Mailbox.open(db_path) as mb:
        rec = record(mb)
        await mb.enqueue(sender="peer", payload_type=0, request_id="r", envelope=b"env")
        await mb.complete(await mb.next(), b"reply")
        blobs = [v for _, params in rec.calls for v in params if isinstance(v, bytes | bytearray)]
        # sqlite3 runs bytes (not bytearray) through its adapter protocol first.
        assert blobs == [bytearray(b"env"), bytearray(b"reply")]
        assert all(type(blob) is bytearray for blob in blobs)
        assert (
            await mb.enqueue(sender="peer", payload_type=0, request_id="r", envelope=b"x")
        ).duplicate_response == b"reply"


async def test_evicted_answers_are_deleted_once_per_batch(db_path: Path) -> None:
    async with await Mailbox.open(db_path, dedup_entries=2) as mb:
        for i in range(12):
            await mb.enqueue(sender="peer", payload_type=0, request_id=f"r{i}", envelope=b"x")
        entries = [await mb.next() for _ in range(12)]
        rec = record(mb)
        await asyncio.gather(*(mb.complete(e, b"ok") for e in entries[:10]))
        await mb.complete(entries[10], b"ok")  # carries the deletes the first batch deferred
        forgets = rec.statements("DELETE FROM answered")
        # Ten evictions in one commit: one range delete, not ten.
        assert len(forgets) == 1
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
        dead = store.to_dead(3, 0, "x", "y", 0.0)  # reads the row inserted just before
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


#: The version 1 layout, frozen here: files written by earlier releases.
V1_SCHEMA = """
CREATE TABLE messages (
    seq INTEGER PRIMARY KEY, priority INTEGER NOT NULL, sender TEXT NOT NULL,
    payload_type INTEGER NOT NULL, request_id TEXT NOT NULL, envelope BLOB NOT NULL,
    attempts INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'in_flight')),
    enqueued_at REAL NOT NULL
);
CREATE TABLE answered (
    id INTEGER PRIMARY KEY, sender TEXT NOT NULL, request_id TEXT NOT NULL,
    response BLOB, answered_at REAL NOT NULL
);
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, seq INTEGER, priority INTEGER NOT NULL,
    sender TEXT NOT NULL, payload_type INTEGER NOT NULL, request_id TEXT NOT NULL,
    envelope BLOB NOT NULL, attempts INTEGER NOT NULL, enqueued_at REAL NOT NULL,
    category TEXT NOT NULL, message TEXT NOT NULL, dead_at REAL NOT NULL
);
PRAGMA user_version = 1;
"""


def write_v1(path: Path, now: float) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(V1_SCHEMA)
        conn.executemany(
            "INSERT INTO messages VALUES (?, 0, 'peer', 0, ?, ?, ?, ?, ?)",
            [
                (1, "a", b"A", 0, "queued", now),
                (2, "b", b"B", 1, "in_flight", now),  # running when the process died
                (3, "c", b"C", 3, "in_flight", now),  # delivered 3 times, never finished
                (4, "d", b"D", 2, "queued", now),  # failed twice, waiting
            ],
        )
        conn.execute("INSERT INTO answered VALUES (7, 'peer', 'done', x'52', ?)", (now,))
        conn.execute(
            "INSERT INTO dead_letters VALUES"
            " (1, NULL, 0, 'peer', 0, '', x'00', 0, ?, 'undecodable', 'bad', ?)",
            (now, now),
        )
        conn.commit()
    finally:
        conn.close()


async def test_a_version_1_file_is_migrated_without_losing_rows(db_path: Path) -> None:
    now = time.time()
    write_v1(db_path, now)
    async with await Mailbox.open(db_path, max_attempts=3) as mb:
        assert mb.depth() == 3
        got = [await mb.next() for _ in range(3)]
        assert [(e.request_id, e.envelope, e.attempts) for e in got] == [
            ("a", b"A", 1),
            ("b", b"B", 2),
            ("d", b"D", 3),
        ]
        dead = await mb.list_dead_letters()
        assert [(d.category, d.request_id, d.attempts) for d in dead] == [
            ("undecodable", "", 0),
            ("abandoned", "c", 3),
        ]
        dup = await mb.enqueue(sender="peer", payload_type=0, request_id="done", envelope=b"x")
        assert dup.duplicate_response == b"R"
        for entry in got:
            await mb.complete(entry, None)
        new = await mb.enqueue(sender="peer", payload_type=0, request_id="e", envelope=b"E")
        assert new.entry is not None and new.entry.seq == 5  # sequence numbers continue
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (2,)
        assert conn.execute("SELECT request_id, state, attempts FROM messages").fetchall() == [
            ("e", "queued", 0)
        ]
    finally:
        conn.close()


async def test_a_file_from_newer_code_is_refused(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 3")
    conn.close()
    with pytest.raises(StateError, match="schema 3 is newer"):
        await Mailbox.open(db_path)
    # Refused before anything was written.
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (3,)
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    finally:
        conn.close()
