"""DataStreamRegistry policies: order, latency-first drops, the unregistered buffer."""

from __future__ import annotations

import asyncio

import pytest

from actr_py import ActorId, DataStream, PayloadType
from actr_py.inbound.stream_registry import DataStreamRegistry

A = ActorId.parse("1@1:acme+a")
B = ActorId.parse("2@1:acme+b")
REL = PayloadType.STREAM_RELIABLE
LAT = PayloadType.STREAM_LATENCY_FIRST


def chunk(seq: int, stream: str = "s") -> DataStream:
    return DataStream(stream_id=stream, sequence=seq, payload=seq.to_bytes(2, "big"))


class Collector:
    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.gate: asyncio.Event | None = None

    async def __call__(self, c: DataStream, sender: ActorId) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.got.append((str(sender.serial), c.sequence))


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_out_of_order_arrivals_are_released_in_sequence() -> None:
    reg = DataStreamRegistry()
    col = Collector()
    reg.register("s", col)
    for seq in [0, 2, 3, 1, 5, 4]:
        await reg.deliver(A, REL, chunk(seq))
    await settle()
    assert [s for _, s in col.got] == [0, 1, 2, 3, 4, 5]
    await reg.close()


async def test_two_senders_on_one_stream_are_sequenced_separately() -> None:
    reg = DataStreamRegistry()
    col = Collector()
    reg.register("s", col)
    for seq in range(3):
        await reg.deliver(A, REL, chunk(seq))
        await reg.deliver(B, REL, chunk(seq))
    await settle()
    assert [s for w, s in col.got if w == "1"] == [0, 1, 2]
    assert [s for w, s in col.got if w == "2"] == [0, 1, 2]
    await reg.close()


async def test_latency_first_drops_oldest_when_full_and_never_blocks() -> None:
    reg = DataStreamRegistry(queue_size=4)
    col = Collector()
    col.gate = asyncio.Event()
    reg.register("s", col)
    for seq in range(20):
        await asyncio.wait_for(reg.deliver(A, LAT, chunk(seq)), 1)
    assert reg.stats.dropped_latency > 0
    col.gate.set()
    await settle()
    seqs = [s for _, s in col.got]
    assert seqs == sorted(seqs) and seqs[-1] == 19
    await reg.close()


async def test_reliable_blocks_when_full() -> None:
    reg = DataStreamRegistry(queue_size=2)
    col = Collector()
    col.gate = asyncio.Event()
    reg.register("s", col)
    for seq in range(3):  # one taken by the consumer, two queued
        await reg.deliver(A, REL, chunk(seq))
    await settle()
    blocked = asyncio.ensure_future(reg.deliver(A, REL, chunk(3)))
    await settle()
    assert not blocked.done()
    col.gate.set()
    await asyncio.wait_for(blocked, 1)
    await settle()
    assert [s for _, s in col.got] == [0, 1, 2, 3]
    await reg.close()


async def test_unregistered_chunks_are_bounded_and_counted() -> None:
    reg = DataStreamRegistry(pending_per_stream=3, pending_streams=2)
    for seq in range(5):
        await reg.deliver(A, REL, chunk(seq, "x"))
    assert reg.stats.dropped_unregistered == 2  # oldest two pushed out
    await reg.deliver(A, REL, chunk(0, "y"))
    await reg.deliver(A, REL, chunk(0, "z"))  # third pending stream evicts "x" (3 chunks)
    assert reg.stats.dropped_unregistered == 5
    col = Collector()
    reg.register("y", col)
    await settle()
    assert col.got == [("1", 0)]
    await reg.close()


async def test_held_chunks_after_a_gap_are_delivered_once_registered() -> None:
    reg = DataStreamRegistry()
    for seq in range(3):
        await reg.deliver(A, REL, chunk(seq))
    col = Collector()
    reg.register("s", col)
    await reg.deliver(A, REL, chunk(3))
    await settle()
    assert [s for _, s in col.got] == [0, 1, 2, 3]
    await reg.close()


async def test_unregister_drops_queued_and_later_chunks_are_held_again() -> None:
    reg = DataStreamRegistry()
    col = Collector()
    col.gate = asyncio.Event()
    reg.register("s", col)
    for seq in range(4):
        await reg.deliver(A, REL, chunk(seq))
    await settle()
    assert reg.unregister("s")
    assert not reg.unregister("s")
    assert reg.stats.dropped_unregistered == 3  # chunk 0 was with the callback
    await reg.deliver(A, REL, chunk(4))
    assert "s" not in reg and reg._pending["s"]
    await reg.close()


async def test_double_register_is_refused() -> None:
    reg = DataStreamRegistry()
    reg.register("s", Collector())
    with pytest.raises(ValueError, match="already registered"):
        reg.register("s", Collector())
    await reg.close()


async def test_gap_overflow_is_reported_not_raised() -> None:
    errors: list[str] = []
    reg = DataStreamRegistry(on_error=lambda exc, where: errors.append(str(exc)))
    reg.register("s", Collector())
    await reg.deliver(A, REL, chunk(0))
    await reg.deliver(A, REL, chunk(5000))
    assert errors and "gap too large" in errors[0]
    await reg.close()
