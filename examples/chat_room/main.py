"""Two members chat in a password-protected room over WebSocket.

``python -m examples.chat_room.main``
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from actr_py import ActrConfig, ActrSystem
from actr_py.actors import ActorHost, ActorWsClient, UserError

from .room import ChatRoom


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        host = ActorHost([ChatRoom], storage=str(Path(tmp) / "rooms.db"), gateway="127.0.0.1:0")
        ref = await host.attach(ActrSystem(ActrConfig(actr_type="demo+chat"))).start()
        ann, bob = ActorWsClient(host.gateway_url), ActorWsClient(host.gateway_url)
        try:
            secret = {"password": "s3cret"}
            a = await ann.connect(ChatRoom, "lobby", mode="create", input=secret,
                                  params={"nick": "ann", **secret})
            try:
                await bob.connect(ChatRoom, "lobby", params={"nick": "bob"})
            except UserError as exc:
                print(f"bob without the password: refused {exc.code} {exc.kind}")
            b = await bob.connect(ChatRoom, "lobby", params={"nick": "bob", **secret})
            print("members:", await a.call("members"))
            await a.call("post", "hi bob")
            await b.call("post", "hi ann")
            for who, conn in (("ann", a), ("bob", b)):
                seen = [(await conn.next_event("message", timeout=5))[1][0] for _ in range(2)]
                print(f"{who} saw:", [f"{m['from']}: {m['text']}" for m in seen])
            await b.close()
            _, args = await a.next_event("left", timeout=5)
            print(f"ann saw {args[0]} leave")
        finally:
            await ann.close()
            await bob.close()
            await ref.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
