"""The actor examples, run as users run them (subprocess) and checked in process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from actr_py.actors import ActorWsClient, UserError
from examples.ai_agent.agent import Conversation, use_model
from examples.ai_agent.model import LocalModel
from examples.chat_room.room import ChatRoom

ROOT = Path(__file__).resolve().parents[2]


def run_module(module: str) -> str:
    proc = subprocess.run([sys.executable, "-m", module], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.slow
def test_ai_agent_example_runs_and_remembers_across_a_restart() -> None:
    out = run_module("examples.ai_agent.main")
    assert "agent: Understood: you said 2 words in message 1, ending with 'there'" in out
    assert "history: 4 messages" in out
    # After the restart the agent counts the earlier turns: message 3, 6 in history.
    assert "you said 5 words in message 3, ending with 'me?'" in out
    assert out.rstrip().endswith("history: 6 messages")


@pytest.mark.slow
def test_chat_room_example_runs() -> None:
    out = run_module("examples.chat_room.main")
    assert "bob without the password: refused 403 wrong_password" in out
    assert "members: ['ann', 'bob']" in out
    assert "bob saw: ['ann: hi bob', 'bob: hi ann']" in out
    assert "ann saw bob leave" in out


async def test_agent_answers_queued_messages_one_at_a_time_in_order(make_host) -> None:
    use_model(LocalModel())
    host = await make_host([Conversation])
    chat = host.client().get_or_create(Conversation, "c1")
    watcher = await chat.connect()
    questions = [f"question number {i}" for i in range(5)]
    replies = await asyncio.gather(*(chat.enqueue_and_wait("user", q) for q in questions))
    history = await chat.history()
    assert [m["role"] for m in history] == ["user", "assistant"] * 5
    assert [m["content"] for m in history[::2]] == questions
    assert [m["content"] for m in history[1::2]] == replies
    assert all(f"message {i + 1}," in r for i, r in enumerate(replies))
    # The watcher saw each turn's tokens in order, never interleaved with another turn's.
    for i in range(5):
        assert await watcher.next_event("user", timeout=5) == ("user", [questions[i]])
        tokens = []
        while True:
            name, args = await watcher.next_event(timeout=5)
            if name == "done":
                assert "".join(tokens) == args[0] == replies[i]
                break
            assert name == "token"
            tokens.append(args[0])
    await watcher.close()


async def test_chat_room_refusals_and_history_for_late_joiners(make_host) -> None:
    host = await make_host([ChatRoom], gateway="127.0.0.1:0")
    client = ActorWsClient(host.gateway_url)
    try:
        with pytest.raises(UserError) as info:
            await client.connect(ChatRoom, "r", params={})
        assert (info.value.code, info.value.kind) == (400, "nick_required")
        a = await client.connect(ChatRoom, "r", params={"nick": "ann"})
        with pytest.raises(UserError) as taken:
            await client.connect(ChatRoom, "r", params={"nick": "ann"})
        assert taken.value.code == 409
        await a.call("post", "first")
        await host.sleep_all()  # the room sleeps (ann is told to reconnect) ...
        late = await client.connect(ChatRoom, "r", params={"nick": "zed"})
        _, (history,) = await late.next_event("history", timeout=5)
        assert [m["text"] for m in history] == ["first"]  # ... and kept its messages
    finally:
        await client.close()
