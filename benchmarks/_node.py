"""A benchmark node in its own process: ``python -m benchmarks._node --signaling URL``.

The far end of every cross-process node figure. It runs on the loop kind of
the run (:func:`actr_py.loop.install` reads ``ACTR_PY_LOOP``), registers with
the signaling server, and serves:

* ``bench.Echo.Bytes``: returns its bytes (call round trips, calls/s);
* ``bench.Sink.Tell``: counts tells;
* streams ``bench-reliable`` and ``bench-latency``: count chunks;
* ``bench.Sink.Expect`` ``[label, count, quiet]``: waits until ``count`` tells
  (label ``tell``) or chunks (a stream id) arrived, then returns
  ``[count, bytes, first, last]`` (see :class:`~benchmarks._sink.Sink`). It
  runs outside the serial turn so the tells it waits for can still run.

It announces ``{"ready": {"actor_id", "ws"}}`` on stdout and stops when its
stdin closes (protocol in :mod:`benchmarks._procs`).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from actr_py import ActorId, ActrConfig, ActrSystem, ActrTypeName, Context, DataStream, Workload
from actr_py import handler as route
from actr_py import loop as actr_loop
from actr_py.config import AclRuleConfig

from ._procs import serve_lines
from ._sink import Sink

__all__ = ["STREAMS", "BenchService"]

#: Stream ids the node counts, by PayloadType name.
STREAMS = {"STREAM_RELIABLE": "bench-reliable", "STREAM_LATENCY_FIRST": "bench-latency"}


class BenchService(Workload):
    def __init__(self) -> None:
        self.sinks: dict[str, Sink] = {"tell": Sink()}

    async def on_start(self, ctx: Context) -> None:
        for stream_id in STREAMS.values():
            add = self.sinks.setdefault(stream_id, Sink()).add

            async def on_chunk(chunk: DataStream, sender: ActorId, add: Any = add) -> None:
                add(len(chunk.payload))

            ctx.register_stream(stream_id, on_chunk)

    @route("bench.Echo.Bytes")
    async def echo(self, ctx: Context, req: bytes) -> bytes:
        return req

    @route("bench.Sink.Tell")
    async def tell(self, ctx: Context, req: bytes) -> None:
        self.sinks["tell"].add(len(req))

    @route("bench.Sink.Expect", concurrency=4)
    async def expect(self, ctx: Context, req: list[Any]) -> list[float]:
        label, count, quiet = req
        got = await self.sinks[label].expect(count, quiet)
        return [got["count"], got["bytes"], got["first"], got["last"]]


async def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--signaling", required=True)
    p.add_argument("--type", default="bench+echo")
    p.add_argument("--allow", action="append", default=["bench+client"])
    p.add_argument("--listen", default="", help="WebSocket listen address; empty: none")
    p.add_argument("--no-webrtc", action="store_true")
    args = p.parse_args(argv)
    acl = tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in args.allow)
    config = ActrConfig(
        actr_type=args.type,
        signaling_url=args.signaling,
        websocket_listen=args.listen or None,
        webrtc_enabled=not args.no_webrtc,
        acl=acl,
        shutdown_grace=1.0,
    )
    node = ActrSystem(config).attach(BenchService())
    ref = await node.start()
    listener = node.network.listener if node.network else None

    async def handle(req: dict[str, Any]) -> dict[str, Any]:
        raise ValueError(f"unknown op {req.get('op')!r}")

    try:
        await serve_lines(
            {"actor_id": str(ref.actor_id), "ws": listener.address if listener else None},
            handle,
        )
    finally:
        await ref.shutdown()


def _profiled(argv: list[str]) -> None:
    """``ACTR_BENCH_PROFILE=FILE``: cProfile the whole node, stats written to FILE at exit."""
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    try:
        actr_loop.run(main(argv))
    finally:
        prof.disable()
        prof.dump_stats(os.environ["ACTR_BENCH_PROFILE"])


if __name__ == "__main__":
    if os.environ.get("ACTR_BENCH_PROFILE"):
        _profiled(sys.argv[1:])
    else:
        actr_loop.run(main(sys.argv[1:]))
