"""Nodes connected peer to peer over WebRTC DataChannels: real signaling server,
real aiortc on 127.0.0.1, real child processes."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from actr_py import (
    ActrConfig,
    ActrSystem,
    Context,
    DataStream,
    NotFound,
    PayloadType,
    Unavailable,
    Workload,
    handler,
)
from actr_py.config import AclRuleConfig
from actr_py.ids import ActrTypeName
from actr_py.wire.inproc import InprocHub
from tests.runtime.test_network import client_node
from tests.support.nodes import node_process
from tests.support.signaling import signaling_server

pytestmark = pytest.mark.slow


def webrtc_client(url: str, actr_type: str = "acme+client", **cfg):
    return client_node(url, actr_type, webrtc_enabled=True, **cfg)


def lane_kinds(ref) -> set[str]:
    return {lane.kind for lane in ref.node.out_gate._lanes.values()}


@pytest.fixture
async def server(tmp_path: Path):
    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        yield srv


async def test_call_tell_and_both_stream_types_over_datachannels(server) -> None:
    async with node_process(server.url, "--allow", "acme+client", "--listen", "") as child:
        async with webrtc_client(server.url) as (ref, workload):
            ctx = ref.context
            target = await ctx.discover("acme+echo")
            assert await ctx.call(target, "test.Echo.Say", "hi") == "echo:hi"
            assert lane_kinds(ref) == {"webrtc"}
            conns = ref.node.network.webrtc.coordinator.connections
            assert len(conns) == 1 and conns[0].peer_id == child.actor_id
            await ctx.tell(target, "test.Echo.Say", "told")
            for stream_id, pt in (("s-reliable", PayloadType.STREAM_RELIABLE),
                                  ("s-latency", PayloadType.STREAM_LATENCY_FIRST)):
                for i in range(300):
                    chunk = DataStream(stream_id=stream_id, sequence=i, payload=bytes(64))
                    await ctx.send_data_stream(target, chunk, pt)
            # Each PayloadType has its own channel: no order across them, so wait.
            async def report(stream_id: str, want: int) -> tuple[int, bool]:
                deadline = time.monotonic() + 10
                while True:
                    count, ordered, _ = await ctx.call(target, "test.Echo.StreamReport", stream_id)
                    if count >= want or time.monotonic() > deadline:
                        return count, ordered
                    await asyncio.sleep(0.05)

            assert await report("s-reliable", 300) == (300, True)
            count, ordered = await report("s-latency", 300)
            assert ordered and 0 < count <= 300  # latency-first may drop, never reorders
            # The tell was handled (counted) and never answered.
            assert await ctx.call(target, "test.Echo.Calls", None) == 2
            # The child calls back into us over the same peer connection.
            got = await ctx.call(target, "test.Echo.CallBack", "test.Client.Hello")
            assert got == "caller said 'client heard from child'"
            assert await ctx.call(target, "test.Echo.StreamBack", ["back", 200]) == 200
            await asyncio.wait_for(workload.done.wait(), 10)
            assert workload.got == list(range(200))
            assert len(ref.node.network.webrtc.coordinator.connections) == 1


async def test_five_mib_message_round_trips(server) -> None:
    async with node_process(server.url, "--allow", "acme+client", "--listen", "") as child:
        async with webrtc_client(server.url) as (ref, _):
            big = bytes(range(256)) * (5 * 1024 * 1024 // 256)
            got = await ref.context.call(child.actor_id, "test.Echo.Bytes", big, timeout=30)
            assert got == big
            assert lane_kinds(ref) == {"webrtc"}


async def test_rpc_signal_overtakes_a_backlog_of_bulk_rpc(server) -> None:
    async with node_process(server.url, "--allow", "acme+client", "--listen", "") as child:
        async with webrtc_client(server.url) as (ref, _):
            ctx = ref.context
            target = child.actor_id
            await ctx.call(target, "test.Echo.Say", "warm up")
            done: list[str] = []

            async def call(label: str, route: str, arg, pt=PayloadType.RPC_RELIABLE):
                await ctx.call(target, route, arg, payload_type=pt, timeout=30)
                done.append(label)

            tasks = [asyncio.ensure_future(call("slow", "test.Echo.Slow", 0.5))]
            await asyncio.sleep(0.1)  # the child is now inside the slow handler
            tasks += [asyncio.ensure_future(call(f"bulk{i}", "test.Echo.Say", "b"))
                      for i in range(200)]
            await asyncio.sleep(0.1)  # the bulk backlog is queued behind it
            tasks.append(asyncio.ensure_future(
                call("signal", "test.Echo.Say", "s", PayloadType.RPC_SIGNAL)))
            await asyncio.gather(*tasks)
            assert done[0] == "slow"
            assert done.index("signal") < 5, done[:10]


async def test_peer_killed_mid_call_fails_503_then_reconnects_to_restarted_peer(server) -> None:
    args = ("--allow", "acme+client", "--listen", "")
    async with webrtc_client(server.url) as (ref, _):
        ctx = ref.context
        async with node_process(server.url, *args) as child:
            target = await ctx.discover("acme+echo")
            assert await ctx.call(target, "test.Echo.Say", "one") == "echo:one"
            pending = asyncio.ensure_future(ctx.call(target, "test.Echo.Slow", 60.0))
            await asyncio.sleep(0.2)
            t0 = time.monotonic()
            child.kill()
            with pytest.raises(Unavailable):
                await asyncio.wait_for(pending, 15)
            assert time.monotonic() - t0 < 8
            # A new call to the dead id fails at once: the server says it is gone,
            # so neither WebRTC nor the WebSocket fallback waits for a timeout.
            dead = child.actor_id
            await asyncio.sleep(0.5)  # the server saw the socket close
            t0 = time.monotonic()
            with pytest.raises(NotFound):
                await ctx.call(dead, "test.Echo.Say", "anyone?")
            assert time.monotonic() - t0 < 2
        async with node_process(server.url, *args) as child2:
            deadline = time.monotonic() + 15
            while True:
                try:
                    target = await ctx.discover("acme+echo")
                    if target == child2.actor_id:
                        break
                except Exception:
                    pass
                assert time.monotonic() < deadline
                await asyncio.sleep(0.2)
            assert await ctx.call(target, "test.Echo.Say", "two") == "echo:two"
            assert lane_kinds(ref) == {"webrtc"}


class Peer(Workload):
    @handler("p.Peer.Ping")
    async def ping(self, ctx: Context, req: str) -> str:
        return f"pong {req}"


async def test_both_peers_sending_first_at_once_make_one_connection(server) -> None:
    def cfg(t: str, other: str) -> ActrConfig:
        allow = (AclRuleConfig("allow", ((None, ActrTypeName.parse(other)),)),)
        return ActrConfig(actr_type=t, signaling_url=server.url, acl=allow)

    a = await ActrSystem(cfg("acme+left", "acme+right"), hub=InprocHub()).attach(Peer()).start()
    b = await ActrSystem(cfg("acme+right", "acme+left"), hub=InprocHub()).attach(Peer()).start()
    try:
        for _ in range(3):
            got = await asyncio.gather(
                a.context.call(b.actor_id, "p.Peer.Ping", "from a"),
                b.context.call(a.actor_id, "p.Peer.Ping", "from b"),
            )
            assert got == ["pong from a", "pong from b"]
        for ref in (a, b):
            conns = ref.node.network.webrtc.coordinator.connections
            assert len(conns) == 1, conns
        assert lane_kinds(a) == lane_kinds(b) == {"webrtc"}
    finally:
        await a.shutdown()
        await b.shutdown()


async def test_webrtc_blocked_falls_back_to_websocket(server, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="actr_py.outbound")
    async with node_process(server.url, "--allow", "acme+client", "--no-webrtc") as child:
        async with webrtc_client(server.url, webrtc_connect_timeout=1.5) as (ref, _):
            got = await ref.context.call(child.actor_id, "test.Echo.Say", "via ws")
            assert got == "echo:via ws"
            assert lane_kinds(ref) == {"websocket"}
            assert any("falls back to websocket" in r.getMessage() for r in caplog.records)
