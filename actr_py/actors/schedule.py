"""An actor's durable schedules: call one of its actions later, once or by cron.

Delivery: **at least once, in due order per actor (ties in creation order)**.
A schedule is stored before ``after``/``at``/``cron`` return; it wakes a
sleeping actor; one that came due while the node was down runs right after
the node starts. A one-shot schedule is deleted after its action returns (or
fails: failures are logged, not retried); a cron schedule is then moved to its
next time after *now*, so missed occurrences collapse into one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .codec import unpack
from .cron import CronExpr

if TYPE_CHECKING:
    from .definition import Actor

__all__ = ["ActorSchedule", "ScheduledCall"]


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
        return await host._schedule(self._actor, host.clock() + ms / 1000.0, action, args, None)

    async def at(self, when: float | datetime, action: str, *args: Any) -> int:
        """Call ``action(*args)`` at ``when`` (epoch seconds or an aware/UTC datetime)."""
        self._check(action)
        ts = when.timestamp() if isinstance(when, datetime) else float(when)
        return await self._actor._host._schedule(self._actor, ts, action, args, None)

    async def cron(self, expr: str, action: str, *args: Any) -> int:
        """Call ``action(*args)`` at every time matching the 5-field expression (UTC)."""
        self._check(action)
        host = self._actor._host
        due = CronExpr.parse(expr).next_after(host.clock())
        if due is None:
            raise ValueError(f"cron expression {expr!r} never fires")
        return await host._schedule(self._actor, due, action, args, expr)

    async def cancel(self, schedule_id: int) -> bool:
        return await self._actor._host._unschedule(self._actor, schedule_id)

    def list(self) -> list[ScheduledCall]:
        actor = self._actor
        rows = actor._host.store.schedules_of(type(actor).name, actor._key)
        return [ScheduledCall(r[0], r[3], r[4], unpack(r[5]), r[6]) for r in rows]
