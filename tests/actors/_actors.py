"""Actor types shared by the in-process tests and the child node processes."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from actr_py.actors import Actor, ActorOptions, Connection, UserError, action


class Counter(Actor):
    options = ActorOptions(idle_timeout=60.0)

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"count": (input or {}).get("start", 0)}

    @action
    async def increment(self, n: int = 1) -> int:
        self.state["count"] += n
        self.broadcast("changed", self.state["count"])
        return self.state["count"]

    @action
    async def increment_durably(self, n: int = 1) -> int:
        self.state["count"] += n
        await self.save_state(immediate=True)
        return self.state["count"]

    @action(readonly=True)
    def get(self) -> int:
        return self.state["count"]

    @action(readonly=True)
    def whoami(self) -> list[Any]:
        return [os.getpid(), self.state["count"], self.id]

    @action
    async def slow(self, seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "done"


class Room(Actor):
    """Connections with params, auth and per-connection state."""

    options = ActorOptions(idle_timeout=60.0)
    #: on_before_connect fails (an internal error: 500) this many more times.
    flaky: int = 0
    #: on_before_connect calls so far (what a test counts retries with).
    admissions: int = 0

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"said": []}

    async def on_before_connect(self, params: Any) -> None:
        type(self).admissions += 1
        if type(self).flaky > 0:
            type(self).flaky -= 1
            raise RuntimeError("not ready yet")
        if not isinstance(params, dict) or not params.get("nick"):
            raise UserError("nick_required", "connect with a nick", {"field": "nick"}, code=403)

    def create_conn_state(self, params: Any) -> dict[str, Any]:
        return {"nick": params["nick"], "said": 0}

    async def on_connect(self, conn: Connection) -> None:
        conn.send("welcome", conn.state["nick"])
        self.broadcast("joined", conn.state["nick"])

    @action
    async def say(self, text: str) -> int:
        conn = self.conn
        nick = conn.state["nick"] if conn is not None else "?"
        if conn is not None:
            conn.state["said"] += 1
        self.state["said"].append([nick, text])
        self.broadcast("said", nick, text)
        return conn.state["said"] if conn is not None else 0

    @action
    async def kick_all(self) -> int:
        conns = list(self.conns.values())
        for c in conns:
            await c.disconnect("kicked")
        return len(conns)

    @action(readonly=True)
    def connections(self) -> int:
        return len(self.conns)


class Jobs(Actor):
    """A run loop consuming a queue, one message at a time."""

    options = ActorOptions(idle_timeout=60.0)

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"done": []}

    async def run(self) -> None:
        async for msg in self.queue.iter("jobs"):
            body = msg.body
            if body.get("crash_once") and body["id"] not in self.state.get("seen", []):
                self.state.setdefault("seen", []).append(body["id"])
                await self.save_state(immediate=True)
                os._exit(9)  # die mid-message, like a SIGKILL, before completing it
            if body.get("hold"):
                await asyncio.sleep(body["hold"])
            self.state["done"].append(body["id"])
            await msg.complete({"ok": body["id"]})

    @action(readonly=True)
    def done(self) -> list[Any]:
        return self.state["done"]


ALL = [Counter, Room, Jobs]
