"""Node RPC across two processes over the WebSocket lane, against bare aiohttp.

Processes: the run's signaling server, a ``benchmarks._node`` echo node with
WebRTC off, and, for the baseline, the run's bare aiohttp WebSocket echo
(``benchmarks.bench_websocket_wire --serve``); all on the child CPU. This
process runs a client node, also with WebRTC off, and measures a full call
(envelope, gates, scheduler, reply) of a 16-byte payload against a bare
``send_bytes``/``receive`` echo, in alternating rounds; warm-up rounds are
discarded.
"""

from __future__ import annotations

import time

import aiohttp

from actr_py import PayloadType

from ._harness import BenchContext, Record, benchmark, interleaved, latency_record
from ._nodes import NodeChild, client_node, node_child, signaling
from .bench_websocket_wire import serving

__all__: list[str] = []


@benchmark("websocket.call_rtt")
async def websocket_call_rtt(ctx: BenchContext) -> list[Record]:
    url = await ctx.shared("signaling", signaling)
    _, bare_url = await ctx.shared("ws-serve", serving)
    async with node_child(url, "--listen", "127.0.0.1:0", "--no-webrtc") as child:
        return await _measure(ctx, url, child, bare_url)


async def _measure(ctx: BenchContext, url: str, child: NodeChild, bare_url: str) -> list[Record]:
    payload = b"x" * 16
    rounds, per_round = ctx.n(40, 10), ctx.n(100, 60)
    clock = time.perf_counter_ns
    async with (
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

        mine, base = await interleaved(ours, bare, rounds=rounds, per_round=per_round)
        lane = client.node.out_gate._lanes.get((target, PayloadType.RPC_RELIABLE))
        kind = lane.kind if lane is not None else "?"
    return [
        latency_record(
            "websocket.call_rtt", mine, "bare aiohttp WebSocket echo (2 processes)", base,
            target="<= 1.5",
            note=f"node -> node call across processes over the {kind} lane (WebRTC off)",
        )
    ]

