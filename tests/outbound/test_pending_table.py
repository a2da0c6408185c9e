"""The asyncio adapter: one shared timer, typed failures."""

from __future__ import annotations

import asyncio

import pytest

from actr_py import ActorId, DeadlineExceeded, Unavailable
from actr_py.outbound.pending import PendingCallTable
from actr_py.proto import package_pb2

A = ActorId.parse("1@1:acme+a")
B = ActorId.parse("2@1:acme+b")


async def test_resolve_only_from_the_called_peer() -> None:
    t = PendingCallTable()
    fut = t.register("r1", A, 5)
    env = package_pb2.RpcEnvelope(request_id="r1")
    assert not t.resolve(B, env)
    assert t.resolve(A, env)
    assert (await fut) is env and len(t) == 0 and t.late_responses == 1


async def test_deadlines_fire_in_order_with_one_timer() -> None:
    t = PendingCallTable()
    slow = t.register("slow", A, 0.3)
    fast = t.register("fast", A, 0.05)
    with pytest.raises(DeadlineExceeded):
        await fast
    assert not slow.done()
    with pytest.raises(DeadlineExceeded):
        await slow
    assert len(t) == 0


async def test_fail_peer_and_fail_all() -> None:
    t = PendingCallTable()
    a1, b1 = t.register("a1", A, 5), t.register("b1", B, 5)
    assert t.fail_peer(A, Unavailable("gone")) == 1
    with pytest.raises(Unavailable):
        await a1
    assert not b1.done()
    t.fail_all(Unavailable("stopping"))
    with pytest.raises(Unavailable):
        await b1
    await asyncio.sleep(0)
