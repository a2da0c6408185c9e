"""``Conversation``: one actor per conversation, with a durable history.

User messages arrive on the actor's ``user`` queue and are answered one at a
time, in order, by its ``run`` loop; tokens go to every connected client as
``token`` events while they are generated. The history is saved as soon as a
reply is complete (an immediate save), so a crash never loses an answered turn,
and a message that was being answered when the node died is answered again on
restart (queue delivery is at least once).
"""

from __future__ import annotations

from typing import Any

from actr_py.actors import Actor, ActorOptions, action

from .model import LocalModel, Message, TextModel

__all__ = ["Conversation", "use_model"]

_model: TextModel = LocalModel()


def use_model(model: TextModel) -> None:
    """Choose the model every conversation on this node talks to."""
    global _model
    _model = model


class Conversation(Actor):
    options = ActorOptions(idle_timeout=300.0)

    def create_state(self, input: Any) -> dict[str, Any]:
        system = (input or {}).get("system", "You are a helpful assistant.")
        return {"system": system, "messages": []}

    def create_vars(self) -> dict[str, Any]:
        return {"model": _model}

    async def run(self) -> None:
        async for msg in self.queue.iter("user"):
            text = str(msg.body)
            messages: list[Message] = self.state["messages"]
            messages.append({"role": "user", "content": text})
            self.broadcast("user", text)
            tokens: list[str] = []
            async for token in self.vars["model"].stream(messages):
                tokens.append(token)
                self.broadcast("token", token)
            reply = "".join(tokens)
            messages.append({"role": "assistant", "content": reply})
            await self.save_state(immediate=True)
            self.broadcast("done", reply)
            await msg.complete(reply)

    @action(readonly=True)
    def history(self) -> list[Message]:
        return self.state["messages"]

    @action
    def clear(self) -> int:
        n = len(self.state["messages"])
        self.state["messages"] = []
        return n
