"""Malformed frames are counted, answered where possible, and never stop the gate."""

from __future__ import annotations

import asyncio

import pytest

from actr_py import ActorId, Context, PayloadType, Workload, handler
from actr_py.proto import package_pb2
from actr_py.wire.inproc import InprocHub


class Echo(Workload):
    @handler("demo.Echo.Say")
    async def say(self, ctx: Context, req: str) -> str:
        return req


@pytest.fixture
async def pair(start):
    echo = await start(Echo(), "acme+echo")
    client = await start(Workload(), "acme+client")
    return echo, client


async def _raw_send(hub: InprocHub, src: ActorId, dst: ActorId, pt: PayloadType, data: bytes):
    link = hub.connect(src, dst)
    await link.send(pt, data)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xff\xff",  # not protobuf at all
        b"\x0a\x01a",  # required fields missing
        package_pb2.RpcEnvelope(route_key="demo.Echo.Say", request_id="r1",
                                timeout_ms=5).SerializeToString(),  # no direction
    ],
)
async def test_malformed_rpc_frames_are_dropped_and_counted(pair, hub, data: bytes) -> None:
    echo, client = pair
    await _raw_send(hub, client.actor_id, echo.actor_id, PayloadType.RPC_RELIABLE, data)
    assert echo.node.gate.stats.malformed == 1
    assert await client.context.call(echo.actor_id, "demo.Echo.Say", "still ok") == "still ok"


async def test_request_without_timeout_gets_400(pair, hub) -> None:
    echo, client = pair
    env = package_pb2.RpcEnvelope(
        route_key="demo.Echo.Say", request_id="r-bad", timeout_ms=0,
        direction=package_pb2.DIRECTION_REQUEST,
    )
    fut = client.node.pending.register("r-bad", echo.actor_id, 5.0)
    await _raw_send(hub, client.actor_id, echo.actor_id, PayloadType.RPC_RELIABLE,
                    env.SerializeToString())
    resp = await asyncio.wait_for(fut, 2)
    assert resp.error.code == 400 and "timeout_ms" in resp.error.message


async def test_object_path_applies_the_same_checks(pair, hub) -> None:
    echo, client = pair
    env = package_pb2.RpcEnvelope(route_key="x", request_id="r2", timeout_ms=5)  # no direction
    link = hub.connect(client.actor_id, echo.actor_id)
    await link.send_envelope(PayloadType.RPC_RELIABLE, env)
    assert echo.node.gate.stats.malformed == 1


async def test_undecodable_stream_chunk_and_media_frame_are_dropped(pair, hub) -> None:
    echo, client = pair
    await _raw_send(hub, client.actor_id, echo.actor_id, PayloadType.STREAM_RELIABLE, b"\xff\xff")
    await _raw_send(hub, client.actor_id, echo.actor_id, PayloadType.STREAM_RELIABLE, b"\x0a\x01s")
    await _raw_send(hub, client.actor_id, echo.actor_id, PayloadType.MEDIA_RTP, b"\x80")
    assert echo.node.gate.stats.malformed == 2
    # Media rides RTP tracks: a MEDIA_RTP frame on a byte lane is the media registry's to drop.
    assert echo.node.media_frames.stats.off_track == 1


async def test_response_from_a_third_party_is_ignored(pair, hub, start) -> None:
    echo, client = pair
    mallory = await start(Workload(), "acme+mallory")
    fut = client.node.pending.register("r-x", echo.actor_id, 5.0)
    forged = package_pb2.RpcEnvelope(
        route_key="demo.Echo.Say", request_id="r-x", timeout_ms=0,
        direction=package_pb2.DIRECTION_RESPONSE, payload=b"forged",
    )
    await _raw_send(hub, mallory.actor_id, client.actor_id, PayloadType.RPC_RELIABLE,
                    forged.SerializeToString())
    assert not fut.done()
    assert client.node.gate.stats.late_responses == 1
    client.node.pending.discard("r-x")
