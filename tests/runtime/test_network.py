"""Nodes in different processes: real signaling server, real child node processes,
real WebSocket lanes on 127.0.0.1 (WebRTC is switched off here; see
test_webrtc_nodes.py for the DataChannel lanes)."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path

import aiohttp
import pytest

from actr_py import (
    ActrConfig,
    ActrSystem,
    ActrTypeName,
    Context,
    DataStream,
    NotFound,
    PayloadType,
    Unavailable,
    Workload,
    handler,
)
from actr_py.config import AclRuleConfig
from actr_py.errors import Forbidden
from actr_py.proto import actr_pb2, package_pb2
from actr_py.wire.inproc import InprocHub
from actr_py.wire.websocket import encode_frame, encode_hello
from tests.support.nodes import node_process
from tests.support.signaling import signaling_server

pytestmark = pytest.mark.slow


WS_ONLY = ("--allow", "acme+client", "--no-webrtc")


def allow(*types: str) -> tuple[AclRuleConfig, ...]:
    return tuple(AclRuleConfig("allow", ((None, ActrTypeName.parse(t)),)) for t in types)


class Client(Workload):
    def __init__(self) -> None:
        self.got: list[int] = []
        self.done = asyncio.Event()

    async def on_start(self, ctx: Context) -> None:
        ctx.register_stream("back", self._on_chunk)

    async def _on_chunk(self, chunk: DataStream, sender) -> None:
        self.got.append(chunk.sequence)
        if len(self.got) == 200:
            self.done.set()

    @handler("test.Client.Hello")
    async def hello(self, ctx: Context, req: str) -> str:
        return f"client heard {req}"


@contextlib.asynccontextmanager
async def client_node(url: str, actr_type: str = "acme+client", **cfg):
    cfg.setdefault("webrtc_enabled", False)
    config = ActrConfig(actr_type=actr_type, signaling_url=url, shutdown_grace=0.5, **cfg)
    workload = Client()
    ref = await ActrSystem(config, hub=InprocHub()).attach(workload).start()
    try:
        yield ref, workload
    finally:
        await ref.shutdown()


@pytest.fixture
async def server(tmp_path: Path):
    async with signaling_server(tmp_path, config={"heartbeat_interval_secs": 1}) as srv:
        yield srv


async def test_register_discover_rpc_both_ways_and_streams(server) -> None:
    async with node_process(server.url, *WS_ONLY) as child:
        async with client_node(server.url) as (ref, workload):
            ctx = ref.context
            target = await ctx.discover("acme+echo")
            assert target == child.actor_id
            assert await ctx.call(target, "test.Echo.Say", "hi") == "echo:hi"
            self_id, caller, pid = await ctx.call(target, "test.Echo.Who", None)
            assert (self_id, caller) == (str(child.actor_id), str(ref.actor_id))
            assert int(pid) == child.process.pid
            # The child calls back into this process over the same lane, reversed.
            got = await ctx.call(target, "test.Echo.CallBack", "test.Client.Hello")
            assert got == "caller said 'client heard from child'"
            # A stream each way, in order and intact.
            for i in range(500):
                payload = bytes([i % 256]) * 100
                chunk = DataStream(stream_id="s-reliable", sequence=i, payload=payload)
                await ctx.send_data_stream(target, chunk)
            count, ordered, _ = await ctx.call(target, "test.Echo.StreamReport", "s-reliable")
            assert (count, ordered) == (500, True)
            assert await ctx.call(target, "test.Echo.StreamBack", ["back", 200]) == 200
            await asyncio.wait_for(workload.done.wait(), 10)
            assert workload.got == list(range(200))
            lanes = ref.node.out_gate._lanes
            assert {lane.kind for lane in lanes.values()} == {"websocket"}


async def test_acl_denies_other_types(server) -> None:
    async with node_process(server.url, *WS_ONLY) as child:
        async with client_node(server.url, "acme+stranger") as (ref, _):
            with pytest.raises(NotFound):
                await ref.context.discover("acme+echo")
            with pytest.raises(Forbidden) as info:
                await ref.context.call(child.actor_id, "test.Echo.Say", "let me in")
            assert info.value.code == 403


async def test_forged_and_expired_credentials_cannot_inject(server) -> None:
    async with node_process(server.url, *WS_ONLY) as child:
        async with client_node(server.url) as (ref, _):
            ctx = ref.context
            assert await ctx.call(child.actor_id, "test.Echo.Say", "legit") == "echo:legit"
            me = ref.node.network.client
            real = me.credential
            forged = actr_pb2.AIdCredential(
                encrypted_token=real.encrypted_token[:-8] + b"\x00" * 8,
                token_key_id=real.token_key_id,
            )
            envelope = package_pb2.RpcEnvelope(
                route_key="test.Echo.Say", payload=b"\xa6forged", request_id="evil-1",
                direction=package_pb2.DIRECTION_REQUEST, timeout_ms=1000,
            ).SerializeToString()
            for credential in (forged, actr_pb2.AIdCredential(encrypted_token=b"junk",
                                                              token_key_id=1)):
                async with aiohttp.ClientSession() as session:
                    async with session.ws_connect(child.ws_address) as ws:
                        await ws.send_bytes(encode_hello(ref.actor_id, credential))
                        await ws.send_bytes(encode_frame(PayloadType.RPC_RELIABLE, envelope))
                        msg = await ws.receive(timeout=5)
                        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                            aiohttp.WSMsgType.CLOSING)
                        assert ws.close_code and ws.close_code >= 4000
            # Nothing from those sockets reached the workload.
            assert await ctx.call(child.actor_id, "test.Echo.Calls", None) == 1


async def test_expired_credential_is_refused(tmp_path: Path) -> None:
    cfg = {"heartbeat_interval_secs": 1, "credential_ttl_secs": 2}
    async with signaling_server(tmp_path, config=cfg) as srv:
        async with node_process(srv.url, *WS_ONLY) as child:
            async with client_node(srv.url) as (ref, _):
                stale = actr_pb2.AIdCredential()
                stale.CopyFrom(ref.node.network.client.credential)
                await asyncio.sleep(2.5)  # the token in `stale` is now past its expiry
                async with aiohttp.ClientSession() as session:
                    async with session.ws_connect(child.ws_address) as ws:
                        await ws.send_bytes(encode_hello(ref.actor_id, stale))
                        await ws.receive(timeout=5)
                        assert ws.close_code and ws.close_code >= 4000
                # The node renewed its own credential meanwhile and still gets through.
                assert await ref.context.call(child.actor_id, "test.Echo.Say", "x") == "echo:x"


async def test_killed_node_fails_pending_calls_fast_and_leaves_discovery(server) -> None:
    async with node_process(server.url, *WS_ONLY) as child:
        async with client_node(server.url) as (ref, _):
            ctx = ref.context
            target = await ctx.discover("acme+echo")
            pending = asyncio.ensure_future(ctx.call(target, "test.Echo.Slow", 60.0))
            await asyncio.sleep(0.3)
            t0 = time.monotonic()
            child.kill()
            with pytest.raises(Unavailable) as info:
                await asyncio.wait_for(pending, 15)
            waited = time.monotonic() - t0
            assert info.value.code == 503
            assert waited < 10, f"pending call took {waited:.1f}s to fail"
            deadline = time.monotonic() + 10
            while True:
                try:
                    await ctx.discover("acme+echo")
                except NotFound:
                    break
                assert time.monotonic() < deadline, "discovery kept returning a dead node"
                await asyncio.sleep(0.2)


async def test_server_restart_nodes_reconnect_and_calls_resume(server) -> None:
    async with node_process(server.url, *WS_ONLY) as child:
        async with client_node(server.url) as (ref, _):
            ctx = ref.context
            assert await ctx.call(child.actor_id, "test.Echo.Say", "before") == "echo:before"
            my_id = ref.actor_id
            await server.restart()
            # The direct lane does not need the server: calls keep working meanwhile.
            assert await ctx.call(child.actor_id, "test.Echo.Say", "during") == "echo:during"
            await ref.node.network.client.wait_connected(timeout=15)
            assert ref.actor_id == my_id
            deadline = time.monotonic() + 15
            while True:  # the child re-registers on its own schedule
                try:
                    found = await ctx.discover("acme+echo")
                    break
                except NotFound:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.2)
            assert found == child.actor_id
            # A fresh lane after the restart works too.
            conn = ref.node.network.pool.peek(child.actor_id)
            if conn is not None:
                await conn.close("test: force a new lane")
            assert await ctx.call(found, "test.Echo.Say", "after") == "echo:after"


async def test_fuzzed_frames_on_an_authenticated_lane_do_not_stop_the_node(server) -> None:
    rng = random.Random(1234)
    async with node_process(server.url, *WS_ONLY) as child:
        async with client_node(server.url) as (ref, _):
            ctx = ref.context
            assert await ctx.call(child.actor_id, "test.Echo.Say", "a") == "echo:a"
            conn = ref.node.network.pool.peek(child.actor_id)
            valid = package_pb2.RpcEnvelope(
                route_key="test.Echo.Say", payload=b"\xa1z", request_id="fz",
                direction=package_pb2.DIRECTION_REQUEST, timeout_ms=1000,
                metadata=[package_pb2.MetadataEntry(key="content-type",
                                                    value="application/msgpack")],
            ).SerializeToString()
            for i in range(3000):
                kind = rng.random()
                if kind < 0.3:
                    data = rng.randbytes(rng.randint(0, 300))
                else:
                    buf = bytearray(valid)
                    for _ in range(rng.randint(1, 4)):
                        buf[rng.randrange(len(buf))] = rng.randrange(256)
                    data = bytes(buf)
                pt = PayloadType(rng.choice([0, 1, 2, 3]))
                await conn.send(pt, data)
                if i % 500 == 0:  # a well-behaved caller is served throughout
                    assert await ctx.call(child.actor_id, "test.Echo.Say", f"{i}") == f"echo:{i}"
            assert await ctx.call(child.actor_id, "test.Echo.Say", "end") == "echo:end"
            assert child.process.returncode is None
