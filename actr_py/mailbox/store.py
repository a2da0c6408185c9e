"""The SQLite file behind a mailbox: schema, pragmas and every statement.

One connection, on the event loop's thread, in explicit transactions opened and
committed by the group committer; a second connection only checkpoints (see
:mod:`.checkpoint`). A lock file keeps a second process out.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import StateError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
from .types import DeadLetter

__all__ = ["LoadedRow", "RedriveCandidate", "Store"]

_SCHEMA_VERSION = 2

# Version 2 keeps in-flight marks out of the message rows: marking a 1 KiB row
# rewrote its page, a page the ack then rewrote again; a small in_flight row
# costs a fraction of that (see docs/mailbox.md).
_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    seq          INTEGER PRIMARY KEY,  -- arrival order; never changes
    priority     INTEGER NOT NULL,     -- higher first
    sender       TEXT    NOT NULL,
    payload_type INTEGER NOT NULL,
    request_id   TEXT    NOT NULL,
    envelope     BLOB    NOT NULL,
    attempts     INTEGER NOT NULL,     -- deliveries counted when it was last queued
    enqueued_at  REAL    NOT NULL
);
CREATE TABLE IF NOT EXISTS in_flight (
    seq      INTEGER PRIMARY KEY,      -- a queue row being delivered
    attempts INTEGER NOT NULL          -- deliveries counted, this one included
);
CREATE TABLE IF NOT EXISTS answered (
    id          INTEGER PRIMARY KEY,   -- answer order: appended, evicted as a prefix
    sender      TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    response    BLOB,                  -- NULL for tells
    answered_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
    seq          INTEGER,              -- NULL: raw, never queued, not redrivable
    priority     INTEGER NOT NULL,
    sender       TEXT    NOT NULL,
    payload_type INTEGER NOT NULL,
    request_id   TEXT    NOT NULL,
    envelope     BLOB    NOT NULL,
    attempts     INTEGER NOT NULL,
    enqueued_at  REAL    NOT NULL,
    category     TEXT    NOT NULL,
    message      TEXT    NOT NULL,
    dead_at      REAL    NOT NULL
);
-- Version 1's table, for whoever reads the file with sqlite3; the code never uses it.
CREATE VIEW IF NOT EXISTS messages AS
SELECT q.seq, q.priority, q.sender, q.payload_type, q.request_id, q.envelope,
       coalesce(f.attempts, q.attempts) AS attempts,
       CASE WHEN f.seq IS NULL THEN 'queued' ELSE 'in_flight' END AS state,
       q.enqueued_at
FROM queue AS q LEFT JOIN in_flight AS f ON f.seq = q.seq;
"""

#: Version 1 kept the in-flight mark in the message row (state, attempts
#: including the delivery under way); its rows move over unchanged in meaning.
_FROM_V1 = f"""
ALTER TABLE messages RENAME TO messages_v1;
{_SCHEMA}
INSERT INTO queue (seq, priority, sender, payload_type, request_id, envelope, attempts,
                   enqueued_at)
SELECT seq, priority, sender, payload_type, request_id, envelope,
       CASE state WHEN 'in_flight' THEN attempts - 1 ELSE attempts END, enqueued_at
FROM messages_v1;
INSERT INTO in_flight (seq, attempts)
SELECT seq, attempts FROM messages_v1 WHERE state = 'in_flight';
DROP TABLE messages_v1;
"""

_ENVELOPE = "SELECT envelope FROM queue WHERE seq = ?"
_DELETE = "DELETE FROM queue WHERE seq = ?"
_UNMARK = "DELETE FROM in_flight WHERE seq = ?"


class _Rows:
    """One kind of hot-path write: all its rows of a batch in a few statements.

    ``executemany`` still binds, steps and resets a statement per row; one
    statement per chunk of rows (``VALUES (..), (..)`` or ``IN (?, ?)``) does
    that once. Chunks are powers of two up to 64 rows, so a kind needs at most
    seven statements. Rows arrive already flattened into one parameter list
    (``list += tuple``): flattening them here in Python cost half the gain.
    """

    __slots__ = ("_head", "_row", "_sql", "_tail", "_width")

    def __init__(self, head: str, row: str, tail: str = "") -> None:
        self._head, self._row, self._tail = head, row, tail
        self._width = row.count("?")
        self._sql: dict[int, str] = {}

    def write(self, cur: sqlite3.Cursor, params: list[object]) -> None:
        width = self._width
        start, left = 0, len(params) // width
        while left:
            size = 1 << min(left.bit_length() - 1, 6)
            sql = self._sql.get(size)
            if sql is None:
                sql = self._sql[size] = self._head + ", ".join([self._row] * size) + self._tail
            end = start + size * width
            cur.execute(sql, params[start:end])
            start = end
            left -= size


