"""``ChatRoom``: members connect with a nick (and the room's password, if it has one).

Per-connection state holds each member's nick; messages are broadcast to every
connection and the last :data:`KEEP` are kept in the room's state, so a member
who joins later (or after the room slept, or the node restarted) gets them.
"""

from __future__ import annotations

import time
from typing import Any

from actr_py.actors import Actor, ActorOptions, Connection, UserError, action

__all__ = ["KEEP", "ChatRoom"]

KEEP = 50


class ChatRoom(Actor):
    options = ActorOptions(idle_timeout=60.0)

    def create_state(self, input: Any) -> dict[str, Any]:
        return {"password": (input or {}).get("password"), "messages": []}

    async def on_before_connect(self, params: Any) -> None:
        nick = params.get("nick") if isinstance(params, dict) else None
        if not isinstance(nick, str) or not 1 <= len(nick) <= 32:
            raise UserError("nick_required", "join with a nick of 1-32 characters",
                            {"field": "nick"})
        if self.state["password"] and params.get("password") != self.state["password"]:
            raise UserError("wrong_password", "this room needs the right password", code=403)
        if nick in self.members():
            raise UserError("nick_taken", f"{nick!r} is already here", code=409)

    def create_conn_state(self, params: Any) -> dict[str, Any]:
        return {"nick": params["nick"]}

    async def on_connect(self, conn: Connection) -> None:
        conn.send("history", self.state["messages"])
        self.broadcast("joined", conn.state["nick"])

    async def on_disconnect(self, conn: Connection) -> None:
        self.broadcast("left", conn.state["nick"])

    @action
    def post(self, text: str) -> int:
        conn = self.conn
        if conn is None:
            raise UserError("not_joined", "post through a connection")
        if not isinstance(text, str) or not text.strip():
            raise UserError("empty", "say something")
        message = {"from": conn.state["nick"], "text": text[:2000], "at": time.time()}
        messages = self.state["messages"]
        messages.append(message)
        del messages[:-KEEP]
        self.broadcast("message", message)
        return len(messages)

    @action(readonly=True)
    def members(self) -> list[str]:
        return sorted(c.state["nick"] for c in self.conns.values())
