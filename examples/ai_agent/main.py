"""Run the agent on a node and talk to it over WebSocket, then restart the node.

``python -m examples.ai_agent.main [--storage FILE]`` (a temporary file by default).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

from actr_py import ActrConfig, ActrSystem
from actr_py.actors import ActorHost, ActorWsClient

from .agent import Conversation, use_model
from .model import LocalModel


async def serve_and_chat(storage: str, questions: list[str]) -> list[str]:
    host = ActorHost([Conversation], storage=storage, gateway="127.0.0.1:0")
    ref = await host.attach(ActrSystem(ActrConfig(actr_type="demo+agents"))).start()
    client = ActorWsClient(host.gateway_url)
    replies = []
    try:
        chat = await client.connect(Conversation, "demo-chat")
        for question in questions:
            print(f"you: {question}")
            print("agent: ", end="", flush=True)
            reply_task = asyncio.ensure_future(chat.enqueue_and_wait("user", question))
            while True:
                name, args = await chat.next_event(timeout=10)
                if name == "token":
                    print(args[0], end="", flush=True)
                elif name == "done":
                    print()
                    break
            replies.append(await reply_task)
        history = await chat.call("history")
        print(f"history: {len(history)} messages")
    finally:
        await client.close()
        await ref.shutdown()
    return replies


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--storage", help="the node's actor database (default: a temp file)")
    args = parser.parse_args()
    use_model(LocalModel(token_delay=0.01))
    with tempfile.TemporaryDirectory() as tmp:
        storage = args.storage or str(Path(tmp) / "agents.db")
        await serve_and_chat(storage, ["Hello there", "What did I say first?"])
        print("-- node restarted --")
        await serve_and_chat(storage, ["Do you still remember me?"])


if __name__ == "__main__":
    asyncio.run(main())
