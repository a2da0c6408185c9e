"""WebSocket lane figures between two processes, against bare aiohttp WebSockets.

A child process (``python -m benchmarks.bench_websocket_wire --serve``) runs
both servers: our WebSocketListener, which echoes or counts frames, and a
bare aiohttp WebSocket endpoint doing the same with one frame per message.
The parent measures:

* ``websocket.wire.rtt`` - a call-like round trip of a 16-byte frame over our
  WebSocketConnection vs the same over a bare aiohttp WebSocket echo. Rounds
  alternate between the two so both see the same machine noise; warm-up
  rounds are discarded. This is the floor of a node RPC over this wire.
* ``websocket.wire.oneway_64B`` / ``_1KiB`` - frames per second pushed one way
  until the far side has counted them all (it acknowledges the last), vs
  ``await ws.send_bytes`` of one frame per WebSocket message.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import hashlib
import hmac
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
from aiohttp import web

from actr_py import loop as actr_loop
from actr_py.errors import Unauthorized
from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType
from actr_py.proto import actr_pb2, package_pb2
from actr_py.wire.websocket import (
    WebSocketConnection,
    WebSocketListener,
    connect_websocket,
)

from ._harness import (
    BenchContext,
    Record,
    benchmark,
    cpu_plan,
    latency_record,
    throughput_record,
)

_KEY = b"bench key"
_CLIENT = ActorId(1, 0x1, ActrTypeName("bench", "client"))
_SERVER = ActorId(1, 0x2, ActrTypeName("bench", "server"))
_RTT = PayloadType.RPC_RELIABLE
_BULK = PayloadType.STREAM_RELIABLE
_ACK = PayloadType.RPC_SIGNAL
_ROOT = Path(__file__).resolve().parents[1]


def _credential(actor_id: ActorId) -> actr_pb2.AIdCredential:
    token = hmac.new(_KEY, str(actor_id).encode(), hashlib.sha256).digest()
    return actr_pb2.AIdCredential(encrypted_token=token, token_key_id=1)


async def _authenticate(hello: package_pb2.LaneHello) -> ActorId:
    claimed = ActorId.from_proto(hello.actr_id)
    if not hmac.compare_digest(
        _credential(claimed).encrypted_token, hello.credential.encrypted_token
    ):
        raise Unauthorized("bad credential")
    return claimed


# ---- the serving process ------------------------------------------------------------


async def _serve() -> None:
    """Echo RTT frames; count bulk frames and acknowledge each completed batch.

    A bulk batch starts with an ACK-typed frame carrying the expected count.
    """
    conns: dict[ActorId, WebSocketConnection] = {}
    expected = 0
    counted = 0

    async def on_frame(peer: ActorId, payload_type: PayloadType, data: bytes) -> None:
        nonlocal expected, counted
        if payload_type is _RTT:
            await conns[peer].send(_RTT, data)
        elif payload_type is _ACK:
            expected, counted = int(data), 0
        else:
            counted += 1
            if counted == expected:
                await conns[peer].send(_ACK, b"done")

    listener = WebSocketListener(
        self_id=_SERVER,
        credential_provider=_credential(_SERVER),
        authenticate=_authenticate,
        on_frame=on_frame,
        on_connection=lambda c: conns.__setitem__(c.peer_id, c),
    )
    await listener.start()

    async def bare(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False, max_msg_size=64 * 1024 * 1024)
        await ws.prepare(request)
        want = got = 0
        async for msg in ws:
            data = msg.data
            kind = data[0]
            if kind == _RTT:
                await ws.send_bytes(data)
            elif kind == _ACK:
                want, got = int(data[1:]), 0
            else:
                got += 1
                if got == want:
                    await ws.send_bytes(bytes([_ACK]) + b"done")
        return ws

    app = web.Application()
    app.router.add_get("/bare", bare)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(listener.address, f"ws://127.0.0.1:{port}/bare", flush=True)
    # Serve until the parent closes our stdin.
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()


# ---- the measuring process ----------------------------------------------------------


class _Ours:
    def __init__(self) -> None:
        self.conn: WebSocketConnection | None = None
        self._reply: asyncio.Future[bytes] | None = None

    async def on_frame(self, _peer: ActorId, _t: PayloadType, data: bytes) -> None:
        reply = self._reply
        if reply is not None and not reply.done():
            reply.set_result(data)

    def expect(self) -> asyncio.Future[bytes]:
        self._reply = asyncio.get_running_loop().create_future()
        return self._reply

    async def rtt_round(self, n: int, payload: bytes) -> list[float]:
        conn = self.conn
        assert conn is not None
        clock = time.perf_counter_ns
        out = []
        for _ in range(n):
            t0 = clock()
            reply = self.expect()
            await conn.send(_RTT, payload)
            await reply
            out.append((clock() - t0) / 1000)
        return out

    async def oneway(self, n: int, payload: bytes) -> float:
        conn = self.conn
        assert conn is not None
        await conn.send(_ACK, str(n).encode())
        done = self.expect()
        t0 = time.perf_counter()
        for _ in range(n):
            await conn.send(_BULK, payload)
        await done
        return n / (time.perf_counter() - t0)


class _Bare:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def rtt_round(self, n: int, payload: bytes) -> list[float]:
        ws = self.ws
        frame = bytes([_RTT]) + payload
        clock = time.perf_counter_ns
        out = []
        for _ in range(n):
            t0 = clock()
            await ws.send_bytes(frame)
            await ws.receive()
            out.append((clock() - t0) / 1000)
        return out

    async def oneway(self, n: int, payload: bytes) -> float:
        ws = self.ws
        frame = bytes([_BULK]) + payload
        await ws.send_bytes(bytes([_ACK]) + str(n).encode())
        t0 = time.perf_counter()
        for _ in range(n):
            await ws.send_bytes(frame)
        await ws.receive()
        return n / (time.perf_counter() - t0)


@contextlib.asynccontextmanager
async def serving() -> AsyncIterator[tuple[str, str]]:
    """The serving process for a run: yields (our listener's URL, the bare echo's URL)."""
    proc = await serve_process()
    try:
        assert proc.stdout is not None
        ours_url, bare_url = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
        yield ours_url, bare_url
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            proc.kill()
            await proc.wait()


@benchmark("websocket.wire")
async def websocket_wire(ctx: BenchContext) -> list[Record]:
    ours_url, bare_url = await ctx.shared("ws-serve", serving)
    ours = _Ours()
    session = aiohttp.ClientSession()
    try:
        ours.conn = await connect_websocket(
            ours_url,
            self_id=_CLIENT,
            credential=_credential(_CLIENT),
            expected_peer=_SERVER,
            authenticate=_authenticate,
            on_frame=ours.on_frame,
        )
        bare = _Bare(
            await session.ws_connect(bare_url, compress=0, max_msg_size=64 * 1024 * 1024)
        )
        records = [await _rtt(ctx, ours, bare)]
        for size, label in ((64, "64B"), (1024, "1KiB")):
            records.append(await _oneway(ctx, ours, bare, size, label))
        await bare.ws.close()
        return records
    finally:
        if ours.conn is not None:
            await ours.conn.close()
        await session.close()


async def _rtt(ctx: BenchContext, ours: _Ours, bare: _Bare) -> Record:
    payload = b"x" * 16
    rounds, per_round = ctx.n(20, 4), ctx.n(2000, 400)
    mine: list[float] = []
    base: list[float] = []
    gc.collect()
    for i in range(rounds + 2):
        o = await ours.rtt_round(per_round, payload)
        b = await bare.rtt_round(per_round, payload)
        if i >= 2:  # warm-up rounds excluded
            mine += o
            base += b
    return latency_record(
        "websocket.wire.rtt",
        mine,
        "bare aiohttp WS echo",
        base,
        target="<= 1.5",
        note="16 B frame there and back between two processes over 127.0.0.1",
    )


async def _oneway(ctx: BenchContext, ours: _Ours, bare: _Bare, size: int, label: str) -> Record:
    payload = b"y" * size
    n = ctx.n(100_000, 15_000)
    rounds = ctx.n(5, 2)  # best of: a shared machine only ever slows a round down
    mine: list[float] = []
    base: list[float] = []
    await ours.oneway(n // 10, payload)  # warm-up
    await bare.oneway(n // 10, payload)
    for _ in range(rounds):
        mine.append(await ours.oneway(n, payload))
        base.append(await bare.oneway(n, payload))
    best_ours, best_base = max(mine), max(base)
    return throughput_record(
        f"websocket.wire.oneway_{label}",
        best_ours,
        "bare aiohttp send_bytes",
        best_base,
        unit="frames/s",
        note=f"{n} frames of {size} B, best of {rounds}; "
        f"{best_ours * size / 1e6:.1f} vs {best_base * size / 1e6:.1f} MB/s",
    )


async def serve_process() -> asyncio.subprocess.Process:
    """Start the serving process on this run's loop kind, pinned like every child."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bench_websocket_wire", "--serve",
        cwd=_ROOT, env=dict(os.environ, **{actr_loop.LOOP_ENV: actr_loop.loop_kind()}),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    cpu_plan().pin_child(proc.pid)
    return proc


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", action="store_true", help="run the serving process")
    args = parser.parse_args()
    if not args.serve:
        parser.error("run through `python -m benchmarks --only websocket`")
    with contextlib.suppress(KeyboardInterrupt):
        actr_loop.run(_serve())


if __name__ == "__main__":
    main()
