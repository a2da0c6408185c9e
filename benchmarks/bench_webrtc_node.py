"""Node figures over WebRTC DataChannels across processes, against bare aiortc.

Processes: the signaling server and a ``benchmarks._node`` echo/sink node
(child CPU), a ``benchmarks._bare_peer`` bare aiortc peer (child CPU), and
this process (measuring CPU) with a ``bench+client`` node and the bare
baseline's sending side. Everything is opened once per run and shared by
the figures below; rounds of ours and the baseline alternate so both see the
same machine noise, and warm-up rounds are discarded.

* ``webrtc.call_rtt``: a full call of 16 bytes (envelope, gates, scheduler,
  reply) vs a bare DataChannel echo of 16 bytes. Target <= 1.3x at p50.
* ``webrtc.calls.cN``: calls/s with N concurrent callers (1, 10, 100) vs a
  bare echo keeping N messages in flight.
* ``webrtc.tells_64B``: one-way tells of 64-byte payloads, counted where they
  are handled, vs bare one-way 64-byte messages counted where they arrive.
  Target >= 10x.
* ``webrtc.stream.<lane>.<size>``: MB/s of ``send_data_stream`` chunks on
  STREAM_RELIABLE and STREAM_LATENCY_FIRST, counted by the receiving stream
  callback, vs bare messages of the same size on a channel of the same
  reliability with ``bufferedAmount`` back pressure. Targets: reliable 1 KiB
  >= 3x, reliable 256 KiB >= 2x.
* ``webrtc.connect``: the first call to a peer this node has no connection
  to (signaling round trips, role negotiation, offer/answer, ICE, DTLS, SCTP,
  channel opens and the call) vs a bare peer connection to the bare child
  (offer/answer over its pipe, ICE, DTLS, SCTP, one channel, one echo).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from aiortc import RTCDataChannel

from actr_py import ActrRef, DataStream, PayloadType

from ._harness import BenchContext, Record, benchmark, latency_record, throughput_record
from ._node import STREAMS
from ._nodes import NodeChild, client_node, node_child, signaling
from ._rtc import BareLink, BareRemote, bare_remote, bare_send

__all__: list[str] = []

_ECHO = "bench.Echo.Bytes"
_SMALL = b"\x0a\x0e" + b"x" * 14  # 16 bytes that look like a protobuf to the framing
_QUIET = 1.0  # a lossy lane is done when nothing arrived for this long


class _Echo:
    """Routes the bare echo channel's replies to whichever measurement is running."""

    def __init__(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        self.on_reply: Callable[[bytes], None] = lambda m: None
        channel.on("message", lambda m: self.on_reply(m))


@dataclass
class _Env:
    url: str
    node: NodeChild
    client: ActrRef
    bare: BareRemote
    link: BareLink
    echo: _Echo
    sequences: dict[str, int] = field(default_factory=dict)

    async def expect(self, label: str, count: int) -> dict[str, float]:
        got = await self.client.context.call(
            self.node.actor_id, "bench.Sink.Expect", [label, count, _QUIET], timeout=120
        )
        return dict(zip(("count", "bytes", "first", "last"), got, strict=True))


@contextlib.asynccontextmanager
async def _open_env() -> AsyncIterator[_Env]:
    async with (
        signaling() as url,
        node_child(url) as node,
        bare_remote() as bare,
        client_node(url) as client,
    ):
        await client.context.call(node.actor_id, _ECHO, b"warm")  # connects
        link = await bare.connect()
        try:
            yield _Env(url, node, client, bare, link, _Echo(link.channels["echo"]))
        finally:
            await bare.close(link)


async def _env(ctx: BenchContext) -> _Env:
    return await ctx.shared("webrtc-node", _open_env)


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
    loop = asyncio.get_running_loop()
    send = env.echo.channel.send
    clock = time.perf_counter_ns
    out = []
    pong: list[asyncio.Future[None]] = []
    env.echo.on_reply = lambda m: pong[0].done() or pong[0].set_result(None)
    for _ in range(n):
        pong[:] = [loop.create_future()]
        t0 = clock()
        send(_SMALL)
        await pong[0]
        out.append((clock() - t0) / 1000)
    return out


@benchmark("webrtc.call_rtt")
async def call_rtt(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    rounds, per_round = ctx.n(10, 3), ctx.n(500, 300)
    mine: list[float] = []
    base: list[float] = []
    gc.collect()
    for i in range(rounds + 1):
        o, b = await _ours_rtt(env, per_round), await _bare_rtt(env, per_round)
        if i:
            mine += o
            base += b
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
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    send = env.echo.channel.send
    sent = received = 0

    def on_reply(message: bytes) -> None:
        nonlocal sent, received
        received += 1
        if sent < total:
            sent += 1
            send(message)
        elif received == total and not done.done():
            done.set_result(None)

    env.echo.on_reply = on_reply
    t0 = time.perf_counter()
    for _ in range(window):
        sent += 1
        send(_SMALL)
    await done
    return total / (time.perf_counter() - t0)


@benchmark("webrtc.calls")
async def calls(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    records = []
    for callers in (1, 10, 100):
        total = ctx.n(3000, 1000) * (1 if callers == 1 else 2)
        rounds = ctx.n(3, 1)
        await _ours_calls(env, total // 5, callers)  # warm-up
        await _bare_calls(env, total // 5, callers)
        ours, base = [], []
        for _ in range(rounds):
            ours.append(await _ours_calls(env, total, callers))
            base.append(await _bare_calls(env, total, callers))
        records.append(
            throughput_record(
                f"webrtc.calls.c{callers}", max(ours),
                f"bare aiortc echo, {callers} in flight", max(base), unit="calls/s",
                note=f"{callers} concurrent callers, {total} calls of 16 B, best of {rounds}",
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


async def _bare_oneway(env: _Env, label: str, n: int, payload: bytes) -> tuple[float, float]:
    """(messages/s, bytes/s) of bare messages on ``label`` counted by the child."""
    t0 = time.monotonic()
    await bare_send(env.link.channels[label], payload, n)
    got = await env.bare.expect(label, n, _QUIET)
    elapsed = got["last"] - t0
    return got["count"] / elapsed, got["bytes"] / elapsed


@benchmark("webrtc.tells")
async def tells(ctx: BenchContext) -> list[Record]:
    env = await _env(ctx)
    payload = bytes(range(64))
    n_ours, n_bare = ctx.n(60_000, 20_000), ctx.n(6_000, 2_000)
    rounds = ctx.n(3, 1)
    await _ours_tells(env, n_ours // 10, payload)  # warm-up
    await _bare_oneway(env, "sink-reliable", n_bare // 10, payload)
    ours, base = [], []
    for _ in range(rounds):
        ours.append(await _ours_tells(env, n_ours, payload))
        base.append((await _bare_oneway(env, "sink-reliable", n_bare, payload))[0])
    return [
        throughput_record(
            "webrtc.tells_64B", max(ours), "bare aiortc one-way 64 B messages", max(base),
            unit="msg/s", target=">= 10",
            note=f"{n_ours} tells (bare: {n_bare} messages) counted where they land, "
            f"best of {rounds}",
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


#: chunk size -> (full, quick) bytes per measurement of ours; bare moves a third
#: of it (it is that much slower, and rates do not depend on the volume).
_VOLUME = {64: (1_000_000, 300_000), 1024: (16_000_000, 4_000_000),
           16 * 1024: (48_000_000, 12_000_000), 256 * 1024: (64_000_000, 16_000_000)}
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
            volume = ctx.n(*_VOLUME[size])
            n = max(8, volume // size)
            n_bare = max(8, n // 3)
            await _ours_stream(env, pt, max(4, n // 10), payload)  # warm-up
            await _bare_oneway(env, label, max(4, n_bare // 10), payload)
            ours, base = [], []
            for _ in range(rounds):
                ours.append(await _ours_stream(env, pt, n, payload))
                base.append((await _bare_oneway(env, label, n_bare, payload))[1])
            records.append(
                throughput_record(
                    f"webrtc.stream.{lane}.{name}", max(ours) / 1e6,
                    f"bare aiortc {name} messages", max(base) / 1e6, unit="MB/s",
                    target=_TARGETS.get((pt.name, size), ""),
                    note=f"{n} chunks (bare: {n_bare}) on {pt.name}, delivered bytes "
                    f"per second, best of {rounds}",
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
