"""Node RPC across two processes over the WebSocket lane, against bare aiohttp.

Processes: the signaling server and a ``benchmarks._node`` echo node with
WebRTC off (so the WebSocket lane is the only way in), and, for the
baseline, the bare aiohttp WebSocket echo served by
``benchmarks.bench_websocket_wire --serve``; all on the child CPU. This
process runs a client node, also with WebRTC off, and measures a full call
(envelope, gates, scheduler, reply) of a 16-byte payload against a bare
``send_bytes``/``receive`` echo, in alternating rounds; warm-up rounds are
discarded.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import AsyncIterator

import aiohttp

from actr_py import PayloadType

from ._harness import BenchContext, Record, benchmark, latency_record
from ._nodes import client_node, node_child, signaling
from .bench_websocket_wire import serve_process

__all__: list[str] = []


@contextlib.asynccontextmanager
async def _bare_echo_server() -> AsyncIterator[str]:
    proc = await serve_process()
    try:
        assert proc.stdout is not None
        line = (await proc.stdout.readline()).decode().split()
        yield line[1]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


@benchmark("websocket.call_rtt")
async def websocket_call_rtt(ctx: BenchContext) -> list[Record]:
    payload = b"x" * 16
    rounds, per_round = ctx.n(20, 4), ctx.n(500, 250)
    clock = time.perf_counter_ns
    async with (
        signaling() as url,
        node_child(url, "--listen", "127.0.0.1:0", "--no-webrtc") as child,
        _bare_echo_server() as bare_url,
        aiohttp.ClientSession() as session,
        session.ws_connect(bare_url, compress=0) as ws,
        client_node(url, webrtc_enabled=False) as client,
    ):
        call = client.context.call
        target = child.actor_id
        frame = b"\x00" + payload

        async def ours(n: int) -> list[float]:
            out = []
            for _ in range(n):
                t0 = clock()
                await call(target, "bench.Echo.Bytes", payload)
                out.append((clock() - t0) / 1000)
            return out

        async def bare(n: int) -> list[float]:
            out = []
            for _ in range(n):
                t0 = clock()
                await ws.send_bytes(frame)
                await ws.receive()
                out.append((clock() - t0) / 1000)
            return out

        mine: list[float] = []
        base: list[float] = []
        gc.collect()
        for i in range(rounds + 1):
            o, b = await ours(per_round), await bare(per_round)
            if i:
                mine += o
                base += b
        lane = client.node.out_gate._lanes.get((target, PayloadType.RPC_RELIABLE))
        kind = lane.kind if lane is not None else "?"
    return [
        latency_record(
            "websocket.call_rtt", mine, "bare aiohttp WebSocket echo (2 processes)", base,
            target="<= 1.5",
            note=f"node -> node call across processes over the {kind} lane (WebRTC off)",
        )
    ]

