"""Which event loop a process runs: uvloop when it is installed, asyncio otherwise.

Why: actr_py's wires spend much of their time in the event loop itself
(callbacks, futures, UDP datagrams for WebRTC, socket reads for WebSocket).
uvloop runs those parts in C and is a drop-in replacement, so a node gets it
for free with ``pip install actr_py[fast]``. It stays optional: nothing in
actr_py depends on it, and every test and figure runs on plain asyncio too.

How: :func:`install` sets the event loop *policy* of the process, so every
loop created afterwards (``asyncio.run``, aiortc's helpers) is of that kind.
Entry points call it once before ``asyncio.run``; :func:`run` does both. The
choice can be forced with the ``ACTR_PY_LOOP`` environment variable
(``auto``, ``uvloop``, ``asyncio``), which child processes inherit, so a
benchmark or a test can run a whole process tree on one kind of loop.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

from .errors import ConfigError

__all__ = [
    "LOOP_ENV",
    "LoopChoice",
    "LoopKind",
    "available",
    "install",
    "loop_kind",
    "run",
]

#: Environment variable read by :func:`install` when no choice is given.
LOOP_ENV = "ACTR_PY_LOOP"

LoopKind = Literal["asyncio", "uvloop"]
LoopChoice = Literal["auto", "asyncio", "uvloop"]

_T = TypeVar("_T")


def available() -> bool:
    """Whether uvloop can be imported here (without importing it)."""
    return importlib.util.find_spec("uvloop") is not None


def _choice(kind: str | None) -> LoopChoice:
    value = kind if kind is not None else os.environ.get(LOOP_ENV, "auto")
    value = value.strip().lower() or "auto"
    if value not in ("auto", "asyncio", "uvloop"):
        raise ConfigError(f"{LOOP_ENV}: expected auto, asyncio or uvloop, got {value!r}")
    return value  # type: ignore[return-value]


def install(kind: str | None = None) -> LoopKind:
    """Make loops created from now on uvloop or asyncio; return which one.

    ``kind``: ``"auto"`` (uvloop if importable), ``"uvloop"`` (ConfigError
    when it is missing) or ``"asyncio"``; ``None`` reads ``ACTR_PY_LOOP``
    (default ``auto``). Call it before the loop is created; a running loop
    is not replaced.
    """
    choice = _choice(kind)
    if choice == "asyncio" or (choice == "auto" and not available()):
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
        return "asyncio"
    try:
        import uvloop
    except ImportError as exc:
        if choice == "auto":
            asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
            return "asyncio"
        raise ConfigError(
            "uvloop was asked for but is not installed: pip install 'actr_py[fast]'"
        ) from exc
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def loop_kind(loop: asyncio.AbstractEventLoop | None = None) -> LoopKind:
    """The kind of ``loop`` (default: the running loop)."""
    if loop is None:
        loop = asyncio.get_running_loop()
    return "uvloop" if type(loop).__module__.split(".")[0] == "uvloop" else "asyncio"


def run(main: Coroutine[Any, Any, _T], kind: str | None = None) -> _T:
    """``install(kind)`` then ``asyncio.run(main)``: the one-line entry point."""
    install(kind)
    return asyncio.run(main)
