"""Fixtures shared by the WebRTC wire tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from ._pairs import Pair, connect


@pytest.fixture
async def pairs() -> AsyncIterator[Callable[..., Awaitable[Pair]]]:
    """``await pairs(fast_a, fast_b, labels, inline=...)``: connected pairs, closed after."""
    made: list[Pair] = []

    async def make(*args: Any, **kwargs: Any) -> Pair:
        pair = await connect(*args, **kwargs)
        made.append(pair)
        return pair

    yield make
    for pair in made:
        await pair.a.close()
        await pair.b.close()
