"""Hooks order, shutdown grace, context-manager form, misuse errors."""

from __future__ import annotations

import asyncio

import pytest

from actr_py import ActrConfig, ActrSystem, Context, Unavailable, Workload, handler
from actr_py.errors import ConfigError, StateError


class Recorder(Workload):
    def __init__(self, log: list[str]) -> None:
        self.log = log

    async def on_start(self, ctx: Context) -> None:
        self.log.append(f"start:{ctx.self_id.type}")

    async def on_stop(self, ctx: Context) -> None:
        self.log.append("stop")

    @handler("r.Rec.Work")
    async def work(self, ctx: Context, req: float) -> str:
        self.log.append("work-begin")
        await asyncio.sleep(req)
        self.log.append("work-end")
        return "ok"


async def test_hooks_run_in_order_and_on_stop_waits_for_in_flight(hub) -> None:
    log: list[str] = []
    ref = await ActrSystem("acme+rec", hub=hub).attach(Recorder(log)).start()
    client = await ActrSystem("acme+client", hub=hub).attach(Workload()).start()
    call = asyncio.ensure_future(client.context.call(ref.actor_id, "r.Rec.Work", 0.2))
    await asyncio.sleep(0.05)
    await ref.shutdown(grace=2.0)
    assert await call == "ok"
    assert log == ["start:acme+rec", "work-begin", "work-end", "stop"]
    await client.shutdown()


async def test_grace_expiry_cancels_in_flight_and_caller_gets_503(hub) -> None:
    log: list[str] = []
    ref = await ActrSystem("acme+rec", hub=hub).attach(Recorder(log)).start()
    client = await ActrSystem("acme+client", hub=hub).attach(Workload()).start()
    call = asyncio.ensure_future(client.context.call(ref.actor_id, "r.Rec.Work", 10.0))
    queued = asyncio.ensure_future(client.context.call(ref.actor_id, "r.Rec.Work", 0.0))
    await asyncio.sleep(0.05)
    await ref.shutdown(grace=0.1)
    for fut in (call, queued):
        with pytest.raises(Unavailable):
            await fut
    assert log == ["start:acme+rec", "work-begin", "stop"]
    await client.shutdown()


async def test_requests_after_shutdown_began_are_refused_503(hub) -> None:
    log: list[str] = []
    ref = await ActrSystem("acme+rec", hub=hub).attach(Recorder(log)).start()
    client = await ActrSystem("acme+client", hub=hub).attach(Workload()).start()
    busy = asyncio.ensure_future(client.context.call(ref.actor_id, "r.Rec.Work", 0.3))
    await asyncio.sleep(0.02)
    stopping = asyncio.ensure_future(ref.shutdown(grace=2.0))
    await asyncio.sleep(0.02)
    with pytest.raises(Unavailable, match="stopping"):
        await client.context.call(ref.actor_id, "r.Rec.Work", 0.0)
    assert await busy == "ok"
    await stopping
    await client.shutdown()


async def test_context_manager_form_and_wait_for_shutdown(hub) -> None:
    log: list[str] = []
    node = ActrSystem("acme+rec", hub=hub).attach(Recorder(log))
    async with node as ref:
        assert await ref.call("r.Rec.Work", 0) == "ok"
        waiter = asyncio.ensure_future(ref.wait_for_shutdown())
        await asyncio.sleep(0)
        assert not waiter.done()
    await asyncio.wait_for(waiter, 2)
    assert log[-1] == "stop"
    assert not hub.is_registered(ref.actor_id)


async def test_failing_on_start_leaves_nothing_registered(hub) -> None:
    class Broken(Workload):
        async def on_start(self, ctx: Context) -> None:
            raise RuntimeError("cannot start")

    node = ActrSystem("acme+broken", hub=hub).attach(Broken())
    with pytest.raises(RuntimeError, match="cannot start"):
        await node.start()
    assert hub.find(ActrConfig(actr_type="acme+broken").actr_type, 1) == []


async def test_misuse_errors(hub) -> None:
    system = ActrSystem("acme+x", hub=hub)
    node = system.attach(Workload())
    with pytest.raises(StateError):
        system.attach(Workload())
    with pytest.raises(StateError):
        _ = node.actor_id
    with pytest.raises(TypeError):
        ActrSystem("acme+y", hub=hub).attach(object())  # type: ignore[arg-type]
    ref = await node.start()
    with pytest.raises(StateError):
        await node.start()
    await ref.shutdown()
    await ref.shutdown()  # idempotent
    with pytest.raises(StateError):
        await ref.context.call(ref.actor_id, "x.Y.Z", 1)


def test_duplicate_route_is_a_config_error() -> None:
    class Twice(Workload):
        @handler("a.B.C")
        async def one(self, ctx, req): ...

        @handler("a.B.C")
        async def two(self, ctx, req): ...

    with pytest.raises(ConfigError, match="two handlers"):
        ActrSystem("acme+twice").attach(Twice())


async def test_several_nodes_share_one_process(hub) -> None:
    class Adder(Workload):
        @handler("m.Add.One")
        async def one(self, ctx: Context, req: int) -> int:
            return req + 1

    refs = [await ActrSystem("acme+adder", hub=hub).attach(Adder()).start() for _ in range(5)]
    client = await ActrSystem("acme+client", hub=hub).attach(Workload()).start()
    results = await asyncio.gather(
        *(client.context.call(r.actor_id, "m.Add.One", i) for i, r in enumerate(refs))
    )
    assert results == [1, 2, 3, 4, 5]
    assert len({r.actor_id for r in refs}) == 5
    for r in [*refs, client]:
        await r.shutdown()
