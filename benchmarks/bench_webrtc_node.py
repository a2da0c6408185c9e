"""Node figures over WebRTC DataChannels across processes, against bare aiortc.

Processes: the signaling server and a ``benchmarks._node`` echo/sink node
on the child CPU, with this process (measuring CPU) running a
``bench+client`` node against it; and for the baselines two
``benchmarks._bare_peer`` processes, the far end on the child CPU and the
sending end on the measuring CPU (this process waits meanwhile). Everything
is opened once per run and shared by the figures below. Ours and the
baseline alternate (latencies in many short rounds, rates in whole rounds
with a median), do the same amount of work, and a warm-up of each is
discarded.

* ``webrtc.call_rtt``: a full call of 16 bytes (envelope, gates, scheduler,
  reply) vs a bare DataChannel echo of 16 bytes. Target <= 1.3x at p50.
* ``webrtc.calls.cN``: calls/s with N concurrent callers (1, 10, 100) vs a
  bare echo keeping N messages in flight.
* ``webrtc.tells_64B``: one-way tells of 64-byte payloads, counted where they
  are handled, vs as many bare one-way 64-byte messages counted where they
  arrive. Target >= 10x.
* ``webrtc.stream.<lane>.<size>``: MB/s of ``send_data_stream`` chunks on
  STREAM_RELIABLE and STREAM_LATENCY_FIRST, counted by the receiving stream
  callback, vs the same volume of bare messages of the same size on a
  channel of the same reliability with ``bufferedAmount`` back pressure.
  Targets: reliable 1 KiB >= 3x, reliable 256 KiB >= 2x.
* ``webrtc.connect``: the first call to a peer this node has no connection
  to (signaling round trips, role negotiation, offer/answer, ICE, DTLS, SCTP,
  channel opens and the call) vs a bare peer connection to the bare child
  (offer/answer over its pipe, ICE, DTLS, SCTP, one channel, one echo).

Equal volumes matter: bare aiortc gets slower the longer a transfer runs
(its congestion window, and with it the sent queue it scans on every SACK,
keeps growing on a lossless path), so a shorter bare run would flatter it.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from actr_py import ActrRef, DataStream, PayloadType

from ._harness import (
    BenchContext,
    Record,
    benchmark,
    interleaved,
    latency_record,
    throughput_record,
)
from ._node import STREAMS
from ._nodes import NodeChild, client_node, node_child, signaling
from ._rtc import BareRemote, BareSender, bare_remote, bare_sender

__all__: list[str] = []

_ECHO = "bench.Echo.Bytes"
_SMALL = b"\x0a\x0e" + b"x" * 14  # 16 bytes that look like a protobuf to the framing
_QUIET = 1.0  # a lossy lane is done when nothing arrived for this long


@dataclass
class _Env:
    url: str
    node: NodeChild
    client: ActrRef
    bare: BareRemote
    sender: BareSender
    sequences: dict[str, int] = field(default_factory=dict)

    async def expect(self, label: str, count: int) -> dict[str, float]:
        got = await self.client.context.call(
            self.node.actor_id, "bench.Sink.Expect", [label, count, _QUIET], timeout=120
        )
        return dict(zip(("count", "bytes", "first", "last"), got, strict=True))


@contextlib.asynccontextmanager
async def _open_env(url: str, node: NodeChild, bare: BareRemote) -> AsyncIterator[_Env]:
    async with client_node(url) as client, bare_sender(bare) as sender:
        await client.context.call(node.actor_id, _ECHO, b"warm")  # connects
        yield _Env(url, node, client, bare, sender)


async def bench_node(ctx: BenchContext) -> tuple[str, NodeChild]:
    """The run's signaling server and benchmark node (also used by the WebSocket figures:
    the node listens for WebSocket lanes too)."""
    url = await ctx.shared("signaling", signaling)
    node = await ctx.shared("bench-node", lambda: node_child(url, "--listen", "127.0.0.1:0"))
    return url, node


def _lost_note(env: _Env) -> str:
    if not env.sender.lost:
        return ""
    return (f"; so far stock aiortc lost the bare link under load {env.sender.lost}x"
            " (it was rebuilt and the transfer repeated)")


async def _env(ctx: BenchContext) -> _Env:
    url, node = await bench_node(ctx)
    bare = await ctx.shared("bare-peer", bare_remote)
    return await ctx.shared("webrtc-node", lambda: _open_env(url, node, bare))


# ---- round trips ----------------------------------------------------------------------


async def _ours_rtt(env: _Env, n: int) -> list[float]:
    call = env.client.context.call
    target = env.node.actor_id
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        t0 = clock()
        await call(target, _ECHO, _SMALL)
        out.append((clock() - t0) / 1000)
    return out


async def _bare_rtt(env: _Env, n: int) -> list[float]:
    return await env.sender.rtt(n)


@benchmark("webrtc.call_rtt")
async def call_rtt(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    mine, base = await interleaved(
        lambda n: _ours_rtt(env, n), lambda n: _bare_rtt(env, n),
        rounds=ctx.n(40, 10), per_round=ctx.n(100, 60),
    )
    return [
        latency_record(
            "webrtc.call_rtt", mine, "bare aiortc DataChannel echo", base, target="<= 1.3",
            note="16 B node -> node call across processes over DataChannels",
        )
    ]


# ---- calls/s with concurrent callers ---------------------------------------------------


async def _ours_calls(env: _Env, total: int, callers: int) -> float:
    call = env.client.context.call
    target = env.node.actor_id
    left = total

    async def caller() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await call(target, _ECHO, _SMALL)

    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(callers)))
    return total / (time.perf_counter() - t0)


async def _bare_calls(env: _Env, total: int, window: int) -> float:
    return await env.sender.calls(total, window)


@benchmark("webrtc.calls")
async def calls(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    records = []
    for callers in (1, 10, 100):
        total = ctx.n(3000, 500) * (1 if callers == 1 else 2)
        rounds = ctx.n(3, 1)
        ours, base = await _alternate(
            lambda k: _ours_calls(env, k, callers),  # noqa: B023 - awaited at once
            lambda k: _bare_calls(env, k, callers),  # noqa: B023
            total, rounds,
        )
        records.append(
            throughput_record(
                f"webrtc.calls.c{callers}", ours,
                f"bare aiortc echo, {callers} in flight", base, unit="calls/s",
                note=f"{callers} concurrent callers, {total:,} calls of 16 B each side; "
                f"median of {rounds} alternating rounds",
            )
        )
    return records


# ---- one-way: tells and streams ---------------------------------------------------------


async def _ours_tells(env: _Env, n: int, payload: bytes) -> float:
    tell = env.client.context.tell
    target = env.node.actor_id
    t0 = time.monotonic()
    for _ in range(n):
        await tell(target, "bench.Sink.Tell", payload)
    got = await env.expect("tell", n)
    return got["count"] / (got["last"] - t0)


async def _bare_oneway(env: _Env, label: str, n: int, payload: bytes, unit: str) -> float:
    """Messages/s (``unit="msgs"``) or bytes/s of bare messages on ``label``,
    sent by the bare sending end and counted by the far end."""
    t0 = await env.sender.send(env.bare, label, len(payload), n)
    got = await env.bare.expect(label, n, _QUIET)
    return got["count" if unit == "msgs" else "bytes"] / (got["last"] - t0)


async def _alternate(
    ours: Callable[[int], Awaitable[float]],
    base: Callable[[int], Awaitable[float]],
    n: int,
    rounds: int,
) -> tuple[float, float]:
    """Median rate of ``ours(n)`` and ``base(n)`` over alternating rounds.

    A tenth-size warm-up of each comes first and is not counted.
    """
    await ours(max(4, n // 10))
    await base(max(4, n // 10))
    mine, theirs = [], []
    for _ in range(rounds):
        mine.append(await ours(n))
        theirs.append(await base(n))
    return statistics.median(mine), statistics.median(theirs)


@benchmark("webrtc.tells")
async def tells(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    payload = bytes(range(64))
    # The same number of messages on both sides: bare aiortc slows down as
    # its congestion window (and sent queue) grows, so rates depend on volume.
    # --quick keeps the volume (the figure depends on it) and runs one round.
    n, rounds = 20_000, ctx.n(3, 1)
    ours, base = await _alternate(
        lambda k: _ours_tells(env, k, payload),
        lambda k: _bare_oneway(env, "sink-reliable", k, payload, "msgs"),
        n, rounds,
    )
    return [
        throughput_record(
            "webrtc.tells_64B", ours, "bare aiortc one-way 64 B messages", base,
            unit="msg/s", target=">= 10",
            note=f"{n:,} tells vs {n:,} bare messages, counted where they land; "
            f"median of {rounds} alternating rounds"
            + _lost_note(env),
        )
    ]


async def _ours_stream(env: _Env, pt: PayloadType, n: int, payload: bytes) -> float:
    """Bytes/s of stream chunks counted by the receiving node's stream callback."""
    send = env.client.context.send_data_stream
    target = env.node.actor_id
    stream_id = STREAMS[pt.name]
    seq = env.sequences.get(stream_id, 0)
    t0 = time.monotonic()
    for i in range(seq, seq + n):
        await send(target, DataStream(stream_id=stream_id, sequence=i, payload=payload), pt)
    env.sequences[stream_id] = seq + n
    got = await env.expect(stream_id, n)
    return got["bytes"] / (got["last"] - t0)


