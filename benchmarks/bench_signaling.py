"""Signaling server: registrations per second and route-candidates latency at 1,000 nodes.

(300 nodes in ``--quick``, so the whole suite fits in two minutes.)

The server runs as a subprocess (the real ``python -m signaling_server``). Each
figure sits next to a raw baseline measured in the same run: a bare aiohttp
WebSocket echo server, also in a subprocess, driven the same way - so the
ratio is "what our protocol work costs over the WebSocket plumbing alone".
"""

from __future__ import annotations

import asyncio
import random
import re
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from actr_py.ids import ActrTypeName
from actr_py.proto import actr_pb2, signaling_pb2
from actr_py.wire.signaling import SignalingClient
from actr_py.wire.signaling.envelope import decode_envelope, make_envelope

from ._harness import BenchContext, Record, benchmark, latency_record, throughput_record

__all__: list[str] = []

NODES = 1000
#: --quick: fewer nodes so the whole suite fits in two minutes (the names say how many).
QUICK_NODES = 300
CONCURRENCY = 50
WORKER = ActrTypeName("bench", "worker")
CALLER = ActrTypeName("bench", "caller")
_ROOT = Path(__file__).resolve().parent.parent
_SERVER_CONFIG = {
    # Nothing may be throttled or evicted while we measure.
    "heartbeat_interval_secs": 3600,
    "message_rate": 1e9,
    "message_burst": 1_000_000_000,
    "connection_rate": 1e9,
    "connection_burst": 1_000_000_000,
}

_ECHO_SERVER = r"""
import asyncio, sys
from aiohttp import web, WSMsgType

async def ws(request):
    sock = web.WebSocketResponse(compress=False)
    await sock.prepare(request)
    async for msg in sock:
        if msg.type == WSMsgType.BINARY:
            await sock.send_bytes(msg.data)
    return sock

async def main():
    app = web.Application()
    app.router.add_get("/ws", ws)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print("echo listening on 127.0.0.1:%d" % runner.addresses[0][1], flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


@asynccontextmanager
async def _echo_server() -> AsyncIterator[str]:
    """A trivial aiohttp WebSocket echo server in a subprocess; yields its ws URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _ECHO_SERVER, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        match = re.search(r":(\d+)", line)
        if not match:
            raise RuntimeError(f"echo server did not start: {line!r}")
        yield f"ws://127.0.0.1:{match.group(1)}/ws"
    finally:
        proc.kill()
        await proc.wait()


@asynccontextmanager
async def _signaling_server() -> AsyncIterator[str]:
    """The real signaling server in a subprocess, via the test launcher; yields its URL."""
    if str(_ROOT) not in sys.path:
        sys.path.insert(0, str(_ROOT))
    from tests.support.signaling import SignalingServer

    with tempfile.TemporaryDirectory(prefix="bench-signaling-") as tmp:
        server = SignalingServer(Path(tmp), config=_SERVER_CONFIG, args=["--log-level", "warning"])
        await server.start()
        try:
            yield server.url
        finally:
            await server.stop()


def _register_envelope(actr_type: ActrTypeName, allow: ActrTypeName | None) -> bytes:
    req = actr_pb2.RegisterRequest(
        actr_type=actr_type.to_proto(), realm=actr_pb2.Realm(realm_id=1),
        ws_address="ws://127.0.0.1:9/lane",
    )
    if allow is not None:
        rule = req.acl.rules.add(permission=actr_pb2.AclRule.ALLOW)
        rule.principals.add().actr_type.CopyFrom(allow.to_proto())
    env = make_envelope(peer_to_server=signaling_pb2.PeerToSignaling(register_request=req))
    return env.SerializeToString()


