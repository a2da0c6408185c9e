"""In-process figures: node-to-node call and shell call round trips.

Baseline: two asyncio tasks ping-ponging through two ``asyncio.Queue`` s, the
least any in-process request/response over the event loop can cost. Ours and
the baseline run in alternating rounds in the same loop so that both see the
same machine noise; warm-up rounds are discarded.
"""

from __future__ import annotations

import asyncio
import gc
import time

from actr_py import ActrSystem, Context, Workload, handler
from actr_py.wire.inproc import InprocHub

from ._harness import BenchContext, Record, benchmark, latency_record


class _Echo(Workload):
    @handler("bench.Echo.Say")
    async def say(self, ctx: Context, req: bytes) -> bytes:
        return req


async def _bare_pingpong_round(n: int) -> list[float]:
    q1: asyncio.Queue[bytes] = asyncio.Queue()
    q2: asyncio.Queue[bytes] = asyncio.Queue()

    async def echo() -> None:
        while True:
            q2.put_nowait(await q1.get())

    task = asyncio.get_running_loop().create_task(echo())
    await asyncio.sleep(0)
    clock = time.perf_counter_ns
    out = []
    payload = b"x" * 16
    for _ in range(n):
        t0 = clock()
        q1.put_nowait(payload)
        await q2.get()
        out.append((clock() - t0) / 1000)
    task.cancel()
    return out


@benchmark("inproc.call_rtt")
async def call_rtt(ctx: BenchContext) -> list[Record]:
    hub = InprocHub()
    service = await ActrSystem("bench+echo", hub=hub).attach(_Echo()).start()
    client = await ActrSystem("bench+client", hub=hub).attach(Workload()).start()
    call = client.context.call
    target = service.actor_id
    payload = b"x" * 16
    clock = time.perf_counter_ns

    async def ours_round(n: int) -> list[float]:
        out = []
        for _ in range(n):
            t0 = clock()
            await call(target, "bench.Echo.Say", payload)
            out.append((clock() - t0) / 1000)
        return out

    async def shell_round(n: int) -> list[float]:
        out = []
        shell = service.call
        for _ in range(n):
            t0 = clock()
            await shell("bench.Echo.Say", payload)
            out.append((clock() - t0) / 1000)
        return out

    rounds, per_round = ctx.n(40, 10), ctx.n(2000, 1000)
    ours: list[float] = []
    shell: list[float] = []
    base: list[float] = []
    gc.collect()
    for i in range(rounds + 2):
        o = await ours_round(per_round)
        s = await shell_round(per_round)
        b = await _bare_pingpong_round(per_round)
        if i >= 2:  # warm-up rounds excluded
            ours += o
            shell += s
            base += b
    await client.shutdown()
    await service.shutdown()
    return [
        latency_record(
            "inproc.call_rtt", ours, "asyncio.Queue ping-pong", base, target="<= 2.5",
            note="node -> node call through gates, lanes and the scheduler",
        ),
        latency_record(
            "inproc.shell_call_rtt", shell, "asyncio.Queue ping-pong", base,
            note="ActrRef.call into its own workload (zero-copy, no mailbox)",
        ),
    ]
