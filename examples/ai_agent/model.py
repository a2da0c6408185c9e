"""The one interface between the agent and a language model, and a local stand-in.

A real model client (an HTTP API, a local runtime) implements :class:`TextModel`;
:class:`LocalModel` is deterministic and offline, so the example and its test
run anywhere and always produce the same tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Protocol

__all__ = ["LocalModel", "Message", "TextModel"]

Message = dict[str, str]  # {"role": "user" | "assistant", "content": "..."}


class TextModel(Protocol):
    def stream(self, messages: list[Message]) -> AsyncIterator[str]:
        """Yield the reply to the conversation, token by token."""
        ...


_OPENERS = ["Sure", "Right", "Got it", "Understood", "Noted"]


class LocalModel:
    """Answers from the conversation itself: same history, same tokens."""

    def __init__(self, token_delay: float = 0.0) -> None:
        self.token_delay = token_delay

    async def stream(self, messages: list[Message]) -> AsyncIterator[str]:
        last = messages[-1]["content"] if messages else ""
        turn = sum(1 for m in messages if m["role"] == "user")
        digest = hashlib.sha256(last.encode()).digest()
        opener = _OPENERS[digest[0] % len(_OPENERS)]
        words = last.split()
        text = f"{opener}: you said {len(words)} words in message {turn}"
        if words:
            text += f", ending with {words[-1]!r}"
        for i, word in enumerate(text.split(" ")):
            if self.token_delay:
                await asyncio.sleep(self.token_delay)
            yield word if i == 0 else " " + word
