"""Placement through the real signaling server, with real node processes: one key is served
by one node at a time; the other forwards; a killed node's keys come back with its storage."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from actr_py import ActrConfig, ActrSystem, Workload
from actr_py.actors import ActorClient, ActorUnavailable, ActorWsClient
from actr_py.wire.inproc import InprocHub
from tests.actors._procs import host_process
from tests.support.signaling import signaling_server

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def client_node(url: str):
    config = ActrConfig(actr_type="acme+client", signaling_url=url, shutdown_grace=0.5)
    ref = await ActrSystem(config, hub=InprocHub()).attach(Workload()).start()
    try:
        yield ref
    finally:
        await ref.shutdown()


async def test_two_nodes_never_host_the_same_key(tmp_path: Path) -> None:
    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        common = ("--signaling", srv.url, "--allow", "acme+client", "--save-interval", "0.1")
        async with (
            host_process("--storage", str(tmp_path / "a.db"), *common) as a,
            host_process("--storage", str(tmp_path / "b.db"), *common) as b,
            client_node(srv.url) as ref,
        ):
            via_a = ActorClient(ref.context, via=a.actor_id)
            via_b = ActorClient(ref.context, via=b.actor_id)
            keys = [f"k{i}" for i in range(12)]
            # Both nodes are asked for every key at the same moment.
            answers = await asyncio.gather(*(
                c.get_or_create("Counter", k).whoami() for k in keys for c in (via_a, via_b)
            ))
            for i, key in enumerate(keys):
                pid_a, _, id_a = answers[2 * i]
                pid_b, _, id_b = answers[2 * i + 1]
                assert pid_a == pid_b, f"{key} is served by two processes"
                assert id_a == id_b, f"{key} has two incarnations"
            pids = {answers[i][0] for i in range(0, len(answers), 2)}
            assert pids <= {a.process.pid, b.process.pid}
            # Concurrent increments through both nodes land on one state.
            await asyncio.gather(*(
                c.get_or_create("Counter", k).increment(1)
                for k in keys for c in (via_a, via_b) for _ in range(5)
            ))
            for key in keys:
                assert await via_a.get("Counter", key).get() == 10
                assert await via_b.get("Counter", key).get() == 10
            # A peer node's connection through the other node gets the owner's events.
            conn = await via_b.get("Counter", "k1").connect()
            conn_a = await via_a.get("Counter", "k1").connect()
            try:
                assert await via_a.get("Counter", "k1").increment(5) == 15
                assert await conn.next_event("changed", timeout=10) == ("changed", [15])
                assert await conn_a.next_event("changed", timeout=10) == ("changed", [15])
            finally:
                await conn.close()
                await conn_a.close()
            # A WebSocket client at either gateway reaches the key's one host.
            owner_of_k0 = answers[0][0]
            other = b if owner_of_k0 == a.process.pid else a
            ws = ActorWsClient(other.gateway)
            try:
                conn = await ws.connect("Counter", "k0", mode="get")
                assert (await conn.call("whoami"))[0] == owner_of_k0
            finally:
                await ws.close()


async def test_a_killed_nodes_keys_wait_for_its_storage_and_come_back_intact(
    tmp_path: Path,
) -> None:
    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        common = ("--signaling", srv.url, "--allow", "acme+client")
        a_db = str(tmp_path / "a.db")
        async with (
            host_process("--storage", str(tmp_path / "b.db"), *common) as b,
            client_node(srv.url) as ref,
        ):
            via_b = ActorClient(ref.context, via=b.actor_id)
            async with host_process("--storage", a_db, *common) as a:
                via_a = ActorClient(ref.context, via=a.actor_id)
                assert await via_a.get_or_create("Counter", "home-a").increment_durably(3) == 3
                assert (await via_b.get("Counter", "home-a").whoami())[0] == a.process.pid
                a.kill()
                await a.wait()
            # Its key is not re-created elsewhere (its state is in a.db): unavailable.
            with pytest.raises(ActorUnavailable):
                for _ in range(50):  # until the server noticed the socket is gone
                    await via_b.get_or_create("Counter", "home-a").get()
                    await asyncio.sleep(0.1)
            # The storage comes back in a new process: same key, same state.
            async with host_process("--storage", a_db, *common) as a2:
                for _ in range(100):
                    try:
                        got = await via_b.get("Counter", "home-a").whoami()
                        break
                    except ActorUnavailable:
                        await asyncio.sleep(0.1)
                assert got[0] == a2.process.pid
                assert got[1] == 3
                # Destroy, then create again: fresh state, one host, seen alike from both.
                await via_b.get("Counter", "home-a").destroy()
                fresh = await via_b.get_or_create("Counter", "home-a").whoami()
                assert fresh[1] == 0 and fresh[2] != got[2]  # a new incarnation
                via_a2 = ActorClient(ref.context, via=a2.actor_id)
                assert await via_a2.get("Counter", "home-a").whoami() == fresh
