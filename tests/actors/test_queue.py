"""Durable queues: at least once, one at a time, in send order per actor, deleted on completion."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from typing import Any

import pytest

from actr_py.actors import Actor, ActorNotFound, ActorOptions, ActorTimeout, action
from tests.actors._actors import Jobs


def queued(db: str) -> list[Any]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [r[0] for r in conn.execute("SELECT seq FROM queue ORDER BY seq")]


class Inbox(Actor):
    """Consumes from an action, to exercise next() directly."""

    options = ActorOptions(idle_timeout=None)

    @action
    async def take(self, names: Any = None, timeout: float = 0.0) -> Any:
        msg = await self.queue.next(names, timeout=timeout)
        return None if msg is None else [msg.queue, msg.body]

    @action
    async def take_and_complete(self, reply: Any) -> Any:
        msg = await self.queue.next(timeout=1.0)
        assert msg is not None
        await msg.complete(reply)
        return msg.body

    @action(readonly=True)
    def depth(self) -> int:
        return self.queue.depth()


async def test_messages_are_consumed_serially_in_send_order(make_host) -> None:
    host = await make_host([Jobs])
    jobs = host.client().get_or_create(Jobs, "j")
    await asyncio.gather(*(jobs.send("jobs", {"id": i}) for i in range(20)))
    for _ in range(200):
        if len(await jobs.done()) == 20:
            break
        await asyncio.sleep(0.01)
    assert await jobs.done() == list(range(20))
    assert queued(host.store.path) == []  # completed messages are deleted


async def test_enqueue_and_wait_returns_the_reply(make_host) -> None:
    host = await make_host([Jobs])
    jobs = host.client().get_or_create(Jobs, "w")
    replies = await asyncio.gather(
        *(jobs.enqueue_and_wait("jobs", {"id": i}, timeout=5) for i in range(5))
    )
    assert replies == [{"ok": i} for i in range(5)]


async def test_a_send_is_durable_before_it_returns_and_wakes_the_consumer(make_host) -> None:
    host = await make_host([Jobs])
    jobs = host.client().get_or_create(Jobs, "d")
    await jobs.done()
    await host.sleep_all()  # the run loop is gone with the actor
    assert host.awake_count() == 0
    await jobs.enqueue_and_wait("jobs", {"id": "x"}, timeout=5)  # wakes it, run consumes
    assert await jobs.done() == ["x"]


class Careful(Actor):
    """Holds the first delivery of every message until cancelled; logs each delivery."""

    options = ActorOptions(idle_timeout=None)

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"deliveries": [], "done": []}

    async def run(self) -> None:
        async for msg in self.queue.iter():
            first = msg.body not in self.state["deliveries"]
            self.state["deliveries"].append(msg.body)
            await self.save_state(immediate=True)
            if first and msg.body == 1:
                await asyncio.sleep(3600)
            self.state["done"].append(msg.body)

    @action(readonly=True)
    def report(self) -> list[Any]:
        return [self.state["deliveries"], self.state["done"]]


async def _until(fn, want, tries: int = 300) -> Any:
    for _ in range(tries):
        got = await fn()
        if got == want:
            return got
        await asyncio.sleep(0.01)
    return await fn()


async def test_in_flight_message_is_delivered_again_after_sleep(make_host) -> None:
    host = await make_host([Careful])
    careful = host.client().get_or_create(Careful, "r")
    await careful.send("q", 1)
    await careful.send("q", 2)
    assert await _until(careful.report, [[1], []]) == [[1], []]
    await host.sleep_all()  # cancels run() mid-message: nothing was completed
    assert len(queued(host.store.path)) == 2
    # The next wake delivers 1 again (at least once), then 2: in order.
    assert await _until(careful.report, [[1, 1, 2], [1, 2]]) == [[1, 1, 2], [1, 2]]
    assert queued(host.store.path) == []


async def test_next_filters_queues_times_out_and_completes_the_previous(make_host) -> None:
    host = await make_host([Inbox])
    inbox = host.client().get_or_create(Inbox, "i")
    assert await inbox.take(None, 0.05) is None  # timeout, nothing queued
    await inbox.send("a", 1)
    await inbox.send("b", 2)
    await inbox.send("a", 3)
    assert await inbox.depth() == 3
    assert await inbox.take("b") == ["b", 2]
    # Asking again completed "b"'s message; "a"'s are still there, in order.
    assert await inbox.take(["a"]) == ["a", 1]
    assert await inbox.depth() == 2  # "b" completed; 1 in flight and 3 waiting
    assert await inbox.take() == ["a", 3]


async def test_waiting_sender_gets_the_reply_given_to_complete(make_host) -> None:
    host = await make_host([Inbox])
    inbox = host.client().get_or_create(Inbox, "c")
    waiter = asyncio.ensure_future(inbox.enqueue_and_wait("q", {"ask": 1}, timeout=5))
    await asyncio.sleep(0.02)
    assert await inbox.take_and_complete({"answer": 42}) == {"ask": 1}
    assert await waiter == {"answer": 42}
    with pytest.raises(ActorTimeout):  # nobody consumes: the sender's wait times out
        await inbox.enqueue_and_wait("q", {"ask": 2}, timeout=0.05)
    assert await inbox.depth() == 1  # ...but the message stays queued


async def test_sending_to_a_missing_actor_with_get_is_not_found(make_host) -> None:
    host = await make_host([Inbox])
    with pytest.raises(ActorNotFound):
        await host.client().get(Inbox, "nobody").send("q", 1)


async def test_destroy_drops_the_queue_and_fails_waiting_senders(make_host) -> None:
    host = await make_host([Inbox])
    inbox = host.client().get_or_create(Inbox, "x")
    waiter = asyncio.ensure_future(inbox.enqueue_and_wait("q", 1, timeout=5))
    await asyncio.sleep(0.02)
    await inbox.destroy()
    with pytest.raises(ActorNotFound):
        await waiter
    assert queued(host.store.path) == []
