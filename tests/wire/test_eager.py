"""start_eagerly: a coroutine runs in the caller's frame until it first waits.

Each test checks both what the coroutine saw and what the caller got back,
and compares with what an ordinary task does where the semantics must match.
"""

from __future__ import annotations

import asyncio
import contextvars
import types
from collections.abc import Generator
from typing import Any

import pytest

from actr_py.wire.eager import start_eagerly

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("VAR", default="unset")


def _tasks() -> set[asyncio.Task[Any]]:
    return set(asyncio.all_tasks())


# ---- finishing without suspending ------------------------------------------------------


async def test_completes_synchronously_without_a_task() -> None:
    log: list[str] = []

    async def handler(x: int) -> int:
        log.append(f"ran {x}")
        return x * 2

    before = _tasks()
    assert start_eagerly(handler(21)) is None
    # It ran to completion before start_eagerly returned, in this frame.
    assert log == ["ran 21"]
    assert _tasks() == before


async def test_nested_awaits_that_never_wait_complete_synchronously() -> None:
    fut = asyncio.get_running_loop().create_future()
    fut.set_result("ready")
    queue: asyncio.Queue[int] = asyncio.Queue()
    queue.put_nowait(7)

    async def inner() -> str:
        return await fut  # already done: no suspension

    async def handler() -> None:
        assert await inner() == "ready"
        assert await queue.get() == 7  # an item is there: no suspension
        await queue.put(8)  # unbounded queue: no suspension

    assert start_eagerly(handler()) is None
    assert queue.get_nowait() == 8


async def test_the_eager_part_runs_in_the_callers_task() -> None:
    seen: list[asyncio.Task[Any] | None] = []

    async def handler() -> None:
        seen.append(asyncio.current_task())

    assert start_eagerly(handler()) is None
    assert seen == [asyncio.current_task()]

    # From a plain loop callback (like data_received) there is no current task.
    done = asyncio.Event()

    def callback() -> None:
        assert start_eagerly(handler()) is None
        done.set()

    asyncio.get_running_loop().call_soon(callback)
    await done.wait()
    assert seen[1] is None


# ---- suspending ----------------------------------------------------------------------------


async def test_suspends_once_and_the_task_finishes_it() -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()
    steps: list[object] = []

    async def handler() -> str:
        steps.append("before")
        value = await fut
        steps.append(("after", value, asyncio.current_task()))
        return value.upper()

    task = start_eagerly(handler(), name="frame handler")
    assert isinstance(task, asyncio.Task)
    assert task.get_name() == "frame handler"
    assert steps == ["before"]  # ran up to the await, synchronously
    await asyncio.sleep(0)
    assert not task.done() and steps == ["before"]
    fut.set_result("go")
    assert await task == "GO"
    assert steps == ["before", ("after", "go", task)]


async def test_suspends_many_times_on_futures_sleeps_queues_and_tasks() -> None:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(0)
    trace: list[int] = []

    async def helper() -> int:
        await asyncio.sleep(0.001)
        return 5

    async def handler() -> list[int]:
        for i in range(1, 4):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, i)
            trace.append(await fut)
        await queue.put(4)  # full: waits until the consumer below takes item 0
        trace.append(4)
        await asyncio.sleep(0)  # bare yield
        trace.append(await loop.create_task(helper()))
        trace.append(await asyncio.wait_for(helper(), 1.0) + 1)
        return trace

    task = start_eagerly(handler())
    assert task is not None
    assert trace == []
    assert await queue.get() == 0
    assert await task == [1, 2, 3, 4, 5, 6]
    assert queue.get_nowait() == 4


async def test_asyncio_timeout_works_after_the_first_suspension() -> None:
    gate = asyncio.Event()

    async def handler() -> str:
        await gate.wait()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await asyncio.sleep(10)
        return "timed out properly"

    task = start_eagerly(handler())
    assert task is not None
    gate.set()
    assert await asyncio.wait_for(task, 2) == "timed out properly"


async def test_context_variables_set_before_the_suspension_are_seen_after_it() -> None:
    gate = asyncio.Event()

    async def handler() -> str:
        VAR.set("set eagerly")
        await gate.wait()
        return VAR.get()

    ctx = contextvars.copy_context()
    task = ctx.run(start_eagerly, handler())
    assert task is not None
    gate.set()
    assert await task == "set eagerly"
    assert VAR.get() == "unset"


