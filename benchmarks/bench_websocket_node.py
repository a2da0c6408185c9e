"""Node RPC across two processes over the WebSocket lane, against bare aiohttp.

Processes: a signaling server, an echo node (``tests.support.node_main``)
and, for the baseline, the bare aiohttp WebSocket echo served by
``benchmarks.bench_websocket_wire --serve``. This process runs a client node
and measures a full call (envelope, gates, scheduler, reply) of a 16-byte
payload against a bare ``send_bytes``/``receive`` echo, in alternating
rounds; warm-up rounds are discarded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from actr_py import ActrConfig, ActrSystem, Workload
from actr_py.wire.inproc import InprocHub

from ._harness import BenchContext, Record, benchmark, latency_record

_ROOT = Path(__file__).resolve().parents[1]


@contextlib.asynccontextmanager
async def _bare_echo_server():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.bench_websocket_wire", "--serve",
        cwd=_ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode().split()
        yield line[1]
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


@benchmark("websocket.call_rtt")
async def websocket_call_rtt(ctx: BenchContext) -> list[Record]:
    sys.path.insert(0, str(_ROOT))
    from tests.support.nodes import node_process
    from tests.support.signaling import signaling_server

    payload = b"x" * 16
    rounds, per_round = ctx.n(20, 6), ctx.n(500, 200)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            signaling_server(Path(tmp)) as srv,
            node_process(srv.url, "--type", "bench+echo", "--allow", "bench+client") as child,
            _bare_echo_server() as bare_url,
            aiohttp.ClientSession() as session,
            session.ws_connect(bare_url, compress=0) as ws,
        ):
            config = ActrConfig(actr_type="bench+client", signaling_url=srv.url)
            client = await ActrSystem(config, hub=InprocHub()).attach(Workload()).start()
            call = client.context.call
            target = child.actor_id
            frame = b"\x00" + payload

            async def ours(n: int) -> list[float]:
                out = []
                for _ in range(n):
                    t0 = clock()
                    await call(target, "test.Echo.Bytes", payload)
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
            for i in range(rounds + 2):
                o, b = await ours(per_round), await bare(per_round)
                if i >= 2:
                    mine += o
                    base += b
            await client.shutdown()
    return [
        latency_record(
            "websocket.call_rtt", mine, "bare aiohttp WebSocket echo (2 processes)", base,
            target="<= 1.5", note="node -> node call across processes over the WebSocket lane",
        )
    ]
