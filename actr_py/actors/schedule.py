"""An actor's durable schedules: call one of its actions later, once or by cron.

Delivery: **at least once, in due order per actor (ties in creation order)**.
A schedule is stored before ``after``/``at``/``cron`` return; it wakes a
sleeping actor; one that came due while the node was down runs right after
the node starts. A one-shot schedule is deleted after its action returns (or
fails: failures are logged, not retried); a cron schedule is then moved to its
next time after *now*, so missed occurrences collapse into one run.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .codec import pack, unpack
from .cron import CronExpr
from .errors import ActorNotFound, ActorUnavailable
from .keys import MODE_GET
from .storage import ScheduleRow
from .timing import DueQueue

if TYPE_CHECKING:
    from .definition import Actor
    from .host import ActorHost

__all__ = ["ActorSchedule", "ScheduleService", "ScheduledCall"]

log = logging.getLogger("actr_py.actors")


@dataclass(frozen=True)
class ScheduledCall:
    id: int
    due: float  # epoch seconds
    action: str
    args: list[Any]
    cron: str | None


class ActorSchedule:
    """``self.schedule`` of an actor. Times are epoch seconds (UTC for cron)."""

    __slots__ = ("_actor",)

    def __init__(self, actor: Actor) -> None:
        self._actor = actor

    def _check(self, action: str) -> None:
        if action not in type(self._actor)._actions:
            raise ValueError(f"{type(self._actor).name} has no action {action!r}")

    async def after(self, ms: float, action: str, *args: Any) -> int:
        """Call ``action(*args)`` in ``ms`` milliseconds; returns the schedule id."""
        self._check(action)
        host = self._actor._host
        return await host.schedules.add(self._actor, host.clock() + ms / 1000.0, action, args,
                                        None)

    async def at(self, when: float | datetime, action: str, *args: Any) -> int:
        """Call ``action(*args)`` at ``when`` (epoch seconds or an aware/UTC datetime)."""
        self._check(action)
        ts = when.timestamp() if isinstance(when, datetime) else float(when)
        return await self._actor._host.schedules.add(self._actor, ts, action, args, None)

    async def cron(self, expr: str, action: str, *args: Any) -> int:
        """Call ``action(*args)`` at every time matching the 5-field expression (UTC)."""
        self._check(action)
        host = self._actor._host
        due = CronExpr.parse(expr).next_after(host.clock())
        if due is None:
            raise ValueError(f"cron expression {expr!r} never fires")
        return await host.schedules.add(self._actor, due, action, args, expr)

    async def cancel(self, schedule_id: int) -> bool:
        return await self._actor._host.schedules.cancel(self._actor, schedule_id)

    def list(self) -> list[ScheduledCall]:
        actor = self._actor
        rows = actor._host.store.schedules_of(type(actor).name, actor._key)
        return [ScheduledCall(r[0], r[3], r[4], unpack(r[5]), r[6]) for r in rows]


class ScheduleService:
    """The host side of schedules: one timer for the earliest due time of all actors."""

    def __init__(self, host: ActorHost) -> None:
        self.host = host
        self._due: DueQueue[None] = DueQueue()
        self._handle: asyncio.TimerHandle | None = None
        self._at: float | None = None

    def load(self) -> None:
        """Every stored schedule (missed ones fire as soon as the timer is armed)."""
        for sched_id, due in self.host.store.schedules_all():
            self._due.push(due, sched_id, None)
        self.arm()

    def forget_actor(self, name: str, key: str) -> None:
        for row in self.host.store.schedules_of(name, key):
            self._due.cancel(row[0])

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    async def add(
        self, actor: Actor, due: float, action: str, args: tuple[Any, ...], cron: str | None
    ) -> int:
        sched_id = self.host.store.schedule_insert(
            type(actor).name, actor._key, due, action, pack(list(args)), cron
        )
        await self.host.store.durable()
        self._due.push(due, sched_id, None)
        self.arm()
        return sched_id

    async def cancel(self, actor: Actor, sched_id: int) -> bool:
        row = self.host.store.schedule_get(sched_id)
        if row is None or (row[1], row[2]) != (type(actor).name, actor._key):
            return False
        self.host.store.schedule_delete(sched_id)
        await self.host.store.durable()
        self._due.cancel(sched_id)
        return True

    def arm(self) -> None:
        if not self.host._timers_on or self.host._stopping:
            return
        nxt = self._due.next_due()
        if nxt is None:
            return
        if self._handle is not None:
            if self._at is not None and self._at <= nxt:
                return
            self._handle.cancel()
        self._at = nxt
        self._handle = asyncio.get_running_loop().call_later(
            max(0.0, nxt - self.host.clock()), self._on_timer
        )

    def _on_timer(self) -> None:
        self._handle = None
        self._at = None
        self.host._spawn(self.run_due())

    async def run_due(self, now: float | None = None) -> int:
        """Fire every schedule due at ``now``: in due order per actor, actors concurrently."""
        now = self.host.clock() if now is None else now
        groups: dict[tuple[str, str], list[ScheduleRow]] = {}
        for _, sched_id, _ in self._due.pop_due(now):
            row = self.host.store.schedule_get(sched_id)
            if row is not None:
                groups.setdefault((row[1], row[2]), []).append(row)
        if groups:
            await asyncio.gather(*(self._fire_all(rows) for rows in groups.values()))
        self.arm()
        return sum(len(rows) for rows in groups.values())

    async def _fire_all(self, rows: list[ScheduleRow]) -> None:
        for row in rows:
            await self._fire(row)

    async def _fire(self, row: ScheduleRow) -> None:
        sched_id, name, key, due, action, args, cron = row
        try:
            await self.host.invoke(name, key, action, unpack(args), mode=MODE_GET)
        except ActorNotFound:
            cron = None  # the actor is gone: drop the schedule
        except ActorUnavailable:
            return  # the node is stopping: the row stays and fires after the restart
        except Exception as exc:
            log.warning("scheduled %s.%s of %s failed: %r", name, action, key, exc)
        self.host.stats.schedules_fired += 1
        if self.host.store._db is None:
            return
        nxt = CronExpr.parse(cron).next_after(max(self.host.clock(), due)) if cron else None
        if nxt is not None:
            self.host.store.schedule_reschedule(sched_id, nxt)
            self._due.push(nxt, sched_id, None)
        else:
            self.host.store.schedule_delete(sched_id)
        await self.host.store.durable()
