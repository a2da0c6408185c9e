"""Node RPC over WebRTC DataChannels across two processes, against bare aiortc.

* ``webrtc.call_rtt``: a full call (envelope, gates, scheduler, reply) of a
  16-byte payload from this process's node to an echo node in a child process
  (``tests.support.node_main``), against a bare aiortc DataChannel echo in
  another child (``benchmarks._bare_aiortc_echo``). Rounds alternate; warm-up
  rounds are discarded.
* ``webrtc.connect``: the first call to a peer this node has no connection to
  yet, signaling round trips, role negotiation, offer/answer, ICE, DTLS, SCTP
  and the call itself included, against two bare aiortc peer connections in
  one process connecting and opening a DataChannel.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import sys
import tempfile
import time
from pathlib import Path

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription

from actr_py import ActrConfig, ActrSystem, Workload
from actr_py.wire.inproc import InprocHub
from actr_py.wire.webrtc.gathering import restrict_gathering

from ._harness import BenchContext, Record, benchmark, latency_record

_ROOT = Path(__file__).resolve().parents[1]
_ARGS = ("--type", "bench+echo", "--allow", "bench+client", "--listen", "")


async def _open(pc_a: RTCPeerConnection, answer_of) -> RTCDataChannel:
    channel = pc_a.createDataChannel("bench")
    opened = asyncio.get_running_loop().create_future()
    channel.once("open", lambda: opened.done() or opened.set_result(None))
    restrict_gathering(pc_a, ["127.0.0.1"])
    await pc_a.setLocalDescription(await pc_a.createOffer())
    await pc_a.setRemoteDescription(await answer_of(pc_a.localDescription))
    await asyncio.wait_for(opened, 15)
    return channel


@contextlib.asynccontextmanager
async def _bare_remote_echo():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks._bare_aiortc_echo", cwd=_ROOT,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        async def answer_of(offer: RTCSessionDescription) -> RTCSessionDescription:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write((json.dumps({"sdp": offer.sdp, "type": offer.type}) + "\n").encode())
            await proc.stdin.drain()
            return RTCSessionDescription(**json.loads(await proc.stdout.readline()))

        yield await _open(pc, answer_of)
    finally:
        await pc.close()
        if proc.stdin is not None:
            proc.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


async def _bare_local_connect() -> float:
    """Seconds for two in-process aiortc peers to connect and open a channel."""
    pc_b = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc_a = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def answer_of(offer: RTCSessionDescription) -> RTCSessionDescription:
        await pc_b.setRemoteDescription(offer)
        restrict_gathering(pc_b, ["127.0.0.1"])
        await pc_b.setLocalDescription(await pc_b.createAnswer())
        return pc_b.localDescription

    t0 = time.perf_counter()
    await _open(pc_a, answer_of)
    elapsed = time.perf_counter() - t0
    await pc_a.close()
    await pc_b.close()
    return elapsed


@contextlib.asynccontextmanager
async def _client(url: str):
    config = ActrConfig(actr_type="bench+client", signaling_url=url)
    ref = await ActrSystem(config, hub=InprocHub()).attach(Workload()).start()
    try:
        yield ref
    finally:
        await ref.shutdown()


@benchmark("webrtc.node")
async def webrtc_node(ctx: BenchContext) -> list[Record]:
    sys.path.insert(0, str(_ROOT))
    from tests.support.nodes import node_process
    from tests.support.signaling import signaling_server

    payload = b"x" * 16
    rounds, per_round = ctx.n(12, 5), ctx.n(300, 150)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            signaling_server(Path(tmp)) as srv,
            node_process(srv.url, *_ARGS) as child,
            _bare_remote_echo() as channel,
        ):
            # ---- setup time: a fresh caller node each sample -------------------
            setup_ours: list[float] = []
            setup_bare: list[float] = []
            for _ in range(ctx.n(10, 4)):
                async with _client(srv.url) as ref:
                    target = await ref.context.discover("bench+echo")
                    t0 = time.perf_counter()
                    await ref.context.call(target, "test.Echo.Bytes", payload)
                    setup_ours.append((time.perf_counter() - t0) * 1000)
                setup_bare.append(await _bare_local_connect() * 1000)

            # ---- round trip: one caller node, alternating with the bare echo ------
            async with _client(srv.url) as ref:
                call = ref.context.call
                target = child.actor_id
                await call(target, "test.Echo.Bytes", payload)
                loop = asyncio.get_running_loop()
                pong: list[asyncio.Future[None]] = []
                channel.on("message", lambda m: pong and not pong[0].done()
                           and pong[0].set_result(None))

                async def ours(n: int) -> list[float]:
                    out = []
                    for _ in range(n):
                        t0 = clock()
                        await call(target, "test.Echo.Bytes", payload)
                        out.append((clock() - t0) / 1000)
                    return out

                async def bare(n: int) -> list[float]:
                    out = []
                    frame = b"\x0a\x0e" + b"x" * 14
                    for _ in range(n):
                        pong[:] = [loop.create_future()]
                        t0 = clock()
                        channel.send(frame)
                        await pong[0]
                        out.append((clock() - t0) / 1000)
                    return out

                mine: list[float] = []
                base: list[float] = []
                gc.collect()
                for i in range(rounds + 1):
                    o, b = await ours(per_round), await bare(per_round)
                    if i >= 1:
                        mine += o
                        base += b
    return [
        latency_record(
            "webrtc.call_rtt", mine, "bare aiortc DataChannel echo (2 processes)", base,
            target="<= 1.3", note="node -> node call across processes over DataChannels",
        ),
        latency_record(
            "webrtc.connect", setup_ours, "bare aiortc connect + channel open (1 process)",
            setup_bare, unit="ms", target="<= 2",
            note="first call to an unconnected peer, signaling included",
        ),
    ]
