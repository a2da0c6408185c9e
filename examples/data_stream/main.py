"""A producer actor streams chunks to a consumer actor, which checks order and content.

    python -m examples.data_stream.main
"""

from __future__ import annotations

import asyncio
import hashlib
import time

from actr_py import ActorId, ActrSystem, Context, DataStream, PayloadType, Workload, handler

STREAM = "upload-1"


class Consumer(Workload):
    """Registers the stream at start; the registry keeps chunks in sequence."""

    def __init__(self, expected_chunks: int) -> None:
        self.expected = expected_chunks
        self.digest = hashlib.sha256()
        self.count = 0
        self.done = asyncio.Event()

    async def on_start(self, ctx: Context) -> None:
        ctx.register_stream(STREAM, self.on_chunk)

    async def on_chunk(self, chunk: DataStream, sender: ActorId) -> None:
        if chunk.sequence != self.count:
            raise RuntimeError(f"chunk {chunk.sequence} arrived when {self.count} was due")
        self.digest.update(chunk.payload)
        self.count += 1
        if self.count == self.expected:
            self.done.set()


class Producer(Workload):
    @handler("stream.Producer.Upload")
    async def upload(self, ctx: Context, req: list) -> str:
        target, data, chunk_size = req
        digest = hashlib.sha256()
        for seq, offset in enumerate(range(0, len(data), chunk_size)):
            piece = data[offset : offset + chunk_size]
            digest.update(piece)
            await ctx.send_data_stream(
                target,
                DataStream(stream_id=STREAM, sequence=seq, payload=piece),
                PayloadType.STREAM_RELIABLE,
            )
        return digest.hexdigest()


async def run(size: int = 4 << 20, chunk_size: int = 16 << 10, out=print) -> bool:
    n_chunks = -(-size // chunk_size)
    consumer_w = Consumer(n_chunks)
    consumer = await ActrSystem("acme+consumer").attach(consumer_w).start()
    producer = await ActrSystem("acme+producer").attach(Producer()).start()
    data = bytes(range(256)) * (size // 256)
    t0 = time.perf_counter()
    sent = await producer.call(
        "stream.Producer.Upload", [str(consumer.actor_id), data, chunk_size]
    )
    await asyncio.wait_for(consumer_w.done.wait(), 60)
    dt = time.perf_counter() - t0
    ok = sent == consumer_w.digest.hexdigest()
    out(f"streamed {size >> 10} KiB in {n_chunks} chunks in {dt * 1000:.1f} ms "
        f"({size / dt / 1e6:.0f} MB/s); in order and intact: {ok}")
    await producer.shutdown()
    await consumer.shutdown()
    return ok


if __name__ == "__main__":
    asyncio.run(run())
