"""RPC between nodes in one process: echo, tell, errors, timeout, cancel, A->B->A."""

from __future__ import annotations

import asyncio

import pytest

from actr_py import (
    BadRequest,
    Context,
    DeadlineExceeded,
    Dest,
    InternalError,
    NotFound,
    Unavailable,
    Workload,
    handler,
)
from actr_py.errors import Forbidden
from actr_py.proto import actr_pb2


class Echo(Workload):
    def __init__(self) -> None:
        self.told: list[object] = []
        self.told_event = asyncio.Event()

    @handler("demo.Echo.Say")
    async def say(self, ctx: Context, req: str) -> str:
        return f"echo:{req}"

    @handler("demo.Echo.Realm", request=actr_pb2.Realm, response=actr_pb2.Realm)
    async def realm(self, ctx: Context, req: actr_pb2.Realm) -> actr_pb2.Realm:
        return actr_pb2.Realm(realm_id=req.realm_id + 1)

    @handler("demo.Echo.Raw")
    async def raw(self, ctx: Context, req: bytes) -> bytes:
        return req[::-1]

    @handler("demo.Echo.Who")
    async def who(self, ctx: Context, req: None) -> list[str]:
        return [str(ctx.self_id), str(ctx.caller_id), ctx.request_id]

    @handler("demo.Echo.Note")
    async def note(self, ctx: Context, req: object) -> str:
        self.told.append(req)
        self.told_event.set()
        return "tells are never answered"

    @handler("demo.Echo.Fail")
    async def fail(self, ctx: Context, req: object) -> None:
        raise ValueError("boom")

    @handler("demo.Echo.Deny")
    async def deny(self, ctx: Context, req: object) -> None:
        raise Forbidden("not for you")

    @handler("demo.Echo.Slow")
    async def slow(self, ctx: Context, req: float) -> str:
        await asyncio.sleep(req)
        return "done"

    @handler("demo.Echo.Unencodable")
    async def unencodable(self, ctx: Context, req: object) -> object:
        return object()

    @handler("demo.Echo.Sync")
    def sync(self, ctx: Context, req: int) -> int:
        return req * 2


async def test_echo_plain_protobuf_and_bytes(start) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    ctx = client.context
    assert await ctx.call(echo.actor_id, "demo.Echo.Say", "hi") == "echo:hi"
    got = await ctx.call(
        Dest.actor(echo.actor_id), "demo.Echo.Realm", actr_pb2.Realm(realm_id=41),
        response_type=actr_pb2.Realm,
    )
    assert got == actr_pb2.Realm(realm_id=42)
    assert await ctx.call(str(echo.actor_id), "demo.Echo.Raw", b"abc") == b"cba"
    assert await ctx.call(echo.actor_id, "demo.Echo.Sync", 21) == 42


async def test_handler_sees_ids(start) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    self_id, caller, request_id = await client.context.call(echo.actor_id, "demo.Echo.Who", None)
    assert self_id == str(echo.actor_id)
    assert caller == str(client.actor_id)
    assert request_id


async def test_tell_is_delivered_and_never_answered(start) -> None:
    w = Echo()
    echo = await start(w, "acme+echo")
    client = await start(Workload(), "acme+client")
    await client.context.tell(echo.actor_id, "demo.Echo.Note", {"n": 1})
    await asyncio.wait_for(w.told_event.wait(), 5)
    assert w.told == [{"n": 1}]
    # Nothing came back: the client's gate saw no response at all.
    await asyncio.sleep(0.05)
    assert client.node.gate.stats.responses == 0
    assert echo.node.gate.stats.requests == 1


@pytest.mark.parametrize(
    ("route", "arg", "exc", "code", "text"),
    [
        ("demo.Echo.Nope", 1, NotFound, 404, "no handler for route 'demo.Echo.Nope'"),
        ("demo.Echo.Fail", 1, InternalError, 500, "handler error: ValueError: boom"),
        ("demo.Echo.Deny", 1, Forbidden, 403, "not for you"),
        ("demo.Echo.Realm", b"\xff\xff\xff", BadRequest, 400, "actr.Realm"),
        ("demo.Echo.Unencodable", 1, InternalError, 500, "cannot encode"),
    ],
)
async def test_errors_come_back_typed_with_codes(start, route, arg, exc, code, text) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    with pytest.raises(exc) as info:
        await client.context.call(echo.actor_id, route, arg, timeout=5)
    assert info.value.code == code
    assert text in info.value.message
    # The service keeps serving after every kind of failure.
    assert await client.context.call(echo.actor_id, "demo.Echo.Say", "ok") == "echo:ok"


async def test_timeout_is_504_and_leaves_no_pending_entry(start) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    with pytest.raises(DeadlineExceeded) as info:
        await client.context.call(echo.actor_id, "demo.Echo.Slow", 2.0, timeout=0.1)
    assert info.value.code == 504
    assert len(client.node.pending) == 0


async def test_cancelling_a_call_removes_its_entry(start) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    task = asyncio.ensure_future(client.context.call(echo.actor_id, "demo.Echo.Slow", 1.0))
    await asyncio.sleep(0.05)
    assert len(client.node.pending) == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(client.node.pending) == 0


async def test_call_to_unknown_actor_is_503(start, hub) -> None:
    client = await start(Workload(), "acme+client")
    from actr_py import ActorId

    with pytest.raises(Unavailable):
        await client.context.call(ActorId.parse("dead@1:acme+echo"), "demo.Echo.Say", "x")
    assert len(client.node.pending) == 0


async def test_pending_calls_fail_fast_when_the_callee_stops(start) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    task = asyncio.ensure_future(client.context.call(echo.actor_id, "demo.Echo.Slow", 30.0))
    await asyncio.sleep(0.05)
    await echo.shutdown(grace=0.05)
    with pytest.raises(Unavailable) as info:
        await asyncio.wait_for(task, 5)
    assert info.value.code == 503


