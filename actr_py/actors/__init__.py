"""Durable virtual actors on top of actr nodes.

An actor is addressed by ``(type, key)`` and exists whenever someone talks to
it: the first call creates it, its state lives in memory and is saved to the
node's SQLite file automatically, it sleeps (leaves memory) when idle and
wakes on the next message. Which node serves a key is decided through the
signaling server, so a key is served by one node at a time. See
``docs/actors.md``.

::

    class Counter(Actor):
        def create_state(self, input):
            return {"count": 0}

        @action
        async def increment(self, n: int) -> int:
            self.state["count"] += n
            return self.state["count"]

    host = ActorHost([Counter], storage="data/actors.db")
    async with host.attach(ActrSystem("acme+actors")) as ref:
        counter = host.client().get_or_create(Counter, "c1")
        await counter.increment(1)
"""

from .client import ActorClient, ActorConnection, ActorHandle
from .codec import StateEncodeError
from .connections import Connection
from .cron import CronError, CronExpr
from .definition import Actor, ActorOptions, action
from .errors import (
    ActionNotFound,
    ActorExists,
    ActorInternalError,
    ActorNotFound,
    ActorTimeout,
    ActorUnavailable,
    BadArguments,
    InvalidKey,
    UserError,
)
from .host import ActorHost, HostStats
from .queue import ActorQueue, QueueMessage
from .schedule import ActorSchedule, ScheduledCall
from .ws_client import ActorWsClient, WsConnection

__all__ = [
    "ActionNotFound",
    "Actor",
    "ActorClient",
    "ActorConnection",
    "ActorExists",
    "ActorHandle",
    "ActorHost",
    "ActorInternalError",
    "ActorNotFound",
    "ActorOptions",
    "ActorQueue",
    "ActorSchedule",
    "ActorTimeout",
    "ActorUnavailable",
    "ActorWsClient",
    "BadArguments",
    "Connection",
    "CronError",
    "CronExpr",
    "HostStats",
    "InvalidKey",
    "QueueMessage",
    "ScheduledCall",
    "StateEncodeError",
    "UserError",
    "WsConnection",
    "action",
]
