"""The durable mailbox inside a node: real SQLite files, real processes killed."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from actr_py import (
    ActrConfig,
    ActrSystem,
    BadRequest,
    Context,
    InternalError,
    PayloadType,
    Unavailable,
    Workload,
    handler,
)
from actr_py.inbound.durable_mailbox import DurableMailbox
from actr_py.proto import actr_pb2, package_pb2
from actr_py.wire.inproc import InprocHub


class Flaky(Workload):
    def __init__(self) -> None:
        self.healthy = False
        self.runs: list[str] = []
        self.gate: asyncio.Event | None = None

    @handler("d.Flaky.Do")
    async def do(self, ctx: Context, req: str) -> str:
        if self.gate is not None:
            await self.gate.wait()
        self.runs.append(req)
        if req == "poison" and not self.healthy:
            raise RuntimeError("cannot handle poison yet")
        return f"done:{req}"

    @handler("d.Flaky.Typed", request=actr_pb2.Realm)
    async def typed(self, ctx: Context, req: actr_pb2.Realm) -> int:
        return req.realm_id


async def eventually(cond, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


async def durable_pair(hub: InprocHub, path: Path, workload: Workload, **cfg):
    config = ActrConfig(actr_type="acme+durable", storage_path=str(path), **cfg)
    svc = await ActrSystem(config, hub=hub).attach(workload).start()
    client = await ActrSystem("acme+client", hub=hub).attach(Workload()).start()
    return svc, client


async def test_a_file_storage_path_makes_the_mailbox_durable(tmp_path: Path) -> None:
    hub = InprocHub()
    svc, client = await durable_pair(hub, tmp_path / "node.db", Flaky())
    assert isinstance(svc.mailbox, DurableMailbox)
    assert await client.context.call(svc.actor_id, "d.Flaky.Do", "a") == "done:a"
    # The reply is handed over first; the acknowledgement commits right after it.
    await eventually(lambda: svc.mailbox.stats().completed == 1)
    assert svc.mailbox.depth() == 0
    await client.shutdown()
    await svc.shutdown()


async def test_poison_reaches_dead_letters_and_can_be_redriven(tmp_path: Path) -> None:
    hub = InprocHub()
    w = Flaky()
    svc, client = await durable_pair(hub, tmp_path / "node.db", w, mailbox_max_attempts=3)
    with pytest.raises(InternalError, match="cannot handle poison yet"):
        await client.context.call(svc.actor_id, "d.Flaky.Do", "poison")
    assert w.runs == ["poison"] * 3  # retried until its attempts ran out, answered once
    dead = await svc.mailbox.list_dead_letters()
    assert len(dead) == 1
    letter = dead[0]
    assert (letter.category, letter.attempts) == ("handler_error", 3)
    assert "cannot handle poison yet" in letter.message
    assert (await svc.mailbox.get_dead_letter(letter.id)).request_id == letter.request_id
    # Unaffected traffic kept flowing.
    assert await client.context.call(svc.actor_id, "d.Flaky.Do", "fine") == "done:fine"
    w.healthy = True
    assert await svc.mailbox.redrive(letter.id) == 1
    await eventually(lambda: w.runs.count("poison") == 4)
    await eventually(lambda: svc.mailbox.stats().dead_letters == 0)
    await client.shutdown()
    await svc.shutdown()


async def test_undecodable_and_unknown_route_are_dead_lettered_at_once(tmp_path: Path) -> None:
    hub = InprocHub()
    svc, client = await durable_pair(hub, tmp_path / "node.db", Flaky())
    with pytest.raises(BadRequest):
        await client.context.call(svc.actor_id, "d.Flaky.Typed", b"\xff\xff\xff")
    from actr_py import NotFound

    with pytest.raises(NotFound):
        await client.context.call(svc.actor_id, "d.Flaky.Missing", 1)
    dead = await svc.mailbox.list_dead_letters()
    assert sorted((d.category, d.attempts) for d in dead) == [
        ("undecodable", 1), ("unknown_route", 1)
    ]
    assert await svc.mailbox.purge() == 2
    assert await svc.mailbox.list_dead_letters() == []
    await client.shutdown()
    await svc.shutdown()


async def test_answered_request_is_not_run_twice(tmp_path: Path) -> None:
    """A retransmitted request id gets the remembered reply; the handler runs once."""
    hub = InprocHub()
    w = Flaky()
    svc, client = await durable_pair(hub, tmp_path / "node.db", w)
    env = package_pb2.RpcEnvelope(
        route_key="d.Flaky.Do", request_id="retry-1", timeout_ms=5000,
        direction=package_pb2.DIRECTION_REQUEST, payload=b"\xa3dup",
        metadata=[package_pb2.MetadataEntry(key="content-type", value="application/msgpack")],
    )
    link = hub.connect(client.actor_id, svc.actor_id)
    replies = []
    for _ in range(2):
        fut = client.node.pending.register("retry-1", svc.actor_id, 5.0)
        await link.send(PayloadType.RPC_RELIABLE, env.SerializeToString())
        replies.append(await asyncio.wait_for(fut, 5))
    assert w.runs == ["dup"]
    assert replies[0].payload == replies[1].payload and not replies[1].HasField("error")
    assert svc.mailbox.stats().duplicates == 1
    await client.shutdown()
    await svc.shutdown()


async def test_priority_holds_under_load(tmp_path: Path) -> None:
    hub = InprocHub()
    w = Flaky()
    w.gate = asyncio.Event()
    svc, client = await durable_pair(hub, tmp_path / "node.db", w)
    ctx = client.context
    first = asyncio.ensure_future(ctx.call(svc.actor_id, "d.Flaky.Do", "first"))
    await asyncio.sleep(0.05)
    bulk = [asyncio.ensure_future(ctx.call(svc.actor_id, "d.Flaky.Do", f"b{i}"))
            for i in range(300)]
    await asyncio.sleep(0.1)
    signals = [asyncio.ensure_future(ctx.call(svc.actor_id, "d.Flaky.Do", f"s{i}",
                                              payload_type=PayloadType.RPC_SIGNAL))
               for i in range(20)]
    await asyncio.sleep(0.1)
    w.gate.set()
    await asyncio.gather(first, *bulk, *signals)
    order = w.runs[1:]
    assert order[:20] == [f"s{i}" for i in range(20)]
    assert order[20:] == [f"b{i}" for i in range(300)]
    await client.shutdown()
    await svc.shutdown()


async def test_full_durable_mailbox_refuses_with_retryable_503(tmp_path: Path) -> None:
    hub = InprocHub()
    w = Flaky()
    w.gate = asyncio.Event()
    svc, client = await durable_pair(hub, tmp_path / "node.db", w, mailbox_capacity=3)
    ctx = client.context
    held = [asyncio.ensure_future(ctx.call(svc.actor_id, "d.Flaky.Do", f"h{i}"))
            for i in range(3)]
    await asyncio.sleep(0.1)
    with pytest.raises(Unavailable) as info:
        await ctx.call(svc.actor_id, "d.Flaky.Do", "one too many")
    assert info.value.retryable and "mailbox full" in info.value.message
    w.gate.set()
    assert await asyncio.gather(*held) == ["done:h0", "done:h1", "done:h2"]
    assert await ctx.call(svc.actor_id, "d.Flaky.Do", "again") == "done:again"
    await client.shutdown()
    await svc.shutdown()


async def test_messages_survive_a_graceful_restart(tmp_path: Path) -> None:
    """Tells accepted but not yet run when the node stops run after it starts again."""
    hub = InprocHub()
    path = tmp_path / "node.db"
    w = Flaky()
    w.gate = asyncio.Event()
    svc, client = await durable_pair(hub, path, w)
    for i in range(5):
        await client.context.tell(svc.actor_id, "d.Flaky.Do", f"t{i}")
    await asyncio.sleep(0.1)
    await svc.shutdown(grace=0.05)  # t0 was running and is cancelled; t1..t4 wait
    w2 = Flaky()
    svc2 = await ActrSystem(ActrConfig(actr_type="acme+durable", storage_path=str(path)),
                            hub=hub).attach(w2).start()
    await eventually(lambda: len(w2.runs) == 5)
    assert sorted(w2.runs) == [f"t{i}" for i in range(5)]
    await client.shutdown()
    await svc2.shutdown()


@pytest.mark.slow
async def test_sigkill_mid_handler_loses_nothing_and_reruns_only_the_interrupted(
    tmp_path: Path,
) -> None:
    from tests.runtime.test_network import client_node
    from tests.support.nodes import node_process
    from tests.support.signaling import signaling_server

    n, crash_at = 40, 15
    effects = tmp_path / "effects.db"
    storage = tmp_path / "mailbox.db"
    env = {"ACTR_PROBE_EFFECTS": str(effects), "ACTR_PROBE_CRASH_AT": str(crash_at)}
    args = ("--type", "acme+probe", "--workload", "probe", "--storage", str(storage),
            "--allow", "acme+client")
    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        async with client_node(srv.url, websocket_listen="127.0.0.1:0") as (ref, _):
            async with node_process(srv.url, *args, env=env) as child:
                for i in range(n):
                    await ref.context.tell(child.actor_id, "probe.Probe.Work", i)
                assert child.process.stdout is not None
                line = await asyncio.wait_for(child.process.stdout.readline(), 20)
                assert line.decode().split()[:2] == ["IN_HANDLER", str(crash_at)]
                # Everything sent is durably accepted before the kill.
                assert line.decode().strip().endswith(f"depth={n - crash_at}")
                child.kill()
                await child.process.wait()
            async with node_process(srv.url, *args, env=env) as child2:
                db = sqlite3.connect(effects)
                for _ in range(300):
                    ends = db.execute("SELECT count(*) FROM log WHERE event='end'").fetchone()[0]
                    if ends >= n:
                        break
                    await asyncio.sleep(0.05)
                rows = db.execute("SELECT pid, event, n FROM log").fetchall()
                db.close()
    first_pid = child.process.pid
    starts = {i: [p for p, e, k in rows if e == "start" and k == i] for i in range(n)}
    ends = {i: [p for p, e, k in rows if e == "end" and k == i] for i in range(n)}
    assert all(len(ends[i]) == 1 for i in range(n)), ends  # none lost, none finished twice
    for i in range(n):
        if i < crash_at:  # finished and acknowledged before the kill: never rerun
            assert starts[i] == [first_pid] and ends[i] == [first_pid]
        elif i == crash_at:  # interrupted: rerun once by the new process
            assert starts[i] == [first_pid, child2.process.pid]
            assert ends[i] == [child2.process.pid]
        else:  # accepted, never started: run by the new process only
            assert starts[i] == [child2.process.pid]
