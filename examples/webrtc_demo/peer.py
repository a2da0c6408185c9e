"""One node of the demo: ``--role service`` serves, ``--role caller`` measures and exits.

    python -m examples.webrtc_demo.peer --role service --signaling ws://127.0.0.1:8081/signaling/ws
    python -m examples.webrtc_demo.peer --role caller  --signaling ws://127.0.0.1:8081/signaling/ws
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import signal
import statistics
import time

from actr_py import (
    ActorId,
    ActrConfig,
    ActrSystem,
    ActrTypeName,
    Context,
    DataStream,
    PayloadType,
    Workload,
    handler,
)
from actr_py.config import AclRuleConfig

SERVICE = "demo+webrtc-service"
CALLER = "demo+webrtc-caller"


class Service(Workload):
    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.chunks = 0

    async def on_start(self, ctx: Context) -> None:
        ctx.register_stream("upload", self.on_chunk)

    async def on_chunk(self, chunk: DataStream, sender: ActorId) -> None:
        self.digest.update(chunk.payload)
        self.chunks += 1

    @handler("demo.Service.Echo")
    async def echo(self, ctx: Context, req: bytes) -> bytes:
        return req

    @handler("demo.Service.Received")
    async def received(self, ctx: Context, want: int) -> list:
        for _ in range(500):
            if self.chunks >= want:
                break
            await asyncio.sleep(0.01)  # the stream rides its own channel
        return [self.chunks, self.digest.hexdigest()]


async def serve(url: str) -> None:
    admit = (AclRuleConfig("allow", ((None, ActrTypeName.parse(CALLER)),)),)
    config = ActrConfig(actr_type=SERVICE, signaling_url=url, acl=admit)
    ref = await ActrSystem(config).attach(Service()).start()
    print(f"[service] registered as {ref.actor_id}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    await ref.shutdown()
    print("[service] stopped", flush=True)


async def call(url: str, rounds: int, stream_kib: int) -> None:
    config = ActrConfig(actr_type=CALLER, signaling_url=url)
    ref = await ActrSystem(config).attach(Workload()).start()
    ctx = ref.context
    print(f"[caller] registered as {ref.actor_id}", flush=True)
    target = await ctx.discover(SERVICE)
    print(f"[caller] discovered {target} through signaling", flush=True)
    t0 = time.perf_counter()
    await ctx.call(target, "demo.Service.Echo", b"hello")
    connect_ms = (time.perf_counter() - t0) * 1000
    lanes = {lane.kind for lane in ref.node.out_gate._lanes.values()}
    print(f"[caller] first call (WebRTC connect included): {connect_ms:.0f} ms over {lanes}",
          flush=True)
    samples = []
    for _ in range(rounds):
        t = time.perf_counter()
        await ctx.call(target, "demo.Service.Echo", b"x" * 64)
        samples.append((time.perf_counter() - t) * 1e6)
    samples.sort()
    print(f"[caller] {rounds} round trips: p50 {statistics.median(samples):.0f} us, "
          f"p95 {samples[int(len(samples) * 0.95)]:.0f} us", flush=True)
    digest = hashlib.sha256()
    chunk_size = 16 * 1024
    n = stream_kib * 1024 // chunk_size
    t = time.perf_counter()
    for i in range(n):
        payload = bytes([i % 256]) * chunk_size
        digest.update(payload)
        await ctx.send_data_stream(target, DataStream(stream_id="upload", sequence=i,
                                                      payload=payload),
                                   PayloadType.STREAM_RELIABLE)
    count, remote = await ctx.call(target, "demo.Service.Received", n, timeout=30)
    dt = time.perf_counter() - t
    ok = count == n and remote == digest.hexdigest()
    print(f"[caller] streamed {stream_kib} KiB in {n} chunks: {stream_kib / 1024 / dt:.1f} MB/s, "
          f"in order and intact: {ok}", flush=True)
    await ref.shutdown()
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", choices=("service", "caller"), required=True)
    parser.add_argument("--signaling", required=True)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--stream-kib", type=int, default=1024)
    a = parser.parse_args()
    if a.role == "service":
        asyncio.run(serve(a.signaling))
    else:
        asyncio.run(call(a.signaling, a.rounds, a.stream_kib))
