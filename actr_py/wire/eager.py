"""Run a coroutine eagerly from a protocol callback; spend a task only if it waits.

A wire that parses frames in ``data_received`` wants to hand each one to its
:data:`~actr_py.wire.base.FrameHandler` right there. Almost always the
handler finishes without waiting (a response resolves a future, a request
lands in a mailbox), so creating a task per frame would cost a task object
and an event-loop hop for nothing. :func:`start_eagerly` drives the handler's
coroutine with ``send(None)`` in the caller's stack frame; only when the
coroutine suspends (backpressure: a full stream queue, a durable commit) does
it continue in a task.

The continuation is a small trampoline, :class:`_Resumption`, which an
ordinary :class:`asyncio.Task` drives. Its first step hands the Task the very
object the coroutine yielded at its suspension point (normally a future), so
the Task waits on it exactly as if it had run the coroutine from the start;
after that every ``send``/``throw`` goes straight to the coroutine. Results,
exceptions, cancellation, bare ``yield`` (``asyncio.sleep(0)``) and bad
yields therefore behave as in any task.

What differs from a task is the eager part itself: it runs in the caller's
stack frame and context, where :func:`asyncio.current_task` is whatever task
the caller runs in (``None`` in a protocol callback). Code that needs a
current task before its first suspension (``asyncio.timeout``) must therefore
spawn one; after the first suspension the continuation task is current. The
continuation runs in a copy of the caller's context taken at the suspension,
so context variables set before it are still seen after it.

Python 3.12's eager task factory does a similar thing, but builds a Task for
every call and does not exist on 3.11, which this project supports.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Coroutine, Generator
from typing import Any, TypeVar

__all__ = ["start_eagerly"]

_T = TypeVar("_T")
_NOTHING: Any = object()


def start_eagerly(
    coro: Awaitable[_T],
    *,
    loop: asyncio.AbstractEventLoop | None = None,
    name: str | None = None,
) -> asyncio.Task[_T] | None:
    """Run ``coro`` until it finishes or first suspends.

    Returns ``None`` when it finished without suspending (its return value is
    dropped: frame handlers return nothing), or the task that now carries it
    on. An exception raised before the first suspension propagates to the
    caller (the coroutine is then finished); later ones end up in the task.
    ``loop`` defaults to the running loop and is only looked up on suspension.
    Any awaitable is accepted; one that is not a coroutine (a future, an
    object with ``__await__``) is driven through a small wrapper coroutine.
    """
    try:
        send = coro.send  # type: ignore[attr-defined]
    except AttributeError:
        coro = _awaiting(coro)
        send = coro.send
    try:
        yielded = send(None)
    except StopIteration:
        return None
    if loop is None:
        loop = asyncio.get_running_loop()
    return loop.create_task(
        _Resumption(coro, yielded), name=name, context=contextvars.copy_context()
    )


async def _awaiting(awaitable: Awaitable[_T]) -> _T:
    return await awaitable


class _Resumption(Coroutine[Any, Any, Any]):
    """The rest of a coroutine that already ran up to a suspension point.

    ``asyncio.Task`` accepts any :class:`collections.abc.Coroutine`; it calls
    ``send(None)`` for each step and ``throw(exc)`` to deliver cancellation or
    a failed wait. The first ``send`` returns what the coroutine had yielded
    (so the Task waits on that future); everything later is delegated.
    """

    __slots__ = ("_coro", "_pending")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self._coro = coro
        self._pending = yielded

    def send(self, value: Any) -> Any:
        pending = self._pending
        if pending is not _NOTHING:
            self._pending = _NOTHING
            return pending
        return self._coro.send(value)

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:  # type: ignore[override]
        pending = self._pending
        if pending is not _NOTHING:
            # Thrown in before the Task ever waited on the yielded future
            # (cancelled right after creation). A Task cancels the future it
            # waits on when it is cancelled; do the same for this one.
            self._pending = _NOTHING
            if isinstance(pending, asyncio.Future):
                pending.cancel()
        if val is None and tb is None:
            return self._coro.throw(typ)
        return self._coro.throw(typ, val, tb)

    def close(self) -> None:
        self._pending = _NOTHING
        self._coro.close()

    def __await__(self) -> Generator[Any, None, Any]:
        return self  # type: ignore[return-value]

    def __iter__(self) -> _Resumption:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def __repr__(self) -> str:
        return f"<resumption of {self._coro!r}>"