# ---- exceptions --------------------------------------------------------------------------


async def test_raises_before_suspending_propagates_to_the_caller() -> None:
    cleaned: list[str] = []

    async def handler() -> None:
        try:
            raise ValueError("bad frame")
        finally:
            cleaned.append("finally")

    coro = handler()
    before = _tasks()
    with pytest.raises(ValueError, match="bad frame"):
        start_eagerly(coro)
    assert cleaned == ["finally"]
    assert coro.cr_frame is None  # finished: nothing left to resume
    assert _tasks() == before


async def test_raises_after_suspending_ends_up_in_the_task() -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def handler() -> None:
        await fut
        raise KeyError("late")

    task = start_eagerly(handler())
    assert task is not None
    fut.set_result(None)
    with pytest.raises(KeyError, match="late"):
        await task


async def test_a_failed_wait_is_thrown_into_the_coroutine() -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    caught: list[BaseException] = []

    async def handler() -> str:
        try:
            await fut
        except OSError as exc:
            caught.append(exc)
            return "recovered"
        return "not reached"

    task = start_eagerly(handler())
    assert task is not None
    fut.set_exception(OSError("socket gone"))
    assert await task == "recovered"
    assert isinstance(caught[0], OSError)


# ---- cancellation ------------------------------------------------------------------------


async def test_cancelled_while_suspended_like_any_task() -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def handler() -> None:
        try:
            await fut
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            seen.append("finally")

    task = start_eagerly(handler())
    assert task is not None
    await asyncio.sleep(0)  # the task now waits on fut
    task.cancel("lane closed")
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert fut.cancelled(), "the awaited future is cancelled, as a task would"
    assert seen == ["cancelled", "finally"]


async def test_cancelled_before_the_task_first_ran() -> None:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def handler() -> None:
        try:
            await fut
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = start_eagerly(handler())
    assert task is not None
    task.cancel()  # before the task's first step: it has not waited on fut yet
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["cancelled"]
    assert fut.cancelled()


async def test_a_coroutine_may_swallow_the_cancellation() -> None:
    gate = asyncio.Event()

    async def handler() -> str:
        try:
            await gate.wait()
        except asyncio.CancelledError:
            return "cleaned up and returned"
        return "not reached"

    task = start_eagerly(handler())
    assert task is not None
    await asyncio.sleep(0)
    task.cancel()
    # Same as a plain task: the coroutine's return value wins.
    assert await task == "cleaned up and returned"


# ---- yields that are not futures -----------------------------------------------------------


@types.coroutine
def _bare_yield() -> Generator[None, None, None]:
    yield


@types.coroutine
def _bad_yield() -> Generator[int, None, None]:
    yield 42


async def test_a_bare_yield_suspends_and_resumes_on_the_next_iteration() -> None:
    steps: list[int] = []

    async def handler() -> int:
        steps.append(1)
        await _bare_yield()
        steps.append(2)
        return 3

    task = start_eagerly(handler())
    assert task is not None
    assert steps == [1]
    assert await task == 3
    assert steps == [1, 2]


async def test_a_bad_yield_is_a_runtime_error_inside_the_coroutine_as_in_a_task() -> None:
    async def handler() -> None:
        await _bad_yield()

    eager = start_eagerly(handler())
    assert eager is not None
    with pytest.raises(RuntimeError, match="bad yield") as mine:
        await eager
    plain = asyncio.get_running_loop().create_task(handler())
    with pytest.raises(RuntimeError, match="bad yield") as theirs:
        await plain
    assert str(mine.value) == str(theirs.value)


async def test_a_future_of_another_loop_fails_as_in_a_task() -> None:
    other = asyncio.new_event_loop()
    try:
        foreign: asyncio.Future[None] = other.create_future()

        async def handler() -> None:
            await foreign

        task = start_eagerly(handler())
        assert task is not None
        with pytest.raises(RuntimeError, match="attached to a different loop"):
            await task
    finally:
        other.close()


async def test_any_awaitable_is_accepted() -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[int] = loop.create_future()
    done.set_result(1)
    assert start_eagerly(done) is None  # a finished future: nothing to wait for
    pending: asyncio.Future[int] = loop.create_future()
    task = start_eagerly(pending)
    assert task is not None
    pending.set_result(2)
    assert await task == 2
