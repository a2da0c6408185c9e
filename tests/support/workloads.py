"""Workloads the multi-process tests run in child node processes."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

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


class DurableProbe(Workload):
    """Logs each handler start and end in its own SQLite file (autocommit), so a
    test can tell from outside which messages ran, how often, and which finished.

    ``ACTR_PROBE_EFFECTS`` names the log; the message numbered ``ACTR_PROBE_CRASH_AT``
    announces itself on stdout and hangs (once: a marker file remembers), so the
    test can SIGKILL the process mid-handler.
    """

    def __init__(self) -> None:
        import sqlite3

        self.db = sqlite3.connect(os.environ["ACTR_PROBE_EFFECTS"], isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS log (pid INT, event TEXT, request_id TEXT, n INT)"
        )
        self.crash_at = int(os.environ.get("ACTR_PROBE_CRASH_AT", "-1"))
        self.marker = os.environ["ACTR_PROBE_EFFECTS"] + ".crashed"

    def _crashed_before(self) -> bool:
        return Path(self.marker).exists()

    def _log(self, event: str, ctx: Context, n: int) -> None:
        self.db.execute("INSERT INTO log VALUES (?, ?, ?, ?)",
                        (os.getpid(), event, ctx.request_id, n))

    @handler("probe.Probe.Work")
    async def work(self, ctx: Context, n: int) -> int:
        self._log("start", ctx, n)
        if n == self.crash_at and not self._crashed_before():
            Path(self.marker).touch()  # noqa: ASYNC240 - a test probe, once per run
            depth = ctx._node.mailbox.depth()
            print(f"IN_HANDLER {n} depth={depth}", flush=True)
            await asyncio.sleep(3600)
        await asyncio.sleep(0.001)
        self._log("end", ctx, n)
        return n


WORKLOADS = {"echo": EchoService, "probe": DurableProbe}
