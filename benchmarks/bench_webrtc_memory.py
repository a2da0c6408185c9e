"""Memory per idle WebRTC connection: RSS growth per open connection, in a fresh process.

Each side runs in its own child process (so nothing else this run allocated
is counted) on the run's loop kind:

* ours: one coordinator connects to N others through an in-memory relay
  (:func:`benchmarks._rtc.ours_local_pair`); every connection has its five
  DataChannels (four lanes and control), framing, flow control and heartbeat;
* baseline: N pairs of bare aiortc RTCPeerConnections, one DataChannel each.

Both ends of every connection live in the child, so the figure is the RSS
growth divided by 2N connection ends, measured once the connections are
idle (0.6 s after the last one opened, after a full garbage collection)
and after one warm-up connection has loaded code and caches.

Standalone: ``python -m benchmarks.bench_webrtc_memory --child ours|bare N``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys

from actr_py import loop as actr_loop
from actr_py.ids import ActorId, ActrTypeName
from actr_py.payload_type import PayloadType

from ._harness import BenchContext, Record, benchmark
from ._memory import rss
from ._procs import spawn

__all__: list[str] = []

async def _ignore(peer: ActorId, pt: PayloadType, data: bytes) -> None:
    return None


async def _ours(count: int) -> tuple[int, int, list[object]]:
    from ._rtc import ours_local_pair

    nodes: dict = {}
    hub = ActorId(1, 1, ActrTypeName("bench", "hub"))
    kept = []
    await ours_local_pair(hub, ActorId(1, 2, ActrTypeName("bench", "peer")), _ignore, _ignore,
                          nodes)  # warm-up
    await _settle()
    before = rss()
    for i in range(count):
        peer = ActorId(1, 100 + i, ActrTypeName("bench", "peer"))
        kept.append(await ours_local_pair(hub, peer, _ignore, _ignore, nodes))
    await _settle()
    return before, rss(), kept


async def _bare(count: int) -> tuple[int, int, list[object]]:
    from ._rtc import bare_local_pair

    kept = [await bare_local_pair(("echo",))]  # warm-up
    await _settle()
    before = rss()
    for _ in range(count):
        kept.append(await bare_local_pair(("echo",)))
    await _settle()
    return before, rss(), kept


async def _settle() -> None:
    await asyncio.sleep(0.6)  # idle: heartbeats have run
    gc.collect()


async def _child(kind: str, count: int) -> None:
    before, after, _kept = await (_ours(count) if kind == "ours" else _bare(count))
    sys.stdout.write(json.dumps({"ready": {"before": before, "after": after,
                                           "per_end": (after - before) / (2 * count)}}) + "\n")
    sys.stdout.flush()
    os._exit(0)  # closing hundreds of peer connections politely measures nothing


@benchmark("webrtc.memory")
async def memory(ctx: BenchContext) -> list[Record]:
    count = ctx.n(40, 8)

    async def measure(kind: str) -> dict[str, float]:
        async with spawn("benchmarks.bench_webrtc_memory", "--child", kind, str(count),
                         ready_timeout=120) as child:
            return child.ready

    # Both children at once: CPU contention changes how long they take, not their RSS.
    ours_got, bare_got = await asyncio.gather(measure("ours"), measure("bare"))
    got = {"ours": ours_got, "bare": bare_got}
    ours, bare = got["ours"]["per_end"] / 1024, got["bare"]["per_end"] / 1024
    return [
        Record(
            name="webrtc.memory_per_connection", unit="KiB", value=ours,
            baseline_name="bare aiortc RTCPeerConnection + 1 DataChannel", baseline_value=bare,
            ratio=ours / bare if bare else float("inf"), better="lower",
            note=f"RSS growth per idle connection end, {count} connections (both ends in one "
            "fresh process); ours carries 4 lane channels + control, heartbeat and framing",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--child", choices=("ours", "bare"), required=True)
    parser.add_argument("count", type=int)
    args = parser.parse_args()
    actr_loop.run(_child(args.child, args.count))


if __name__ == "__main__":
    main()
