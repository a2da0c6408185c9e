"""Fixtures for actor tests: a host on a real node (in process), a real SQLite file each."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from actr_py import ActrConfig, ActrSystem
from actr_py.actors import Actor, ActorHost
from actr_py.actors.codec import unpack
from actr_py.actors.keys import encode_key
from actr_py.wire.inproc import InprocHub
from tests.support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub() -> InprocHub:
    return InprocHub()


HostFactory = Callable[..., Any]


@pytest.fixture
async def make_host(tmp_path: Path, hub: InprocHub) -> AsyncIterator[HostFactory]:
    """make_host([Types], **host options) -> a started ActorHost on its own node."""
    started: list[Any] = []

    async def _make(actors: list[type[Actor]], *, actr_type: str = "acme+actors",
                    storage: Path | str | None = None, **opts: Any) -> ActorHost:
        host = ActorHost(actors, storage=storage or tmp_path / f"actors{len(started)}.db", **opts)
        config = ActrConfig(actr_type=actr_type, shutdown_grace=1.0)
        ref = await host.attach(ActrSystem(config, hub=hub)).start()
        started.append(ref)
        return host

    yield _make
    for ref in reversed(started):
        if ref.node.state.value == "running":
            await ref.shutdown()


def stored_state(db: Path | str, name: str, key: Any) -> Any:
    """Read an actor's saved state straight from the SQLite file (a second connection)."""
    with contextlib.closing(sqlite3.connect(str(db))) as conn:
        row = conn.execute(
            "SELECT state FROM actors WHERE name = ? AND key = ?", (name, encode_key(key))
        ).fetchone()
    return None if row is None else unpack(row[0])
