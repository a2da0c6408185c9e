"""Hard crashes of a real host process (SIGKILL): what survives is exactly what was saved."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from actr_py.actors import ActorWsClient
from actr_py.actors.timing import RetryPolicy
from tests.actors._procs import host_process
from tests.actors.conftest import stored_state

pytestmark = pytest.mark.slow


def retry() -> RetryPolicy:
    return RetryPolicy(base=0.05, max_delay=0.5, max_attempts=40)


async def test_state_saved_by_the_throttle_survives_kill_9(tmp_path: Path) -> None:
    db = str(tmp_path / "node.db")
    async with host_process("--storage", db, "--save-interval", "0.2") as child:
        client = ActorWsClient(child.gateway, retry=retry)
        try:
            conn = await client.connect("Counter", "k")
            for _ in range(5):
                await conn.call("increment", 1)
            # The documented window is save_interval; wait for the save to land on disk.
            for _ in range(250):
                if stored_state(db, "Counter", "k") == {"count": 5}:
                    break
                await asyncio.sleep(0.02)
            assert stored_state(db, "Counter", "k") == {"count": 5}
        finally:
            await client.close()
        child.kill()
        assert await child.wait() == -9
    async with host_process("--storage", db) as again:
        client = ActorWsClient(again.gateway, retry=retry)
        try:
            conn = await client.connect("Counter", "k", mode="get")
            assert await conn.call("get") == 5
        finally:
            await client.close()


async def test_immediate_save_survives_kill_9_and_unsaved_changes_do_not(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "node.db")
    async with host_process("--storage", db, "--save-interval", "3600") as child:
        client = ActorWsClient(child.gateway, retry=retry)
        try:
            conn = await client.connect("Counter", "d")
            assert await conn.call("increment_durably", 7) == 7
            assert await conn.call("increment", 100) == 107  # inside the (1 h) save window
        finally:
            await client.close()
        child.kill()  # right after the reply: nothing had time to flush
        await child.wait()
    async with host_process("--storage", db) as again:
        client = ActorWsClient(again.gateway, retry=retry)
        try:
            conn = await client.connect("Counter", "d", mode="get")
            assert await conn.call("get") == 7
        finally:
            await client.close()


async def test_queue_message_in_flight_at_a_crash_is_delivered_after_restart(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "node.db")
    async with host_process("--storage", db) as child:
        client = ActorWsClient(child.gateway, retry=lambda: RetryPolicy(max_attempts=0))
        try:
            conn = await client.connect("Jobs", "j")
            assert await conn.enqueue_and_wait("jobs", {"id": 1}, timeout=10) == {"ok": 1}
            # The consumer dies (os._exit) while holding this one, before completing it.
            await conn.send("jobs", {"id": 2, "crash_once": True})
            assert await child.wait() == 9
        finally:
            await client.close()
    async with host_process("--storage", db) as again:
        # Nobody calls the actor: the host wakes it at start because it has messages.
        for _ in range(250):
            state = stored_state(db, "Jobs", "j")
            if state and state["done"] == [1, 2]:
                break
            await asyncio.sleep(0.02)
        client = ActorWsClient(again.gateway, retry=retry)
        try:
            conn = await client.connect("Jobs", "j", mode="get")
            assert await conn.call("done") == [1, 2]
        finally:
            await client.close()
