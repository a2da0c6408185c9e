"""Copying the WAL back into the database file without stalling the event loop.

SQLite's automatic checkpoint runs inside whichever COMMIT crosses the WAL size
threshold: it fsyncs, copies a thousand pages and fsyncs again, which stalled
the loop for ~10 ms every few hundred commits in our measurements. Here a second
connection does that work on its own thread (SQLite releases the GIL for the
whole call) in two passes:

1. a PASSIVE checkpoint while the writer keeps committing: the bulk of the copy;
2. a short pause of the writer (commits queue up, the loop keeps running), then
   another PASSIVE pass that copies only what pass 1 missed.

After pass 2 the whole WAL is in the database file, so the writer's next
transaction starts the WAL from the beginning again; without the pause a busy
writer would always be ahead and the WAL file would grow without bound.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)


class Checkpointer:
    """A thread that checkpoints after enough commits, or soon after the last one.

    ``pause(ready)`` is called on the loop and must stop new transactions and
    then set ``ready``; ``resume()`` lets them continue.
    """

    def __init__(
        self,
        path: str,
        loop: asyncio.AbstractEventLoop,
        *,
        pause: Callable[[threading.Event], None],
        resume: Callable[[], None],
        every_ops: int = 2000,
        idle_after: float = 0.5,
    ) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._loop = loop
        self._pause = pause
        self._resume = resume
        self._every_ops = every_ops
        self._idle_after = idle_after
        self._pending_ops = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self.checkpoints = 0
        self._thread = threading.Thread(
            target=self._run, name="actr-mailbox-checkpoint", daemon=True
        )
        self._thread.start()

    def committed(self, operations: int) -> None:
        """Called on the loop after each commit; wakes the thread every ``every_ops``."""
        self._pending_ops += operations
        if self._pending_ops >= self._every_ops and not self._wake.is_set():
            self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self._conn.close()

    # ---- thread -------------------------------------------------------------

    def _run(self) -> None:
        stop = self._stop
        while not stop.is_set():
            # Wake on enough work, or after a quiet spell if anything is left.
            self._wake.wait(self._idle_after)
            self._wake.clear()
            if stop.is_set() or self._pending_ops == 0:
                continue
            self._pending_ops = 0
            try:
                self._checkpoint()
                self.checkpoints += 1
            except Exception:
                # Nothing is lost: the WAL only grows until a later pass succeeds.
                # The thread must outlive any error, or it would never run again.
                log.exception("mailbox checkpoint failed")

    def _checkpoint(self) -> None:
        self._passive()
        ready = threading.Event()
        if not self._call(self._pause, ready):
            return
        try:
            while not ready.wait(0.05):
                if self._stop.is_set():
                    return
            self._passive()
        finally:
            self._call(self._resume)

    def _passive(self) -> None:
        # fetchall() finishes the statement: left pending it would keep a read
        # snapshot open, and the writer could never restart the WAL.
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _call(self, fn: Callable[..., None], *args: object) -> bool:
        try:
            self._loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed
            return False
        return True