_INSERTS = _Rows(
    "INSERT INTO queue (seq, priority, sender, payload_type, request_id, envelope, attempts,"
    " enqueued_at) VALUES ",
    "(?, ?, ?, ?, ?, ?, 0, ?)",
)
_MARKS = _Rows("INSERT OR REPLACE INTO in_flight (seq, attempts) VALUES ", "(?, ?)")
_DELETES = _Rows("DELETE FROM queue WHERE seq IN (", "?", ")")
_UNMARKS = _Rows("DELETE FROM in_flight WHERE seq IN (", "?", ")")
_ANSWERS = _Rows(
    "INSERT INTO answered (id, sender, request_id, response, answered_at) VALUES ",
    "(?, ?, ?, ?, ?)",
)
_TO_DEAD = (
    "INSERT INTO dead_letters (seq, priority, sender, payload_type, request_id, envelope,"
    " attempts, enqueued_at, category, message, dead_at)"
    " SELECT seq, priority, sender, payload_type, request_id, envelope, ?,"
    " enqueued_at, ?, ?, ? FROM queue WHERE seq = ?"
)
_RAW_DEAD = (
    "INSERT INTO dead_letters (seq, priority, sender, payload_type, request_id, envelope,"
    " attempts, enqueued_at, category, message, dead_at)"
    " VALUES (NULL, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)"
)
_DEAD_COLUMNS = (
    "id, seq, priority, sender, payload_type, request_id, envelope, attempts, enqueued_at,"
    " category, message, dead_at"
)
_REDRIVE = (
    "INSERT INTO queue (seq, priority, sender, payload_type, request_id, envelope,"
    " attempts, enqueued_at) SELECT ?, priority, sender, payload_type, request_id,"
    " envelope, 0, enqueued_at FROM dead_letters WHERE id = ? AND seq IS NOT NULL"
)


@dataclass(frozen=True, slots=True)
class LoadedRow:
    seq: int
    priority: int
    sender: str
    payload_type: int
    request_id: str
    attempts: int
    in_flight: bool
    enqueued_at: float


@dataclass(frozen=True, slots=True)
class RedriveCandidate:
    id: int
    priority: int
    sender: str
    payload_type: int
    request_id: str
    enqueued_at: float


