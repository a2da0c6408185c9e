from __future__ import annotations

import asyncio

import pytest

from actr_py import ActorId, PayloadType
from actr_py.inbound.mailbox import InboundMessage, MailboxFull, MemoryMailbox
from actr_py.proto import package_pb2

A = ActorId.parse("1@1:acme+a")


def msg(name: str, pt: PayloadType = PayloadType.RPC_RELIABLE) -> InboundMessage:
    return InboundMessage(A, pt, package_pb2.RpcEnvelope(route_key=name, request_id=name,
                                                         timeout_ms=1, direction=1))


async def test_signal_before_reliable_then_arrival_order() -> None:
    mb = MemoryMailbox()
    for m in [msg("r1"), msg("s1", PayloadType.RPC_SIGNAL), msg("r2"),
              msg("s2", PayloadType.RPC_SIGNAL)]:
        await mb.enqueue(m)
    order = [(await mb.next()).envelope.route_key for _ in range(4)]
    assert order == ["s1", "s2", "r1", "r2"]


async def test_next_waits_for_enqueue_without_polling() -> None:
    mb = MemoryMailbox()
    waiter = asyncio.ensure_future(mb.next())
    await asyncio.sleep(0)
    assert not waiter.done()
    mb.put_nowait(msg("x"))
    assert (await asyncio.wait_for(waiter, 1)).envelope.route_key == "x"


async def test_full_mailbox_refuses_with_retryable_503() -> None:
    mb = MemoryMailbox(capacity=2)
    mb.put_nowait(msg("a"))
    mb.put_nowait(msg("b"))
    with pytest.raises(MailboxFull) as info:
        mb.put_nowait(msg("c"))
    assert info.value.code == 503 and info.value.retryable
    await mb.next()
    mb.put_nowait(msg("c"))
    assert [m.envelope.route_key for m in mb.drain()] == ["b", "c"] and mb.depth() == 0


async def test_full_mailbox_answers_the_caller_and_tells_the_workload(start) -> None:
    from actr_py import Context, Unavailable, Workload, handler

    release = asyncio.Event()
    heard: list[tuple[int, int]] = []

    class Busy(Workload):
        @handler("b.Busy.Wait")
        async def wait(self, ctx: Context, req: int) -> int:
            await release.wait()
            return req

        async def on_mailbox_backpressure(self, depth: int, capacity: int) -> None:
            heard.append((depth, capacity))

    busy = await start(Busy(), "acme+busy", mailbox_capacity=2)
    client = await start(Workload(), "acme+client")
    calls = [asyncio.ensure_future(client.context.call(busy.actor_id, "b.Busy.Wait", 0))]
    await asyncio.sleep(0.02)  # the first is taken from the mailbox and runs
    calls += [asyncio.ensure_future(client.context.call(busy.actor_id, "b.Busy.Wait", i))
              for i in (1, 2)]  # these two fill the mailbox
    await asyncio.sleep(0.02)
    with pytest.raises(Unavailable) as info:
        await client.context.call(busy.actor_id, "b.Busy.Wait", 99)
    assert info.value.retryable and "mailbox full" in info.value.message
    await asyncio.sleep(0.01)
    assert heard == [(2, 2)]
    release.set()
    assert await asyncio.gather(*calls) == [0, 1, 2]
