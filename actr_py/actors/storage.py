"""The node's actor database: one SQLite file holding every actor's state, queue and schedules.

Statements run on the event-loop thread inside an open transaction, so reads
on this connection see the node's own writes at once; the transaction commits
at the end of the current loop iteration (one commit for everything written
in it: group commit). :meth:`ActorStore.durable` waits for that commit.

WAL with ``synchronous=NORMAL`` (``durability="process"``, the default): a
commit is in the OS before it returns, so it survives the process being
killed (SIGKILL) but not a power cut; ``durability="power"`` fsyncs every
commit. A lock file keeps a second process off the same database: the
placement protocol relies on one live process per storage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from ..errors import StateError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["ActorRow", "ActorStore", "QueueRow", "ScheduleRow"]

log = logging.getLogger("actr_py.actors.storage")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS actors (
    name       TEXT NOT NULL,
    key        TEXT NOT NULL,      -- canonical key (keys.encode_key)
    nonce      TEXT NOT NULL,      -- this incarnation; part of the actor id
    state      BLOB NOT NULL,      -- msgpack
    created_at REAL NOT NULL,
    PRIMARY KEY (name, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS queue (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: send order
    name        TEXT NOT NULL,
    key         TEXT NOT NULL,
    queue       TEXT NOT NULL,
    body        BLOB NOT NULL,     -- msgpack
    enqueued_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_by_actor ON queue (name, key, seq);
CREATE TABLE IF NOT EXISTS schedules (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,  -- creation order breaks ties
    name   TEXT NOT NULL,
    key    TEXT NOT NULL,
    due    REAL NOT NULL,          -- epoch seconds
    action TEXT NOT NULL,
    args   BLOB NOT NULL,          -- msgpack list
    cron   TEXT                    -- recurring: the expression; NULL: once
);
CREATE INDEX IF NOT EXISTS schedules_by_actor ON schedules (name, key);
"""

ActorRow = tuple[str, bytes]  # (nonce, state)
QueueRow = tuple[int, str, bytes]  # (seq, queue, body)
ScheduleRow = tuple[int, str, str, float, str, bytes, str | None]