def _lock(path: str) -> int | None:
    """Hold ``<path>-lock`` for as long as the mailbox is open.

    Two processes on one mailbox would deliver every message twice; the kernel
    drops the lock when its holder dies, even by SIGKILL, so a restart after a
    crash is never refused. Without ``fcntl`` (Windows) there is no guard.
    """
    if path == ":memory:" or fcntl is None:
        return None
    fd = os.open(path + "-lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateError(f"{path}: mailbox is open elsewhere") from None
    return fd


class Store:
    """Synchronous access to one mailbox file, from the thread that opened it."""

    def __init__(self, path: str) -> None:
        self._lock_fd = _lock(path)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one per batch.
        # 128 cached statements: up to seven per kind of buffered write (_Rows).
        conn = sqlite3.connect(path, isolation_level=None, cached_statements=128)
        try:
            conn.execute("PRAGMA busy_timeout = 1000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # A Checkpointer does it off the loop (see checkpoint.py).
            conn.execute("PRAGMA wal_autocheckpoint = 0")
            # Debian (among others) builds SQLite with SECURE_DELETE on: every
            # page a delete frees is zeroed and written to the WAL once more.
            # FAST still zeroes deleted rows in the pages written anyway.
            conn.execute("PRAGMA secure_delete = FAST")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > _SCHEMA_VERSION:
                raise StateError(f"{path}: mailbox schema {version} is newer than this code")
            script = _FROM_V1 if version == 1 else _SCHEMA
            # One transaction: a migration interrupted by a crash leaves version 1.
            conn.executescript(
                f"BEGIN IMMEDIATE; {script} PRAGMA user_version = {_SCHEMA_VERSION}; COMMIT;"
            )
        except BaseException:
            conn.close()
            self._unlock()
            raise
        self.path = path
        self._conn = conn
        # One long-lived cursor: Connection.execute makes a new cursor per call,
        # which costs more than the statement itself for these small rows.
        self._cur = conn.cursor()
        # Hot-path writes of the open transaction, run per kind (_Rows) before
        # any other statement and before COMMIT. No two of them
        # touch the same row in one batch (a row is inserted, marked and deleted
        # in different transactions), so running them grouped changes nothing.
        self._inserts: list[object] = []
        self._marks: list[int] = []
        self._deletes: list[int] = []
        self._answers: list[object] = []

    @property
    def in_memory(self) -> bool:
        return self.path == ":memory:"

    # ---- transactions -------------------------------------------------------

    def begin(self) -> None:
        self._cur.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.flush()
        self._cur.execute("COMMIT")

    def rollback(self) -> None:
        self._inserts, self._marks, self._deletes, self._answers = [], [], [], []
        if self._conn.in_transaction:
            self._cur.execute("ROLLBACK")

    def flush(self) -> None:
        """Run the buffered writes; every other statement calls this first."""
        cur = self._cur
        if self._inserts:
            inserts, self._inserts = self._inserts, []
            _INSERTS.write(cur, inserts)
        if self._marks:
            marks, self._marks = self._marks, []
            _MARKS.write(cur, marks)
        if self._deletes:
            deletes, self._deletes = self._deletes, []
            _DELETES.write(cur, deletes)
            _UNMARKS.write(cur, deletes)
        if self._answers:
            answers, self._answers = self._answers, []
            _ANSWERS.write(cur, answers)

    def close(self) -> None:
        try:
            self._conn.close()  # the last connection checkpoints and removes the WAL
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    # ---- open ---------------------------------------------------------------

    def requeue_in_flight(self) -> None:
        """After a crash nobody holds the in-flight rows any more; their attempts count."""
        cur = self._cur
        cur.execute(
            "UPDATE queue SET attempts = (SELECT f.attempts FROM in_flight AS f"
            " WHERE f.seq = queue.seq) WHERE seq IN (SELECT seq FROM in_flight)"
        )
        cur.execute("DELETE FROM in_flight")

    def load_messages(self) -> list[LoadedRow]:
        rows = self._cur.execute(
            "SELECT q.seq, q.priority, q.sender, q.payload_type, q.request_id,"
            " coalesce(f.attempts, q.attempts), f.seq IS NOT NULL, q.enqueued_at"
            " FROM queue AS q LEFT JOIN in_flight AS f ON f.seq = q.seq ORDER BY q.seq"
        ).fetchall()
        return [
            LoadedRow(seq, prio, sender, ptype, rid, attempts, bool(in_flight), at)
            for seq, prio, sender, ptype, rid, attempts, in_flight, at in rows
        ]

    def load_answered(self) -> list[tuple[tuple[str, str], float, int]]:
        rows = self._cur.execute(
            "SELECT sender, request_id, answered_at, id FROM answered ORDER BY id"
        ).fetchall()
        return [((sender, rid), at, token) for sender, rid, at, token in rows]

    def max_seq(self) -> int:
        cur = self._cur
        queued = cur.execute("SELECT max(seq) FROM queue").fetchone()[0] or 0
        dead = cur.execute("SELECT max(seq) FROM dead_letters").fetchone()[0] or 0
        return max(queued, dead)

    def count_dead(self) -> int:
        return self._cur.execute("SELECT count(*) FROM dead_letters").fetchone()[0]

    # ---- messages -----------------------------------------------------------

    def insert(
        self,
        seq: int,
        priority: int,
        sender: str,
        payload_type: int,
        request_id: str,
        envelope: bytes,
        enqueued_at: float,
    ) -> None:
        # bytearray: sqlite3 binds it directly, while bytes (and None) first go
        # through its adapter lookup, two failed attribute lookups per value
        # (~0.4 us); copying 1 KiB costs a quarter of that.
        self._inserts += (
            seq,
            priority,
            sender,
            payload_type,
            request_id,
            bytearray(envelope),
            enqueued_at,
        )

    def mark_in_flight(self, seq: int, attempts: int, read_envelope: bool) -> bytes | None:
        self._marks += (seq, attempts)
        if not read_envelope:
            return None
        self.flush()
        # No RETURNING: it needs SQLite 3.35, older than some supported systems ship.
        return self._cur.execute(_ENVELOPE, (seq,)).fetchone()[0]

    def requeue(self, seq: int, attempts: int) -> None:
        """Back to the queue after a failed attempt, which stays counted."""
        self.flush()
        cur = self._cur
        cur.execute("UPDATE queue SET attempts = ? WHERE seq = ?", (attempts, seq))
        cur.execute(_UNMARK, (seq,))

    def unmark(self, seq: int) -> None:
        """Back to the queue, the delivery not counted: the queue row never changed."""
        self.flush()
        self._cur.execute(_UNMARK, (seq,))

    def complete(
        self,
        seq: int,
        token: int,
        sender: str,
        request_id: str,
        response: bytes | None,
        at: float,
    ) -> None:
        self._deletes.append(seq)
        blob = None if response is None else bytearray(response)  # see insert()
        self._answers += (token, sender, request_id, blob, at)

    def forget_upto(self, token: int) -> None:
        """Drop remembered answers up to ``token`` (see :class:`DedupWindow`)."""
        self.flush()
        self._cur.execute("DELETE FROM answered WHERE id <= ?", (token,))

    def lookup_answer(self, token: int) -> bytes | None:
        self.flush()
        row = self._cur.execute("SELECT response FROM answered WHERE id = ?", (token,)).fetchone()
        return None if row is None else row[0]

    # ---- dead letters -------------------------------------------------------

    def to_dead(self, seq: int, attempts: int, category: str, message: str, at: float) -> int:
        self.flush()
        cur = self._cur
        dead_id = cur.execute(_TO_DEAD, (attempts, category, message, at, seq)).lastrowid or 0
        cur.execute(_DELETE, (seq,))
        cur.execute(_UNMARK, (seq,))
        return dead_id

    def raw_dead(
        self,
        priority: int,
        sender: str,
        payload_type: int,
        request_id: str,
        envelope: bytes,
        category: str,
        message: str,
        at: float,
    ) -> int:
        self.flush()
        self._cur.execute(
            _RAW_DEAD,
            (priority, sender, payload_type, request_id, envelope, at, category, message, at),
        )
        return self._cur.lastrowid or 0

    def list_dead(self, limit: int, offset: int) -> list[DeadLetter]:
        self.flush()
        rows = self._cur.execute(
            f"SELECT {_DEAD_COLUMNS} FROM dead_letters ORDER BY id LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [DeadLetter(*row) for row in rows]

    def get_dead(self, dead_id: int) -> DeadLetter | None:
        self.flush()
        row = self._cur.execute(
            f"SELECT {_DEAD_COLUMNS} FROM dead_letters WHERE id = ?", (dead_id,)
        ).fetchone()
        return None if row is None else DeadLetter(*row)

    def redrive_candidates(self, dead_id: int | None) -> list[RedriveCandidate]:
        self.flush()
        sql = (
            "SELECT id, priority, sender, payload_type, request_id, enqueued_at"
            " FROM dead_letters WHERE seq IS NOT NULL"
        )
        args: tuple[int, ...] = ()
        if dead_id is not None:
            sql += " AND id = ?"
            args = (dead_id,)
        rows = self._cur.execute(sql + " ORDER BY id", args).fetchall()
        return [RedriveCandidate(*row) for row in rows]

    def redrive(self, moves: Iterable[tuple[int, int]]) -> list[int]:
        """Move dead letters back as (new seq, dead id); returns the ids moved."""
        self.flush()
        cur = self._cur
        moved = []
        for seq, dead_id in moves:
            if cur.execute(_REDRIVE, (seq, dead_id)).rowcount:
                cur.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,))
                moved.append(dead_id)
        return moved

    def purge(self, dead_id: int | None) -> int:
        self.flush()
        if dead_id is None:
            return self._cur.execute("DELETE FROM dead_letters").rowcount
        return self._cur.execute("DELETE FROM dead_letters WHERE id = ?", (dead_id,)).rowcount
