"""Managers cache lanes per (peer, PayloadType) and forget them when the wire drops."""

from __future__ import annotations

import pytest

from actr_py import ActrTypeName, PayloadType, Unavailable
from actr_py.outbound.out_gate import OutGate
from actr_py.transport.manager import InprocTransportManager
from actr_py.transport.route_table import RouteTable
from actr_py.wire.inproc import InprocHub


async def _sink(sender, pt, data) -> None:
    pass


async def _env_sink(sender, pt, env) -> None:
    pass


def _node(hub: InprocHub, name: str):
    return hub.register(ActrTypeName("acme", name), 1, _sink, _env_sink)


async def test_lanes_are_cached_and_share_one_connection() -> None:
    hub = InprocHub()
    a, b = _node(hub, "a"), _node(hub, "b")
    m = InprocTransportManager(hub, a)
    l1 = await m.lane(b, PayloadType.RPC_RELIABLE)
    assert await m.lane(b, PayloadType.RPC_RELIABLE) is l1
    l2 = await m.lane(b, PayloadType.STREAM_RELIABLE)
    assert l2 is not l1 and l2.connection is l1.connection
    assert l1.kind == "inproc" and l1.peer_id == b


async def test_peer_loss_evicts_lanes_and_notifies() -> None:
    hub = InprocHub()
    a, b = _node(hub, "a"), _node(hub, "b")
    m = InprocTransportManager(hub, a)
    lost = []
    m.on_peer_lost(lambda conn, exc: lost.append((conn.peer_id, exc)))
    lane = await m.lane(b, PayloadType.RPC_RELIABLE)
    hub.unregister(b)
    assert lane.closed and lost and lost[0][0] == b
    assert isinstance(lost[0][1], Unavailable)
    with pytest.raises(Unavailable):
        await lane.send(b"x")
    with pytest.raises(Unavailable):
        await m.lane(b, PayloadType.RPC_RELIABLE)


async def test_out_gate_follows_the_route_table() -> None:
    hub = InprocHub()
    a, b = _node(hub, "a"), _node(hub, "b")
    gate = OutGate([InprocTransportManager(hub, a)],
                   RouteTable({PayloadType.RPC_SIGNAL: ["websocket"]}))
    assert gate.can_reach(b)
    assert (await gate.lane(b, PayloadType.RPC_RELIABLE)).kind == "inproc"
    with pytest.raises(Unavailable, match="no lane kind in its route can reach it"):
        await gate.lane(b, PayloadType.RPC_SIGNAL)