async def _connect_many(
    http: aiohttp.ClientSession,
    url: str,
    n: int,
    first_exchange: Callable[[aiohttp.ClientWebSocketResponse], Awaitable[None]],
) -> tuple[float, list[aiohttp.ClientWebSocketResponse]]:
    """Open ``n`` sockets, ``CONCURRENCY`` at a time, each doing one exchange; keep them open."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> aiohttp.ClientWebSocketResponse:
        async with gate:
            ws = await http.ws_connect(url, compress=0)
            await first_exchange(ws)
            return ws

    started = time.perf_counter()
    sockets = await asyncio.gather(*(one() for _ in range(n)))
    return time.perf_counter() - started, list(sockets)


async def _register(
    ws: aiohttp.ClientWebSocketResponse, data: bytes
) -> signaling_pb2.SignalingEnvelope:
    await ws.send_bytes(data)
    reply = decode_envelope((await ws.receive()).data)
    if reply.server_to_actr.register_response.WhichOneof("result") != "success":
        raise RuntimeError(f"registration refused: {reply}")
    return reply


async def _echo_once(ws: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
    await ws.send_bytes(data)
    await ws.receive()


async def _close_all(sockets: list[aiohttp.ClientWebSocketResponse]) -> None:
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)


@benchmark("signaling.registrations")
async def bench_registrations(ctx: BenchContext) -> list[Record]:
    data = _register_envelope(WORKER, CALLER)
    rounds = ctx.n(3, 1)
    nodes = ctx.n(NODES, QUICK_NODES)
    ours: list[float] = []
    base: list[float] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        for _ in range(rounds):
            async with _signaling_server() as url:
                elapsed, sockets = await _connect_many(
                    http, url, nodes, lambda ws: _register(ws, data)
                )
                ours.append(nodes / elapsed)
                await _close_all(sockets)
            async with _echo_server() as url:
                elapsed, sockets = await _connect_many(
                    http, url, nodes, lambda ws: _echo_once(ws, data)
                )
                base.append(nodes / elapsed)
                await _close_all(sockets)
    return [
        throughput_record(
            f"signaling registrations ({nodes} nodes, {CONCURRENCY} concurrent, connect+register)",
            max(ours),
            "aiohttp ws connect + one echo",
            max(base),
            unit="registrations/s",
            note=f"best of {rounds}; each registration signs an Ed25519 token and writes SQLite",
        )
    ]


@benchmark("signaling.discovery")
async def bench_discovery(ctx: BenchContext) -> list[Record]:
    samples = ctx.n(3000, 400)
    warmup = ctx.n(200, 50)
    nodes = ctx.n(NODES, QUICK_NODES)
    rng = random.Random(7)
    clock = time.perf_counter_ns
    register = _register_envelope(WORKER, CALLER)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        async with _signaling_server() as url:
            async def register_and_report_load(ws: aiohttp.ClientWebSocketResponse) -> None:
                ok = (await _register(ws, register)).server_to_actr.register_response.success
                ping = actr_pb2.Ping(
                    availability=actr_pb2.FULL,
                    power_reserve=rng.random(),
                    mailbox_backlog=float(rng.randrange(100)),
                )
                env = make_envelope(actr_to_server=signaling_pb2.ActrToSignaling(
                    source=ok.actr_id, credential=ok.credential, ping=ping))
                await ws.send_bytes(env.SerializeToString())
                await ws.receive()  # pong

            _, sockets = await _connect_many(http, url, nodes, register_and_report_load)
            caller = SignalingClient(url, CALLER, 1, http_session=http)
            await caller.start()
            try:
                for _ in range(warmup):
                    await caller.route_candidates(WORKER, 3)
                ours = []
                for _ in range(samples):
                    t0 = clock()
                    got = await caller.route_candidates(WORKER, 3)
                    ours.append((clock() - t0) / 1000)
                assert len(got) == 3
                assert caller.actor_id is not None
                probe = make_envelope(actr_to_server=signaling_pb2.ActrToSignaling(
                    source=caller.actor_id.to_proto(),
                    credential=caller.credential,
                    route_candidates_request=actr_pb2.RouteCandidatesRequest(
                        target_type=WORKER.to_proto(),
                        client_fingerprint="",
                        criteria={"candidate_count": 3, "ranking_factors": [0, 1]},
                    ),
                )).SerializeToString()
            finally:
                await caller.close()
                await _close_all(sockets)
        async with _echo_server() as url:
            ws = await http.ws_connect(url, compress=0)
            for _ in range(warmup):
                await _echo_once(ws, probe)
            base = []
            for _ in range(samples):
                t0 = clock()
                await _echo_once(ws, probe)
                base.append((clock() - t0) / 1000)
            await ws.close()
    return [
        latency_record(
            f"signaling route_candidates RTT ({nodes} live nodes of the type, top 3 ranked)",
            ours,
            "aiohttp ws echo RTT (same request size)",
            base,
            note="SignalingClient.route_candidates end to end; ranking by power reserve "
            f"then mailbox backlog over all {nodes:,} candidates",
        )
    ]
