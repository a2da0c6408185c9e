"""Virtual actors: cold start, wake from sleep, action round trip, memory per idle actor.

Every figure runs against a baseline measured in the same run:

* ``actors.cold_start`` - ``get_or_create`` of a new key from another node through the
  first action's reply (the row durably committed). Baseline: a bare SQLite
  INSERT + COMMIT (same file settings) followed by a plain node RPC.
* ``actors.cold_start_placed`` - the same with a real signaling server deciding where
  the key goes (one placement claim). Baseline: a signaling round trip, INSERT + COMMIT
  and a node RPC.
* ``actors.wake`` - the first action on a sleeping actor, in process on its host.
  Baseline: a bare SQLite SELECT of the row by key.
* ``actors.action_rtt`` - an action on an awake actor from another node. Baseline: a
  plain node RPC to an echo handler over the same in-process lanes.
* ``actors.idle_memory`` - RSS growth per awake, idle actor over 100,000 of them, in a
  fresh process. Baselines: 100,000 empty ``__slots__`` objects, and one dict each.

Standalone: ``python -m benchmarks.bench_actors --memory ours|slots|dict N`` prints bytes
per item (used by the memory figure).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from actr_py import ActrConfig, ActrSystem, Context, Workload, handler
from actr_py.actors import Actor, ActorClient, ActorHost, ActorOptions, action
from actr_py.wire.inproc import InprocHub

from ._harness import BenchContext, Record, benchmark, latency_record, throughput_record
from ._memory import rss

_ROOT = Path(__file__).resolve().parents[1]


class BenchCounter(Actor):
    options = ActorOptions(idle_timeout=None)

    def create_state(self, input: Any) -> dict[str, int]:
        return {"count": 0}

    @action
    async def increment(self, n: int) -> int:
        self.state["count"] += n
        return self.state["count"]


class _Echo(Workload):
    @handler("bench.Echo.Say")
    async def say(self, ctx: Context, req: bytes) -> bytes:
        return req


@contextlib.asynccontextmanager
async def _setup(tmp: str, save_interval: float = 1.0):
    hub = InprocHub()
    host = ActorHost([BenchCounter], storage=os.path.join(tmp, "actors.db"),
                     save_interval=save_interval)
    host_ref = await host.attach(ActrSystem(ActrConfig(actr_type="bench+actors"),
                                            hub=hub)).start()
    echo = await ActrSystem("bench+echo", hub=hub).attach(_Echo()).start()
    client = await ActrSystem("bench+client", hub=hub).attach(Workload()).start()
    try:
        yield host, host_ref, echo, client
    finally:
        await client.shutdown()
        await echo.shutdown()
        await host_ref.shutdown()


def _bare_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("CREATE TABLE IF NOT EXISTS t (name TEXT, key TEXT, state BLOB, "
               "PRIMARY KEY (name, key)) WITHOUT ROWID")
    return db


@benchmark("actors.cold_start")
async def cold_start(ctx: BenchContext) -> list[Record]:
    n, rounds = ctx.n(400, 150), ctx.n(8, 4)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory() as tmp:
        bare = _bare_db(os.path.join(tmp, "bare.db"))
        async with _setup(tmp) as (host, host_ref, echo, client):
            remote = ActorClient(client.context, via=host_ref.actor_id)
            call = client.context.call
            payload = b"x" * 16
            ours: list[float] = []
            base: list[float] = []
            state = b"\x81\xa5count\x00"
            for r in range(rounds + 1):
                o, b = [], []
                for i in range(n):
                    t0 = clock()
                    await remote.get_or_create(BenchCounter, f"r{r}-{i}").increment(1)
                    o.append((clock() - t0) / 1000)
                    t0 = clock()
                    bare.execute("BEGIN")
                    bare.execute("INSERT INTO t VALUES (?, ?, ?)", ("C", f"r{r}-{i}", state))
                    bare.execute("COMMIT")
                    await call(echo.actor_id, "bench.Echo.Say", payload)
                    b.append((clock() - t0) / 1000)
                if r:  # the first round warms up
                    ours += o
                    base += b
            created = host.stats.created
        bare.close()
    return [latency_record(
        "actors.cold_start", ours, "sqlite INSERT+COMMIT + node RPC", base,
        target="p50 <= 2000 us",
        note=f"remote get_or_create + first action, {created} keys created durably",
    )]


@benchmark("actors.cold_start_placed")
async def cold_start_placed(ctx: BenchContext) -> list[Record]:
    """Cold start when the host asks the real signaling server where the new key goes."""
    sys.path.insert(0, str(_ROOT))
    from tests.support.signaling import signaling_server

    n, rounds = ctx.n(300, 100), ctx.n(5, 3)
    clock = time.perf_counter_ns
    config = {"message_rate": 1_000_000, "message_burst": 1_000_000}
    with tempfile.TemporaryDirectory() as tmp:
        bare = _bare_db(os.path.join(tmp, "bare.db"))
        async with signaling_server(Path(tmp), config=config) as srv:
            hub = InprocHub()
            host = ActorHost([BenchCounter], storage=os.path.join(tmp, "actors.db"))
            host_cfg = ActrConfig(actr_type="bench+actors", signaling_url=srv.url)
            host_ref = await host.attach(ActrSystem(host_cfg, hub=hub)).start()
            echo = await ActrSystem("bench+echo", hub=hub).attach(_Echo()).start()
            client = await ActrSystem("bench+client", hub=hub).attach(Workload()).start()
            try:
                remote = ActorClient(client.context, via=host_ref.actor_id)
                signaling = host_ref.node.network.client
                call = client.context.call
                payload = b"x" * 16
                ours: list[float] = []
                base: list[float] = []
                for r in range(rounds + 1):
                    o, b = [], []
                    for i in range(n):
                        t0 = clock()
                        await remote.get_or_create(BenchCounter, f"p{r}-{i}").increment(1)
                        o.append((clock() - t0) / 1000)
                        t0 = clock()
                        await signaling.get_endpoint(host_ref.actor_id)
                        bare.execute("BEGIN")
                        bare.execute("INSERT INTO t VALUES (?, ?, ?)", ("C", f"p{r}-{i}", b""))
                        bare.execute("COMMIT")
                        await call(echo.actor_id, "bench.Echo.Say", payload)
                        b.append((clock() - t0) / 1000)
                    if r:
                        ours += o
                        base += b
            finally:
                await client.shutdown()
                await echo.shutdown()
                await host_ref.shutdown()
        bare.close()
    return [latency_record(
        "actors.cold_start_placed", ours,
        "signaling round trip + sqlite INSERT+COMMIT + node RPC", base,
        target="p50 <= 2000 us",
        note="as cold_start, with the key's placement claimed at the real signaling server",
    )]


@benchmark("actors.wake")
async def wake(ctx: BenchContext) -> list[Record]:
    n, rounds = ctx.n(2000, 500), ctx.n(6, 3)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory() as tmp:
        async with _setup(tmp) as (host, _, _, _):
            local = host.client()
            keys = [f"w{i}" for i in range(n)]
            for k in keys:
                await local.get_or_create(BenchCounter, k).increment(1)
            bare = sqlite3.connect(host.store.path, isolation_level=None)
            ours: list[float] = []
            base: list[float] = []
            for r in range(rounds + 1):
                await host.sleep_all()
                gc.collect()
                o, b = [], []
                for k in keys:
                    t0 = clock()
                    await local.get(BenchCounter, k).increment(1)
                    o.append((clock() - t0) / 1000)
                    t0 = clock()
                    bare.execute("SELECT nonce, state FROM actors WHERE name = ? AND key = ?",
                                 ("BenchCounter", k)).fetchone()
                    b.append((clock() - t0) / 1000)
                if r:
                    ours += o
                    base += b
            bare.close()
            woken = host.stats.woken
    return [latency_record(
        "actors.wake", ours, "sqlite SELECT by key", base, target="p50 <= 1000 us",
        note=f"first action on a sleeping actor, in process on its host ({woken} wakes)",
    )]


@benchmark("actors.action_rtt")
async def action_rtt(ctx: BenchContext) -> list[Record]:
    n, rounds = ctx.n(2000, 800), ctx.n(12, 5)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory() as tmp:
        async with _setup(tmp) as (host, host_ref, echo, client):
            remote = ActorClient(client.context, via=host_ref.actor_id)
            handle = remote.get_or_create(BenchCounter, "hot")
            await handle.increment(1)
            call = client.context.call
            local = host.client().get(BenchCounter, "hot")
            payload = b"x" * 16
            ours: list[float] = []
            base: list[float] = []
            inproc: list[float] = []
            for r in range(rounds + 1):
                o, b, loc = [], [], []
                for _ in range(n):
                    t0 = clock()
                    await handle.increment(1)
                    o.append((clock() - t0) / 1000)
                for _ in range(n):
                    t0 = clock()
                    await call(echo.actor_id, "bench.Echo.Say", payload)
                    b.append((clock() - t0) / 1000)
                for _ in range(n):
                    t0 = clock()
                    await local.increment(1)
                    loc.append((clock() - t0) / 1000)
                if r:
                    ours += o
                    base += b
                    inproc += loc
    return [
        latency_record("actors.action_rtt", ours, "plain node RPC (echo)", base,
                       note="action on an awake actor from another node"),
        latency_record("actors.local_action", inproc, "plain node RPC (echo)", base,
                       note="action through the host's own client (no RPC, msgpack copies)"),
    ]


async def _measure_ours(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        async with _setup(tmp) as (host, _, _, _):
            local = host.client()

            async def make(prefix: str, count: int) -> None:
                for start in range(0, count, 500):
                    await asyncio.gather(*(
                        local.get_or_create(BenchCounter, f"{prefix}{i}").resolve()
                        for i in range(start, min(count, start + 500))
                    ))

            await make("warm", 5000)  # caches, statements, arenas
            await host.flush()
            gc.collect()
            before = rss()
            await make("k", n)
            await host.flush()
            gc.collect()
            after = rss()
            assert host.awake_count() == n + 5000
            return (after - before) / n


def _memory_child(kind: str, n: int) -> float:
    module = "benchmarks.bench_actors" if kind == "ours" else "benchmarks._memory"
    args = ["--memory", kind, str(n)] if kind == "ours" else [kind, str(n)]
    out = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=_ROOT, capture_output=True, text=True, timeout=600, check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


@benchmark("actors.idle_memory")
async def idle_memory(ctx: BenchContext) -> list[Record]:
    n = ctx.n(100_000, 10_000)  # --quick: the whole suite in under two minutes
    ours = await asyncio.to_thread(_memory_child, "ours", n)
    slots = await asyncio.to_thread(_memory_child, "slots", n)
    per_dict = await asyncio.to_thread(_memory_child, "dict", n)
    note = f"RSS delta / actor over {n:,} awake idle actors (fresh process each)"
    return [
        throughput_record("actors.idle_memory", ours, "empty __slots__ object", slots,
                          unit="bytes", target="<= 600 bytes", note=note),
        throughput_record("actors.idle_memory_vs_dict", ours, "one small dict", per_dict,
                          unit="bytes", note=note),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1:3] == ["--memory", "ours"]:
        print(asyncio.run(_measure_ours(int(sys.argv[3]))))
    else:
        print(__doc__)
