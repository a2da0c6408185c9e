"""DataStreams between nodes in one process."""

from __future__ import annotations

import asyncio

from actr_py import Context, DataStream, Dest, PayloadType, Workload, handler


class Sink(Workload):
    def __init__(self, n: int) -> None:
        self.n = n
        self.got: list[tuple[int, bytes]] = []
        self.senders: set[str] = set()
        self.done = asyncio.Event()

    async def on_start(self, ctx: Context) -> None:
        ctx.register_stream("s1", self.on_chunk)

    async def on_chunk(self, chunk: DataStream, sender) -> None:
        self.got.append((chunk.sequence, chunk.payload))
        self.senders.add(str(sender))
        if len(self.got) >= self.n:
            self.done.set()


class Source(Workload):
    @handler("src.Source.Pump")
    async def pump(self, ctx: Context, req: list) -> int:
        dest, n, stream_type = req
        for i in range(n):
            await ctx.send_data_stream(
                dest,
                DataStream(stream_id="s1", sequence=i, payload=i.to_bytes(4, "big")),
                payload_type=PayloadType(stream_type),
            )
        return n


async def test_ten_thousand_chunks_arrive_in_order(start) -> None:
    n = 10_000
    sink_w = Sink(n)
    sink = await start(sink_w, "acme+sink")
    src = await start(Source(), "acme+source")
    req = [str(sink.actor_id), n, PayloadType.STREAM_RELIABLE]
    await src.call("src.Source.Pump", req, timeout=30)
    await asyncio.wait_for(sink_w.done.wait(), 30)
    assert [s for s, _ in sink_w.got] == list(range(n))
    assert [int.from_bytes(p, "big") for _, p in sink_w.got] == list(range(n))
    assert sink_w.senders == {str(src.actor_id)}


async def test_latency_first_stream_delivers_in_order_when_nothing_is_lost(start) -> None:
    sink_w = Sink(500)
    sink = await start(sink_w, "acme+sink")
    src = await start(Source(), "acme+source")
    await src.call("src.Source.Pump", [str(sink.actor_id), 500, PayloadType.STREAM_LATENCY_FIRST])
    await asyncio.wait_for(sink_w.done.wait(), 10)
    assert [s for s, _ in sink_w.got] == list(range(500))


async def test_slow_consumer_backpressures_reliable_sender(start) -> None:
    """The sender waits instead of the registry buffering without bound."""
    release = asyncio.Event()

    class SlowSink(Workload):
        def __init__(self) -> None:
            self.got: list[int] = []

        async def on_start(self, ctx: Context) -> None:
            ctx.register_stream("s1", self.on_chunk)

        async def on_chunk(self, chunk: DataStream, sender) -> None:
            await release.wait()
            self.got.append(chunk.sequence)

    w = SlowSink()
    sink = await start(w, "acme+sink")
    sink.node.streams.queue_size = 8  # applies to streams registered later
    sink.node.streams.unregister("s1")
    sink.node.streams.register("s1", w.on_chunk)
    src = await start(Source(), "acme+source")
    pump = asyncio.ensure_future(
        src.call("src.Source.Pump", [str(sink.actor_id), 100, PayloadType.STREAM_RELIABLE])
    )
    await asyncio.sleep(0.1)
    assert not pump.done(), "the sender should be held back by the full queue"
    queued = sink.node.streams._streams["s1"].queue.qsize()
    assert queued <= 8
    release.set()
    assert await asyncio.wait_for(pump, 10) == 100
    await asyncio.sleep(0.05)
    assert w.got == list(range(100))


async def test_chunks_before_registration_are_held_then_delivered(start) -> None:
    got: list[int] = []
    done = asyncio.Event()

    class Late(Workload):
        @handler("l.Late.Open")
        async def open(self, ctx: Context, req: None) -> None:
            async def on_chunk(chunk: DataStream, sender) -> None:
                got.append(chunk.sequence)
                if len(got) == 20:
                    done.set()

            ctx.register_stream("s1", on_chunk)

    late = await start(Late(), "acme+late")
    src = await start(Source(), "acme+source")
    await src.call("src.Source.Pump", [str(late.actor_id), 20, PayloadType.STREAM_RELIABLE])
    assert late.node.streams.stats.delivered == 0
    await late.call("l.Late.Open", None)
    await asyncio.wait_for(done.wait(), 5)
    assert got == list(range(20))


async def test_stream_to_shell(start) -> None:
    class Producer(Workload):
        @handler("p.Producer.Go")
        async def go(self, ctx: Context, req: int) -> None:
            for i in range(req):
                await ctx.send_data_stream(Dest.shell(), DataStream(stream_id="out", sequence=i,
                                                                    payload=b"x"))

    ref = await start(Producer(), "acme+producer")
    got: list[int] = []
    done = asyncio.Event()

    async def on_chunk(chunk: DataStream, sender) -> None:
        got.append(chunk.sequence)
        if len(got) == 10:
            done.set()

    ref.register_stream("out", on_chunk)
    await ref.call("p.Producer.Go", 10)
    await asyncio.wait_for(done.wait(), 5)
    assert got == list(range(10))


async def test_stream_callback_error_reaches_on_error_and_stream_continues(start) -> None:
    errors: list[BaseException] = []
    got: list[int] = []
    done = asyncio.Event()

    class Fragile(Workload):
        async def on_start(self, ctx: Context) -> None:
            ctx.register_stream("s1", self.on_chunk)

        async def on_chunk(self, chunk: DataStream, sender) -> None:
            if chunk.sequence == 3:
                raise RuntimeError("bad chunk")
            got.append(chunk.sequence)
            if chunk.sequence == 9:
                done.set()

        async def on_error(self, ctx, error: BaseException) -> None:
            errors.append(error)

    f = await start(Fragile(), "acme+fragile")
    src = await start(Source(), "acme+source")
    await src.call("src.Source.Pump", [str(f.actor_id), 10, PayloadType.STREAM_RELIABLE])
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.sleep(0.02)
    assert got == [0, 1, 2, 4, 5, 6, 7, 8, 9]
    assert [str(e) for e in errors] == ["bad chunk"]
