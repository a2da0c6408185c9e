"""Restrict ICE host-candidate gathering to configured local addresses.

Why: aioice gathers on every interface it finds and deliberately skips
127.0.0.1 (``aioice.ice.get_host_addresses``). On a host where only loopback
may be used (tests, a single-machine deployment, a sandbox whose eth0 must
stay silent) that is exactly wrong, and aiortc offers no option for it.

How: aiortc creates one ``aioice.Connection`` per ICE transport and calls its
``gather_candidates()``, which passes the discovered addresses to
``get_component_candidates(component=..., addresses=...)``. We replace that
one method *on the instance* (no global monkeypatch, other peer connections
in the process are untouched) with a wrapper that substitutes our list. That
relies on aioice internals, so:

* :func:`check_supported` refuses aioice versions this was not tested with,
  and a missing ``addresses`` parameter, instead of silently gathering on
  every interface;
* :func:`verify_local_candidates` checks the outcome after gathering, so even
  an unexpected aioice change cannot leak another address into the SDP.

Only host candidates are affected; a configured STUN/TURN server would still
be contacted from sockets bound to these addresses.

The same seam sizes the UDP receive buffers (:func:`set_receive_buffer`).
aiortc's SCTP grows its congestion window without regard to the receiver
window, so a bulk transfer bursts more packets than aioice's 256 KiB socket
buffer holds; every overflow costs a retransmission timeout of at least one
second. A larger buffer (the kernel caps it at ``net.core.rmem_max``) removes
those stalls on a healthy path.
"""

from __future__ import annotations

import inspect
import logging
import socket
from collections.abc import Iterator, Sequence
from typing import Any

import aioice
from aiortc import RTCPeerConnection
from aiortc.rtcicetransport import RTCIceGatherer

from ...errors import ConfigError, StateError
from .versions import require_tested

__all__ = [
    "TESTED_AIOICE",
    "check_supported",
    "ice_gatherers",
    "restrict_gathering",
    "set_receive_buffer",
    "verify_local_candidates",
]

#: aioice (major, minor) versions whose gathering internals this module knows.
TESTED_AIOICE: frozenset[tuple[int, int]] = frozenset({(0, 13)})

_MARK = "_actr_py_ice_addresses"

logger = logging.getLogger(__name__)


def check_supported(version: str | None = None) -> None:
    """Raise ConfigError unless address restriction is known to work here."""
    found = version if version is not None else getattr(aioice, "__version__", "?")
    require_tested(
        "webrtc.ice_addresses", "aioice", found, TESTED_AIOICE, "actr_py/wire/webrtc/gathering.py"
    )
    params = inspect.signature(aioice.Connection.get_component_candidates).parameters
    if "addresses" not in params:
        raise ConfigError(
            "webrtc.ice_addresses: aioice.Connection.get_component_candidates "
            "no longer takes 'addresses'; address restriction cannot work"
        )


def ice_gatherers(pc: RTCPeerConnection) -> Iterator[RTCIceGatherer]:
    """Every ICE gatherer the peer connection has created so far."""
    seen: set[int] = set()
    transports = []
    if pc.sctp is not None:
        transports.append(pc.sctp.transport)
    transports.extend(t.receiver.transport for t in pc.getTransceivers())
    for dtls in transports:
        gatherer = dtls.transport.iceGatherer
        if id(gatherer) not in seen:
            seen.add(id(gatherer))
            yield gatherer


def restrict_gathering(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Make every ICE gatherer of ``pc`` bind host candidates to ``addresses`` only.

    Call after the transports exist (a DataChannel was created or a remote
    offer applied) and before ``setLocalDescription``, which gathers.
    """
    allowed = list(addresses)
    for gatherer in ice_gatherers(pc):
        connection: Any = gatherer._connection
        if getattr(connection, _MARK, None) is not None:
            continue
        if gatherer.state != "new":
            raise StateError("ICE gathering already ran; restrict it before setLocalDescription")
        original = connection.get_component_candidates

        async def restricted(
            component: int, addresses: list[str], timeout: int = 5, *, _orig: Any = original
        ) -> Any:
            return await _orig(component=component, addresses=allowed, timeout=timeout)

        connection.get_component_candidates = restricted
        setattr(connection, _MARK, tuple(allowed))


def verify_local_candidates(pc: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Raise StateError if a gathered host candidate is outside ``addresses``."""
    allowed = set(addresses)
    for gatherer in ice_gatherers(pc):
        for candidate in gatherer.getLocalCandidates():
            if candidate.type == "host" and candidate.ip not in allowed:
                raise StateError(
                    f"ICE gathered host candidate {candidate.ip}, outside ice_addresses "
                    f"{sorted(allowed)}: refusing to use it"
                )


def set_receive_buffer(pc: RTCPeerConnection, size: int) -> None:
    """Ask for ``size``-byte receive buffers on every gathered ICE socket."""
    for gatherer in ice_gatherers(pc):
        connection: Any = gatherer._connection
        for protocol in getattr(connection, "_protocols", ()):
            transport = getattr(protocol, "transport", None)
            sock = transport.get_extra_info("socket") if transport is not None else None
            if sock is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
            except OSError as exc:  # best effort: the default buffer still works
                logger.debug("SO_RCVBUF %d refused: %s", size, exc)
