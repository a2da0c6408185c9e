"""Read a burst of datagrams per wake-up on asyncio's selector loop, as uvloop does.

Why: asyncio's ``_SelectorDatagramTransport._read_ready`` reads exactly one
datagram each time the socket is reported readable, so a bulk transfer over
a DataChannel costs one trip through the event loop (a ``select`` call, its
bookkeeping, a task wake-up for aiortc's DTLS reader) per UDP datagram, and
profiles of the receiving side show the loop itself as the largest single
cost. uvloop's UDP transport already reads up to 32 datagrams per wake-up;
this gives asyncio's the same behaviour on our ICE sockets only: aiortc's
DTLS reader then finds several datagrams queued and handles them in one step.

How: for each UDP transport of the connection's ICE agent that is exactly
asyncio's selector datagram transport, :func:`apply` re-registers the
socket's reader with a loop of up to :data:`BURST` ``recvfrom`` calls that
stops at the first ``BlockingIOError``; errors are handled exactly as the
stock reader does. Other transports (uvloop's, anything unknown) are left
alone, and Python versions whose reader we have not read are refused
(:data:`TESTED_PYTHON`). Besides :mod:`.gathering`, the one module that
touches aioice internals (its list of protocols). ``ACTR_PY_UDP_BURST=0``
turns it off (to measure the difference).
"""

from __future__ import annotations

import os
import sys
from asyncio import selector_events
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection

from .gathering import ice_gatherers

__all__ = ["BURST", "ENV_SWITCH", "TESTED_PYTHON", "apply", "install", "supported"]

#: Datagrams read per wake-up at most (uvloop reads 32).
BURST = 32
#: Python (major, minor) versions whose ``_SelectorDatagramTransport`` reader this mirrors.
TESTED_PYTHON: frozenset[tuple[int, int]] = frozenset({(3, 11), (3, 12), (3, 13)})

#: Environment switch: "0" leaves every socket on asyncio's one-datagram reader.
ENV_SWITCH = "ACTR_PY_UDP_BURST"

_STOCK = selector_events._SelectorDatagramTransport
_MARK = "_actr_py_burst_reads"


def supported(version: tuple[int, int] | None = None) -> bool:
    """Whether this Python's selector datagram transport is the one we mirror."""
    found = version if version is not None else sys.version_info[:2]
    return found in TESTED_PYTHON and callable(getattr(_STOCK, "_read_ready", None))


def _burst_reader(transport: Any) -> Callable[[], None]:
    sock = transport._sock
    protocol = transport._protocol

    def read_ready() -> None:
        # The stock reader, looped: same error handling, at most BURST datagrams.
        for _ in range(BURST):
            if transport._conn_lost:
                return
            try:
                data, addr = sock.recvfrom(transport.max_size)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                protocol.error_received(exc)
                return
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                transport._fatal_error(exc, "Fatal read error on datagram transport")
                return
            protocol.datagram_received(data, addr)

    return read_ready


def apply(pc: RTCPeerConnection) -> int:
    """Give every eligible ICE socket of ``pc`` burst reads; return how many now have them.

    Call once ICE is connected (every socket exists); calling again is harmless.
    """
    if not supported() or os.environ.get(ENV_SWITCH, "1").strip() in ("0", "false", "no", "off"):
        return 0
    count = 0
    for gatherer in ice_gatherers(pc):
        for protocol in getattr(gatherer._connection, "_protocols", ()):
            if install(getattr(protocol, "transport", None)):
                count += 1
    return count


def install(transport: Any) -> bool:
    """Switch one datagram transport to burst reads; False if it is not asyncio's own."""
    if type(transport) is not _STOCK or not supported():
        return False  # uvloop's (already reads bursts), closed, or something we do not know
    if getattr(transport, _MARK, False):
        return True
    if transport.is_closing():
        return False
    reader = _burst_reader(transport)
    transport._read_ready = reader  # also what pause/resume_reading re-register
    transport._loop._remove_reader(transport._sock_fd)
    transport._add_reader(transport._sock_fd, reader)
    setattr(transport, _MARK, True)
    return True
