"""Fixtures for the WebSocket lane tests: an authority and started listeners.

Every async test runs on asyncio's own loop and, when it is installed, on
uvloop: the lane talks to transports directly, and uvloop's behave a little
differently (they are not ``asyncio.Transport`` subclasses, for one).
``ACTR_PY_LOOP=asyncio`` or ``=uvloop`` picks one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from actr_py.ids import ActorId
from actr_py.wire.base import FrameHandler
from actr_py.wire.websocket import (
    WebSocketConnection,
    WebSocketListener,
    WebSocketOptions,
    connect_websocket,
)

from ._support import (
    CALLEE,
    CALLER,
    FAST,
    FrameSink,
    HmacAuthority,
    LanePair,
    ListenerFactory,
    PairFactory,
)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test here runs on asyncio's loop and, when installed, on uvloop.

    Tests marked ``slow`` (they spawn peer processes, most of their time is
    interpreter start-up) run on one loop only, to keep the set quick.
    """
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    choice = os.environ.get("ACTR_PY_LOOP", "").strip().lower()
    both = choice not in ("asyncio", "uvloop")
    if both and item.get_closest_marker("slow") is not None:
        return factories
    if choice != "asyncio" and importlib.util.find_spec("uvloop") is not None:
        import uvloop

        factories["uvloop"] = uvloop.new_event_loop
        if choice == "uvloop":
            del factories["asyncio"]
    return factories


@pytest.fixture
def authority() -> HmacAuthority:
    return HmacAuthority()


@pytest.fixture
async def start_listener(authority: HmacAuthority) -> AsyncIterator[ListenerFactory]:
    """Start a listener for ``actor_id`` on 127.0.0.1; returns it with its frame sink."""
    started: list[WebSocketListener] = []

    async def factory(actor_id: ActorId, **kwargs: Any) -> tuple[WebSocketListener, FrameSink]:
        sink = kwargs.pop("on_frame", None) or FrameSink()
        kwargs.setdefault("options", FAST)
        kwargs.setdefault("authenticate", authority.authenticate)
        kwargs.setdefault("credential_provider", lambda: authority.credential(actor_id))
        listener = WebSocketListener(
            self_id=actor_id,
            on_frame=sink,
            **kwargs,
        )
        await listener.start()
        started.append(listener)
        return listener, sink

    yield factory
    for listener in started:
        await listener.close()


@pytest.fixture
async def lane_pair(
    authority: HmacAuthority, start_listener: ListenerFactory
) -> AsyncIterator[PairFactory]:
    """Open a lane CALLER -> CALLEE: (dialed, accepted, caller sink, callee sink)."""
    opened: list[WebSocketConnection] = []

    async def factory(
        options: WebSocketOptions = FAST,
        caller_frames: FrameHandler | None = None,
        callee_frames: FrameHandler | None = None,
    ) -> LanePair:
        accepted: asyncio.Future[WebSocketConnection] = asyncio.get_running_loop().create_future()
        callee_sink = FrameSink()
        caller_sink = FrameSink()
        listener, _ = await start_listener(
            CALLEE,
            options=options,
            on_frame=callee_frames or callee_sink,
            on_connection=accepted.set_result,
        )
        conn = await connect_websocket(
            listener.address,
            self_id=CALLER,
            credential=authority.credential(CALLER),
            expected_peer=CALLEE,
            authenticate=authority.authenticate,
            on_frame=caller_frames or caller_sink,
            timeout=3.0,
            options=options,
        )
        opened.append(conn)
        return conn, await asyncio.wait_for(accepted, 3.0), caller_sink, callee_sink

    yield factory
    for conn in opened:
        await conn.close()