class ActorStore:
    """Open with :meth:`open`; every method is synchronous except :meth:`durable`."""

    def __init__(
        self,
        path: str | Path,
        *,
        durability: str = "process",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if durability not in ("process", "power"):
            raise ValueError(f"durability is 'process' or 'power', got {durability!r}")
        self.path = str(path)
        self.durability = durability
        self.clock = clock
        self.storage_id = ""
        self.commits = 0
        self._db: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        self._in_txn = False
        self._commit_fut: asyncio.Future[None] | None = None
        self._commit_scheduled = False

    @property
    def exclusive(self) -> bool:
        """Whether a lock file proves this process is the only one on the database."""
        return self._lock_fd is not None

    def open(self) -> ActorStore:
        memory = self.path == ":memory:"
        if not memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._lock()
        try:
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            sync = "FULL" if self.durability == "power" else "NORMAL"
            db.execute(f"PRAGMA synchronous={sync}")
            db.executescript(_SCHEMA)
            row = db.execute("SELECT v FROM meta WHERE k = 'storage_id'").fetchone()
            if row is None:
                self.storage_id = uuid.uuid4().hex
                db.execute("INSERT INTO meta (k, v) VALUES ('storage_id', ?)", (self.storage_id,))
            else:
                self.storage_id = row[0]
        except BaseException:
            self._unlock()
            raise
        self._db = db
        return self

    def _lock(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.path + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StateError(
                f"actor storage {self.path} is in use by another process"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def close(self) -> None:
        if self._db is None:
            return
        try:
            self.commit_now()
        finally:
            self._db.close()
            self._db = None
            self._unlock()

    # ---- transactions -------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StateError("actor storage is closed")
        return self._db

    def _begin(self) -> sqlite3.Connection:
        db = self.db
        if not self._in_txn:
            db.execute("BEGIN")
            self._in_txn = True
            if not self._commit_scheduled:
                self._commit_scheduled = True
                asyncio.get_running_loop().call_soon(self._commit_soon)
        return db

    def _commit_soon(self) -> None:
        self._commit_scheduled = False
        try:
            self.commit_now()
        except Exception:
            log.exception("actor storage commit failed")

    def commit_now(self) -> None:
        """Commit the open transaction (if any) and wake those waiting on :meth:`durable`."""
        fut, self._commit_fut = self._commit_fut, None
        if not self._in_txn or self._db is None:
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        try:
            self._db.execute("COMMIT")
        except BaseException as exc:
            self._in_txn = False
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if fut is not None and not fut.done():
                fut.set_exception(exc)
            raise
        self._in_txn = False
        self.commits += 1
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def durable(self) -> None:
        """Return once everything written so far is committed."""
        if not self._in_txn:
            return
        fut = self._commit_fut
        if fut is None:
            fut = self._commit_fut = asyncio.get_running_loop().create_future()
        await asyncio.shield(fut)

    # ---- actors -----------------------------------------------------------------

    def load_actor(self, name: str, key: str) -> ActorRow | None:
        row = self.db.execute(
            "SELECT nonce, state FROM actors WHERE name = ? AND key = ?", (name, key)
        ).fetchone()
        return None if row is None else (row[0], row[1])

    def actor_nonce(self, name: str, key: str) -> str | None:
        row = self.db.execute(
            "SELECT nonce FROM actors WHERE name = ? AND key = ?", (name, key)
        ).fetchone()
        return None if row is None else row[0]

    def insert_actor(self, name: str, key: str, nonce: str, state: bytes) -> None:
        self._begin().execute(
            "INSERT INTO actors (name, key, nonce, state, created_at) VALUES (?, ?, ?, ?, ?)",
            (name, key, nonce, state, self.clock()),
        )

    def save_states(self, rows: Iterable[tuple[bytes, str, str]]) -> None:
        """``(state, name, key)`` rows: one UPDATE each, in the current transaction."""
        self._begin().executemany("UPDATE actors SET state = ? WHERE name = ? AND key = ?", rows)

    def delete_actor(self, name: str, key: str) -> None:
        """The actor and everything it owned (queue, schedules)."""
        db = self._begin()
        db.execute("DELETE FROM actors WHERE name = ? AND key = ?", (name, key))
        db.execute("DELETE FROM queue WHERE name = ? AND key = ?", (name, key))
        db.execute("DELETE FROM schedules WHERE name = ? AND key = ?", (name, key))

    def count_actors(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM actors").fetchone()[0])

    # ---- queues -----------------------------------------------------------------

    def queue_insert(self, name: str, key: str, queue: str, body: bytes) -> int:
        cur = self._begin().execute(
            "INSERT INTO queue (name, key, queue, body, enqueued_at) VALUES (?, ?, ?, ?, ?)",
            (name, key, queue, body, self.clock()),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def queue_next(
        self, name: str, key: str, queues: Sequence[str] | None, after: int
    ) -> QueueRow | None:
        """The oldest message after seq ``after`` (in the named queues, if given)."""
        sql = "SELECT seq, queue, body FROM queue WHERE name = ? AND key = ? AND seq > ?"
        params: list[Any] = [name, key, after]
        if queues:
            sql += f" AND queue IN ({','.join('?' * len(queues))})"
            params.extend(queues)
        row = self.db.execute(sql + " ORDER BY seq LIMIT 1", params).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def queue_delete(self, seq: int) -> None:
        self._begin().execute("DELETE FROM queue WHERE seq = ?", (seq,))

    def queue_depth(self, name: str, key: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM queue WHERE name = ? AND key = ?", (name, key)
        ).fetchone()
        return int(row[0])

    def actors_with_messages(self) -> list[tuple[str, str]]:
        return list(self.db.execute("SELECT DISTINCT name, key FROM queue"))

    # ---- schedules --------------------------------------------------------------

    def schedule_insert(
        self, name: str, key: str, due: float, action: str, args: bytes, cron: str | None
    ) -> int:
        cur = self._begin().execute(
            "INSERT INTO schedules (name, key, due, action, args, cron) VALUES (?, ?, ?, ?, ?, ?)",
            (name, key, due, action, args, cron),
        )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def schedule_get(self, sched_id: int) -> ScheduleRow | None:
        row = self.db.execute(
            "SELECT id, name, key, due, action, args, cron FROM schedules WHERE id = ?",
            (sched_id,),
        ).fetchone()
        return None if row is None else tuple(row)  # type: ignore[return-value]

    def schedule_reschedule(self, sched_id: int, due: float) -> None:
        self._begin().execute("UPDATE schedules SET due = ? WHERE id = ?", (due, sched_id))

    def schedule_delete(self, sched_id: int) -> bool:
        cur = self._begin().execute("DELETE FROM schedules WHERE id = ?", (sched_id,))
        return cur.rowcount > 0

    def schedules_all(self) -> list[tuple[int, float]]:
        return list(self.db.execute("SELECT id, due FROM schedules"))

    def schedules_of(self, name: str, key: str) -> list[ScheduleRow]:
        rows = self.db.execute(
            "SELECT id, name, key, due, action, args, cron FROM schedules"
            " WHERE name = ? AND key = ? ORDER BY due, id",
            (name, key),
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]
