"""Schedules: durable, fired in due order, waking sleepers, missed ones run after restart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from actr_py.actors import Actor, ActorOptions, action


class Alarm(Actor):
    options = ActorOptions(idle_timeout=None)

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"fired": []}

    @action
    async def set_after(self, ms: float, tag: str) -> int:
        return await self.schedule.after(ms, "ring", tag)

    @action
    async def set_at(self, ts: float, tag: str) -> int:
        return await self.schedule.at(ts, "ring", tag)

    @action
    async def set_cron(self, expr: str, tag: str) -> int:
        return await self.schedule.cron(expr, "ring", tag)

    @action
    async def cancel(self, sched_id: int) -> bool:
        return await self.schedule.cancel(sched_id)

    @action(readonly=True)
    def pending(self) -> list[Any]:
        return [[s.action, s.args, s.cron] for s in self.schedule.list()]

    @action
    def ring(self, tag: str) -> None:
        self.state["fired"].append(tag)

    @action(readonly=True)
    def fired(self) -> list[str]:
        return self.state["fired"]


async def test_schedules_fire_in_due_order_with_ties_in_creation_order(make_host, clock) -> None:
    host = await make_host([Alarm], clock=clock, timers=False)
    alarm = host.client().get_or_create(Alarm, "a")
    await alarm.set_after(3000, "third")
    await alarm.set_after(1000, "first")
    await alarm.set_at(clock.now + 1.0, "first-tie")
    await alarm.set_after(2000, "second")
    assert await host.run_due_schedules() == 0
    clock.advance(1.0)
    assert await host.run_due_schedules() == 2
    assert await alarm.fired() == ["first", "first-tie"]
    clock.advance(5.0)
    assert await host.run_due_schedules() == 2
    assert await alarm.fired() == ["first", "first-tie", "second", "third"]
    assert await alarm.pending() == []  # one-shot schedules are deleted after firing


async def test_a_schedule_wakes_a_sleeping_actor(make_host, clock) -> None:
    host = await make_host([Alarm], clock=clock, timers=False)
    alarm = host.client().get_or_create(Alarm, "s")
    await alarm.set_after(60_000, "wake up")
    await host.sleep_all()
    assert host.awake_count() == 0
    clock.advance(61)
    assert await host.run_due_schedules() == 1
    assert host.is_awake("Alarm", "s")
    assert await alarm.fired() == ["wake up"]


async def test_real_timer_fires_without_help(make_host) -> None:
    host = await make_host([Alarm])
    alarm = host.client().get_or_create(Alarm, "t")
    await alarm.set_after(50, "later")
    await alarm.set_after(10, "sooner")
    for _ in range(300):
        if len(await alarm.fired()) == 2:
            break
        await asyncio.sleep(0.01)
    assert await alarm.fired() == ["sooner", "later"]


async def test_cron_reschedules_and_collapses_missed_runs(make_host, clock) -> None:
    clock.now = datetime(2026, 5, 4, 9, 59, 30, tzinfo=UTC).timestamp()
    host = await make_host([Alarm], clock=clock, timers=False)
    alarm = host.client().get_or_create(Alarm, "c")
    await alarm.set_cron("0 * * * *", "hourly")
    (row,) = host.store.schedules_of("Alarm", "c")
    assert row[3] == datetime(2026, 5, 4, 10, 0, tzinfo=UTC).timestamp()
    clock.now = datetime(2026, 5, 4, 13, 20, tzinfo=UTC).timestamp()  # 4 runs missed
    assert await host.run_due_schedules() == 1
    assert await alarm.fired() == ["hourly"]
    (row,) = host.store.schedules_of("Alarm", "c")
    assert row[3] == datetime(2026, 5, 4, 14, 0, tzinfo=UTC).timestamp()
    assert await alarm.pending() == [["ring", ["hourly"], "0 * * * *"]]


async def test_cancel(make_host, clock) -> None:
    host = await make_host([Alarm], clock=clock, timers=False)
    alarm = host.client().get_or_create(Alarm, "x")
    keep = await alarm.set_after(1000, "keep")
    drop = await alarm.set_after(1000, "drop")
    assert await alarm.cancel(drop)
    assert not await alarm.cancel(drop)
    clock.advance(2)
    await host.run_due_schedules()
    assert await alarm.fired() == ["keep"]
    assert keep != drop


async def test_schedules_survive_a_restart_and_missed_ones_run_at_start(
    make_host, clock, tmp_path
) -> None:
    db = tmp_path / "alarms.db"
    host = await make_host([Alarm], storage=db, clock=clock, timers=False)
    alarm = host.client().get_or_create(Alarm, "p")
    await alarm.set_after(10_000, "missed-1")
    await alarm.set_after(20_000, "missed-2")
    await alarm.set_after(3_600_000, "future")
    await host.node.shutdown()
    clock.advance(30)  # the node was down when two came due
    again = await make_host([Alarm], storage=db, clock=clock, actr_type="acme+again")
    alarm = again.client().get_or_create(Alarm, "p")
    for _ in range(300):
        if len(await alarm.fired()) == 2:
            break
        await asyncio.sleep(0.01)
    assert await alarm.fired() == ["missed-1", "missed-2"]
    assert await alarm.pending() == [["ring", ["future"], None]]


async def test_scheduling_an_unknown_action_is_refused(make_host) -> None:
    host = await make_host([Alarm])
    alarm = host.client().get_or_create(Alarm, "u")
    assert await alarm.fired() == []
    actor = host._live["Alarm"].get("u")
    with pytest.raises(ValueError):
        await actor.schedule.after(10, "nope")
    with pytest.raises(ValueError):
        await actor.schedule.cron("0 0 30 2 *", "ring")