class Ping(Workload):
    """A -> B -> A: A's handler calls B, whose handler calls back into A."""

    def __init__(self) -> None:
        self.peer = None

    @handler("chain.A.Start")
    async def start(self, ctx: Context, req: int) -> list[str]:
        inner = await ctx.call(self.peer, "chain.B.Bounce", req)
        return ["A.start", *inner]

    @handler("chain.A.Back")
    async def back(self, ctx: Context, req: int) -> list[str]:
        return [f"A.back({req})"]


class Pong(Workload):
    def __init__(self) -> None:
        self.peer = None

    @handler("chain.B.Bounce")
    async def bounce(self, ctx: Context, req: int) -> list[str]:
        inner = await ctx.call(ctx.caller_id, "chain.A.Back", req + 1)
        return ["B.bounce", *inner]


async def test_a_b_a_chain_completes_without_deadlock(start) -> None:
    a_w, b_w = Ping(), Pong()
    a = await start(a_w, "acme+a")
    b = await start(b_w, "acme+b")
    a_w.peer = b.actor_id
    client = await start(Workload(), "acme+client")
    got = await client.context.call(a.actor_id, "chain.A.Start", 1, timeout=3)
    assert got == ["A.start", "B.bounce", "A.back(2)"]
    # From the shell too (zero-copy path), which takes the serial turn.
    assert await a.call("chain.A.Start", 5, timeout=3) == ["A.start", "B.bounce", "A.back(6)"]


class Counter(Workload):
    """Serial by default: a read-modify-write with an await inside stays consistent."""

    def __init__(self) -> None:
        self.value = 0
        self.active = 0
        self.max_active = 0

    @handler("c.Counter.Add")
    async def add(self, ctx: Context, req: int) -> int:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        v = self.value
        await asyncio.sleep(0)
        self.value = v + req
        self.active -= 1
        return self.value

    @handler("c.Counter.Par", concurrency=4)
    async def par(self, ctx: Context, req: float) -> int:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(req)
        self.active -= 1
        return self.max_active


async def test_one_handler_at_a_time_by_default(start) -> None:
    w = Counter()
    c = await start(w, "acme+counter")
    clients = [await start(Workload(), "acme+client") for _ in range(3)]
    await asyncio.gather(
        *(cl.context.call(c.actor_id, "c.Counter.Add", 1) for cl in clients for _ in range(50))
    )
    assert w.value == 150 and w.max_active == 1


async def test_concurrent_handler_runs_up_to_its_limit(start) -> None:
    w = Counter()
    c = await start(w, "acme+counter")
    client = await start(Workload(), "acme+client")
    calls = [client.context.call(c.actor_id, "c.Counter.Par", 0.05) for _ in range(12)]
    await asyncio.gather(*calls)
    assert w.max_active == 4


async def test_rpc_signal_overtakes_queued_bulk(start) -> None:
    class Order(Workload):
        def __init__(self) -> None:
            self.seen: list[str] = []
            self.gate = asyncio.Event()

        @handler("o.Order.Block")
        async def block(self, ctx: Context, req: str) -> None:
            await self.gate.wait()

        @handler("o.Order.Bulk")
        async def bulk(self, ctx: Context, req: str) -> None:
            self.seen.append(req)

    from actr_py import PayloadType

    w = Order()
    o = await start(w, "acme+order")
    client = await start(Workload(), "acme+client")
    ctx = client.context
    blocker = asyncio.ensure_future(ctx.call(o.actor_id, "o.Order.Block", ""))
    await asyncio.sleep(0.02)
    calls = [asyncio.ensure_future(ctx.call(o.actor_id, "o.Order.Bulk", f"b{i}")) for i in range(5)]
    await asyncio.sleep(0.02)
    sig = asyncio.ensure_future(
        ctx.call(o.actor_id, "o.Order.Bulk", "signal", payload_type=PayloadType.RPC_SIGNAL)
    )
    await asyncio.sleep(0.02)
    w.gate.set()
    await asyncio.gather(blocker, sig, *calls)
    assert w.seen == ["signal", "b0", "b1", "b2", "b3", "b4"]


async def test_discover_finds_running_actor_by_type(start) -> None:
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    assert await client.context.discover("acme+echo") == echo.actor_id
    with pytest.raises(NotFound, match="acme\\+nothing"):
        await client.context.discover("acme+nothing")


async def test_local_dest_calls_own_workload(start) -> None:
    class SelfCaller(Workload):
        @handler("s.Self.Outer")
        async def outer(self, ctx: Context, req: int) -> int:
            # Same chain: runs re-entrantly instead of waiting behind itself.
            return await ctx.call(Dest.local(), "s.Self.Inner", req) + 1

        @handler("s.Self.Inner")
        async def inner(self, ctx: Context, req: int) -> int:
            return req * 10

    s = await start(SelfCaller(), "acme+self")
    client = await start(Workload(), "acme+client")
    assert await client.context.call(s.actor_id, "s.Self.Outer", 4, timeout=3) == 41


async def test_shell_dest_reaches_the_app(start) -> None:
    class ToShell(Workload):
        @handler("t.Shell.Ask")
        async def ask(self, ctx: Context, req: str) -> str:
            return await ctx.call(Dest.shell(), "app.Answer", req)

    ref = await start(ToShell(), "acme+shelly")

    async def answer(req: str) -> str:
        return req.upper()

    ref.register_handler("app.Answer", answer)
    assert await ref.call("t.Shell.Ask", "hey") == "HEY"
    client = await start(Workload(), "acme+client")
    assert await client.context.call(ref.actor_id, "t.Shell.Ask", "x") == "X"