#: chunk size -> (full, quick) bytes per measurement, the same for both sides
#: (bare aiortc's rate falls as a transfer goes on, see webrtc.tells, so a
#: smaller volume flatters the baseline). The sizes with a target keep all
#: (1 KiB) or half (256 KiB) their volume in --quick, long enough for both
#: sides to reach their pace; the others shrink to fit the two-minute budget.
_VOLUME = {64: (1_000_000, 100_000), 1024: (16_000_000, 16_000_000),
           16 * 1024: (32_000_000, 4_000_000), 256 * 1024: (48_000_000, 24_000_000)}
_LABELS = {64: "64B", 1024: "1KiB", 16 * 1024: "16KiB", 256 * 1024: "256KiB"}
_TARGETS = {("STREAM_RELIABLE", 1024): ">= 3", ("STREAM_RELIABLE", 256 * 1024): ">= 2"}


@benchmark("webrtc.stream")
async def streams(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    records = []
    rounds = ctx.n(3, 1)
    for pt, label in ((PayloadType.STREAM_RELIABLE, "sink-reliable"),
                      (PayloadType.STREAM_LATENCY_FIRST, "sink-latency")):
        lane = "reliable" if pt is PayloadType.STREAM_RELIABLE else "latency"
        for size, name in _LABELS.items():
            payload = bytes(size)
            n = max(8, ctx.n(*_VOLUME[size]) // size)
            ours, base = await _alternate(
                lambda k: _ours_stream(env, pt, k, payload),  # noqa: B023 - awaited at once
                lambda k: _bare_oneway(env, label, k, payload, "bytes"),  # noqa: B023
                n, rounds,
            )
            records.append(
                throughput_record(
                    f"webrtc.stream.{lane}.{name}", ours / 1e6,
                    f"bare aiortc {name} messages", base / 1e6, unit="MB/s",
                    target=_TARGETS.get((pt.name, size), ""),
                    note=f"{n:,} chunks each side on {pt.name}, delivered bytes per second; "
                    f"median of {rounds} alternating rounds" + _lost_note(env),
                )
            )
    return records


# ---- connection setup ---------------------------------------------------------------------


@benchmark("webrtc.connect")
async def connect(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    ours: list[float] = []
    base: list[float] = []
    loop = asyncio.get_running_loop()
    for i in range(ctx.n(8, 3) + 1):
        async with client_node(env.url) as ref:
            t0 = time.perf_counter()
            await ref.context.call(env.node.actor_id, _ECHO, _SMALL)
            o = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        link = await env.bare.connect(("echo",))
        pong: asyncio.Future[None] = loop.create_future()
        link.channels["echo"].on("message", lambda m, f=pong: f.done() or f.set_result(None))
        link.channels["echo"].send(_SMALL)
        await pong
        b = (time.perf_counter() - t0) * 1000
        await env.bare.close(link)
        if i:  # the first of each warms up imports and caches
            ours.append(o)
            base.append(b)
    return [
        latency_record(
            "webrtc.connect", ours, "bare aiortc connect + channel + echo", base, unit="ms",
            target="<= 2", note="first call to an unconnected peer across processes, "
            "signaling included; bare: offer/answer over a pipe",
        )
    ]
