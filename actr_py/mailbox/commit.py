"""Group commit: every store operation queued in one loop turn shares a transaction.

Callers queue an operation, ``apply(store, arg)``, with two callbacks:
``on_commit(arg, result)`` updates in-memory state only once the transaction
is durable, ``on_abort(arg)`` undoes what the caller reserved when it is not.
Both run on the loop whether or not anybody still awaits the future, so a
cancelled caller can never leave memory and file disagreeing. Passing ``arg``
lets the hot paths queue plain functions instead of building closures.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from .checkpoint import Checkpointer
from .store import Store
from .types import MailboxStorageError

__all__ = ["GroupCommitter"]

Apply = Callable[[Store, Any], Any]
OnCommit = Callable[[Any, Any], None]
OnAbort = Callable[[Any], None]

#: (apply, arg, future, on_commit, on_abort): a plain tuple, built once per operation.
_Op = tuple[Apply, Any, "asyncio.Future[Any] | None", "OnCommit | None", "OnAbort | None"]


class GroupCommitter:
    """Runs queued operations in batches, one transaction per batch, on the loop.

    A batch is flushed by a callback scheduled when its first operation
    arrives, so everything queued by the tasks running in that loop iteration
    rides in the same transaction. SQLite runs on the loop thread: a writer
    thread measured slower (see docs/mailbox.md); only checkpoints, one long
    call each, run on a thread.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._loop = asyncio.get_running_loop()
        self._ops: list[_Op] = []
        self._scheduled = False
        self._paused = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._checkpointer: Checkpointer | None = None
        self._after: list[Callable[[], None]] = []
        if not store.in_memory:
            self._checkpointer = Checkpointer(
                store.path, self._loop, pause=self._pause, resume=self._resume
            )
        self.commits = 0
        self.operations = 0
        #: Longest transaction so far, in seconds: how long it held the loop.
        self.longest = 0.0

    # ---- queueing -----------------------------------------------------------

    def submit(
        self,
        apply: Apply,
        arg: Any = None,
        on_commit: OnCommit | None = None,
        on_abort: OnAbort | None = None,
    ) -> asyncio.Future[Any]:
        """Queue ``apply(store, arg)``; the future resolves to its result after the commit."""
        future = self._loop.create_future()
        self._ops.append((apply, arg, future, on_commit, on_abort))
        if not (self._scheduled or self._paused):
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return future

    def defer(self, apply: Apply, arg: Any = None) -> None:
        """Queue housekeeping that rides along with the next batch, whenever it runs."""
        self._ops.append((apply, arg, None, None, None))

    def after_batch(self, fn: Callable[[], None]) -> None:
        """From a commit callback: run ``fn`` once the tasks this batch wakes have run.

        ``fn`` is scheduled after the batch's futures are resolved, so it runs
        in the next loop iteration after their tasks' next steps.
        """
        self._after.append(fn)

    def kick(self) -> None:
        """Flush what :meth:`defer` queued without waiting for another submit."""
        self._kick()

    async def drain(self) -> None:
        """Wait until everything queued so far has committed (or failed)."""
        while self._ops or self._scheduled or self._paused:
            self._kick()
            self._idle.clear()
            await self._idle.wait()

    def close(self) -> None:
        """Stop the checkpoint thread; call after :meth:`drain`."""
        if self._checkpointer is not None:
            self._checkpointer.close()
            self._checkpointer = None

    # ---- running ------------------------------------------------------------

    def _kick(self) -> None:
        if self._ops and not (self._scheduled or self._paused):
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _set_idle(self) -> None:
        if not (self._ops or self._scheduled or self._paused):
            self._idle.set()

    def _flush(self) -> None:
        self._scheduled = False
        if self._paused:
            return
        ops, self._ops = self._ops, []
        if not ops:
            self._set_idle()
            return
        started = time.perf_counter()
        outcome = self._run(ops)
        took = time.perf_counter() - started
        if took > self.longest:
            self.longest = took
        self._finish(ops, outcome)

    def _run(self, ops: list[_Op]) -> list[Any] | BaseException:
        store = self._store
        try:
            store.begin()
            results = [op[0](store, op[1]) for op in ops]
            store.commit()
        except Exception as exc:
            try:
                store.rollback()
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error):
                err = MailboxStorageError(f"mailbox storage failed: {exc}")
                err.__cause__ = exc
                return err
            return exc
        return results

    def _finish(self, ops: list[_Op], outcome: list[Any] | BaseException) -> None:
        # A bug in one callback must not strand the other futures of the batch.
        if isinstance(outcome, BaseException):
            for _, arg, future, _, on_abort in ops:
                if on_abort is not None:
                    try:
                        on_abort(arg)
                    except Exception as exc:
                        self._callback_failed(exc)
                if future is not None and not future.done():
                    future.set_exception(outcome)
        else:
            self.commits += 1
            self.operations += len(ops)
            if self._checkpointer is not None:
                self._checkpointer.committed(len(ops))
            for (_, arg, future, on_commit, _), result in zip(ops, outcome, strict=True):
                if on_commit is not None:
                    try:
                        on_commit(arg, result)
                    except Exception as exc:
                        self._callback_failed(exc)
                if future is not None and not future.done():
                    future.set_result(result)
        if self._after:
            after, self._after = self._after, []
            for fn in after:
                self._loop.call_soon(fn)
        self._kick()
        self._set_idle()

    def _callback_failed(self, exc: Exception) -> None:
        self._loop.call_exception_handler(
            {"message": "mailbox commit callback failed", "exception": exc}
        )

    # ---- checkpoint coordination (called on the loop) -----------------------

    def _pause(self, ready: threading.Event) -> None:
        """Hold new transactions so the checkpointer can catch up with the WAL.

        Runs on the loop, so never inside a batch: no transaction is open.
        """
        self._paused = True
        ready.set()

    def _resume(self) -> None:
        self._paused = False
        self._kick()
        self._set_idle()
