"""Workloads the multi-process tests run in child node processes."""

from __future__ import annotations

import asyncio
import hashlib
import os

from actr_py import ActorId, Context, DataStream, PayloadType, Workload, handler


class EchoService(Workload):
    """Echo plus the probes tests need: who called, call back, stream counters."""

    def __init__(self) -> None:
        self.calls = 0
        self.stream_seqs: dict[str, list[int]] = {}
        self.stream_digest: dict[str, hashlib._Hash] = {}

    async def on_start(self, ctx: Context) -> None:
        for stream_id in ("s-reliable", "s-latency"):
            ctx.register_stream(stream_id, self._on_chunk)

    async def _on_chunk(self, chunk: DataStream, sender: ActorId) -> None:
        self.stream_seqs.setdefault(chunk.stream_id, []).append(chunk.sequence)
        self.stream_digest.setdefault(chunk.stream_id, hashlib.sha256()).update(chunk.payload)

    @handler("test.Echo.Say")
    async def say(self, ctx: Context, req: str) -> str:
        self.calls += 1
        return f"echo:{req}"

    @handler("test.Echo.Bytes")
    async def raw(self, ctx: Context, req: bytes) -> bytes:
        self.calls += 1
        return req

    @handler("test.Echo.Calls")
    async def count_calls(self, ctx: Context, req: None) -> int:
        return self.calls

    @handler("test.Echo.Who")
    async def who(self, ctx: Context, req: None) -> list[str]:
        return [str(ctx.self_id), str(ctx.caller_id), str(os.getpid())]

    @handler("test.Echo.Slow")
    async def slow(self, ctx: Context, req: float) -> str:
        await asyncio.sleep(req)
        return "slow done"

    @handler("test.Echo.CallBack")
    async def call_back(self, ctx: Context, req: str) -> str:
        """Call the caller's handler ``req`` over the same lane, in reverse."""
        inner = await ctx.call(ctx.caller_id, req, "from child")
        return f"caller said {inner!r}"

    @handler("test.Echo.StreamReport")
    async def stream_report(self, ctx: Context, stream_id: str) -> list:
        seqs = self.stream_seqs.get(stream_id, [])
        digest = self.stream_digest.get(stream_id)
        return [len(seqs), seqs == sorted(seqs), digest.hexdigest() if digest else ""]

    @handler("test.Echo.StreamBack")
    async def stream_back(self, ctx: Context, req: list) -> int:
        """Stream ``n`` chunks back to the caller on stream ``stream_id``."""
        stream_id, n = req
        for i in range(n):
            await ctx.send_data_stream(
                ctx.caller_id,
                DataStream(stream_id=stream_id, sequence=i, payload=i.to_bytes(4, "big")),
                PayloadType.STREAM_RELIABLE,
            )
        return n


WORKLOADS = {"echo": EchoService}
