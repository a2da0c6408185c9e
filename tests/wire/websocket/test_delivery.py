"""How a lane hands frames to its FrameHandler: eagerly, in order, one at a time.

A handler that does not wait runs inside the protocol's ``data_received``
(no task, no loop hop); one that waits makes the lane hold every later frame
until it is done, and reading resumes afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from actr_py.errors import Unavailable
from actr_py.ids import ActorId
from actr_py.payload_type import PayloadType
from actr_py.wire.websocket import WebSocketConnection

from ._support import PairFactory

RPC = PayloadType.RPC_RELIABLE


async def test_a_handler_that_does_not_wait_runs_without_a_task(lane_pair: PairFactory) -> None:
    seen: list[tuple[bytes, asyncio.Task[object] | None]] = []
    done = asyncio.Event()

    async def handler(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        seen.append((data, asyncio.current_task()))
        if len(seen) == 3:
            done.set()

    caller, _, _, _ = await lane_pair(callee_frames=handler)
    for data in (b"a", b"b", b"c"):
        await caller.send(RPC, data)
        await asyncio.sleep(0.01)  # separate messages, separate reads
    await asyncio.wait_for(done.wait(), 3)
    # Called straight from the protocol callback: there is no task around it.
    assert seen == [(b"a", None), (b"b", None), (b"c", None)]


async def test_a_waiting_handler_continues_in_a_task(lane_pair: PairFactory) -> None:
    steps: list[tuple[str, bool]] = []
    started = asyncio.Event()
    release = asyncio.Event()
    finished = asyncio.Event()

    async def handler(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        steps.append(("before", asyncio.current_task() is None))
        started.set()
        await release.wait()
        steps.append(("after", asyncio.current_task() is None))
        finished.set()

    caller, _, _, _ = await lane_pair(callee_frames=handler)
    await caller.send(RPC, b"x")
    await asyncio.wait_for(started.wait(), 3)
    release.set()
    await asyncio.wait_for(finished.wait(), 3)
    assert steps == [("before", True), ("after", False)]


@pytest.mark.parametrize("burst", [True, False], ids=["coalesced", "one-per-message"])
async def test_order_holds_across_waiting_handlers(lane_pair: PairFactory, burst: bool) -> None:
    rng = random.Random(7)
    waits = {i for i in range(400) if rng.random() < 0.15}
    received: list[int] = []
    running = 0
    peak = 0
    all_in = asyncio.Event()

    async def handler(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        nonlocal running, peak
        i = int.from_bytes(data[:4], "big")
        running += 1
        peak = max(peak, running)
        try:
            if i in waits:
                await asyncio.sleep(rng.choice((0, 0.001, 0.003)))
            received.append(i)
        finally:
            running -= 1
        if len(received) == 400:
            all_in.set()

    caller, _, _, _ = await lane_pair(callee_frames=handler)
    for i in range(400):
        await caller.send(RPC, i.to_bytes(4, "big") + b"p" * (i % 50))
        if not burst:
            await asyncio.sleep(0)  # a loop turn per frame: one frame per message
    await asyncio.wait_for(all_in.wait(), 10)
    assert received == list(range(400))
    assert peak == 1, "a frame was delivered while the previous handler still ran"


async def test_a_handler_failing_after_it_waited_drops_only_its_frame(
    lane_pair: PairFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="actr_py.wire.websocket.connection")
    seen: list[bytes] = []
    got_last = asyncio.Event()

    async def handler(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        if data == b"late failure":
            await asyncio.sleep(0.01)
            raise RuntimeError("failed after waiting")
        seen.append(data)
        if data == b"z":
            got_last.set()

    caller, _, _, _ = await lane_pair(callee_frames=handler)
    for data in (b"a", b"late failure", b"z"):
        await caller.send(RPC, data)
    await asyncio.wait_for(got_last.wait(), 3)
    assert seen == [b"a", b"z"]
    assert "failed after waiting" in caplog.text and caller.usable


async def test_the_lane_keeps_sending_while_its_reader_waits(lane_pair: PairFactory) -> None:
    # A handler blocked on the callee's side must not stop the callee from
    # sending: replies and other traffic still flow the other way.
    release = asyncio.Event()
    holder: list[WebSocketConnection] = []

    async def blocking(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        if data == b"block":
            await release.wait()

    caller, callee, caller_sink, _ = await lane_pair(callee_frames=blocking)
    holder.append(callee)
    await caller.send(RPC, b"block")
    await asyncio.sleep(0.05)
    for i in range(100):
        await callee.send(RPC, b"%d" % i)
    await caller_sink.wait_for(100)
    assert caller_sink.payloads == [b"%d" % i for i in range(100)]
    release.set()


async def test_closing_the_lane_cancels_a_waiting_handler_and_drops_held_frames(
    lane_pair: PairFactory,
) -> None:
    cancelled = asyncio.Event()
    waiting = asyncio.Event()
    seen: list[bytes] = []

    async def handler(_peer: ActorId, _t: PayloadType, data: bytes) -> None:
        seen.append(data)
        if data == b"wait forever":
            waiting.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                cancelled.set()
                raise

    caller, callee, _, _ = await lane_pair(callee_frames=handler)
    await caller.send(RPC, b"wait forever")
    await caller.send(RPC, b"held")
    await asyncio.wait_for(waiting.wait(), 3)
    await callee.close("shutting down")
    await asyncio.wait_for(cancelled.wait(), 3)
    assert seen == [b"wait forever"]
    with pytest.raises(Unavailable):
        await callee.send(RPC, b"late")


async def test_a_handler_may_close_its_lane_after_waiting(lane_pair: PairFactory) -> None:
    holder: list[WebSocketConnection] = []
    closed = asyncio.Event()

    async def handler(_peer: ActorId, _t: PayloadType, _data: bytes) -> None:
        await asyncio.sleep(0.01)
        await holder[0].close("handler closed it")  # from inside its own continuation
        closed.set()

    caller, callee, _, _ = await lane_pair(callee_frames=handler)
    holder.append(callee)
    gone: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    caller.add_close_callback(lambda _c, exc: gone.set_result(exc))
    await caller.send(RPC, b"please close")
    await asyncio.wait_for(closed.wait(), 3)
    exc = await asyncio.wait_for(gone, 3)
    assert isinstance(exc, Unavailable) and "handler closed it" in exc.message
